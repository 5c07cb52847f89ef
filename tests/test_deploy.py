"""The deploy/ recipes name only commands and settings that exist.

Docker and Kubernetes cannot run on the development machine, so these recipes are
checked for shape: every role's command is a ``meeple`` command, every ``MEEPLE_*``
variable is a setting (or one of the nginx template's own placeholders), probes hit
the roles' real endpoints, the router sends ``/api/`` and ``/ws`` to the right pools,
and every metric an alert rule reads is one meeple exports.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import Counter, Gauge, Histogram

from meeple.cli import COMMANDS
from meeple.obs import metrics
from meeple.settings import Settings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
ROLES = ("api", "gateway", "engine")
SETTINGS = {f"MEEPLE_{name.upper()}" for name in Settings.model_fields}
TEMPLATE = (DEPLOY / "nginx" / "nginx.conf.template").read_text()
NGINX_VARS = set(re.findall(r"\$\{(MEEPLE_\w+)\}", TEMPLATE))
RENDER = DEPLOY / "nginx" / "render"
TLS_LINE = re.compile(r"^\s*#tls ", re.M)  # the template's optional TLS lines
# What the template needs without TLS (deploy/nginx/README.md shows real values).
NGINX_REQUIRED = {
    "MEEPLE_NGINX_LISTEN": "8080",
    "MEEPLE_API_SERVERS": "server 127.0.0.1:8001;",
    "MEEPLE_GATEWAY_SERVERS": "server 127.0.0.1:8011;",
    "MEEPLE_WEB_ROOT": "/srv/meeple/static",
    "MEEPLE_NGINX_CONN_PER_ADDRESS": "100",
}


def _meeple_names(names: Any) -> set[str]:
    return {n for n in names if n.startswith("MEEPLE_")}


def test_compose_runs_every_role_twice_from_one_image_with_known_settings() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services: dict[str, dict[str, Any]] = compose["services"]
    roles: dict[str, int] = {}
    images = set()
    for name, service in services.items():
        if name in ("postgres", "redis", "nginx"):
            continue
        command = service["command"]
        assert command[0] in COMMANDS, (name, command)
        roles[command[0]] = roles.get(command[0], 0) + 1
        images.add(service["image"])
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        env = service["environment"]
        assert _meeple_names(env) <= SETTINGS, (name, _meeple_names(env) - SETTINGS)
        assert {"MEEPLE_DATABASE_URL", "MEEPLE_REDIS_URL", "MEEPLE_SIGNING_KEY"} <= set(env)
        assert env["MEEPLE_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert roles == {"api": 2, "gateway": 2, "engine": 2, "migrate": 1}
    assert len(images) == 1  # one image, the role is the command
    assert {"postgres", "redis", "nginx"} <= set(services)
    nginx_env = services["nginx"]["environment"]
    assert _meeple_names(nginx_env) <= NGINX_VARS
    for pool, role in (("MEEPLE_API_SERVERS", "api"), ("MEEPLE_GATEWAY_SERVERS", "gateway")):
        hosts = re.findall(r"server ([\w-]+):8000", nginx_env[pool])
        assert sorted(hosts) == [f"{role}-1", f"{role}-2"]
        assert all(host in services for host in hosts)


def test_dockerfile_installs_the_project_and_sets_only_known_settings() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert "pip wheel" in text and 'ENTRYPOINT ["meeple"]' in text
    names = set(re.findall(r"\b(MEEPLE_\w+)=", text))
    assert names, text
    assert names <= SETTINGS | NGINX_VARS, names - SETTINGS - NGINX_VARS
    # The router renders the template with deploy/nginx/render, as the tests do.
    assert "COPY deploy/nginx/nginx.conf.template deploy/nginx/render /etc/meeple/" in text
    assert "/etc/meeple/render > /etc/meeple/nginx.conf && nginx -t" in text


def _render(**values: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEEPLE_")}
    return subprocess.run(
        [str(RENDER)],
        env={**env, **NGINX_REQUIRED, **values},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_nginx_render_substitutes_exactly_the_template_placeholders() -> None:
    script = RENDER.read_text()
    lists = re.findall(r'^(?:REQUIRED|TLS)="([^"]*)"', script, re.M)
    assert {name for names in lists for name in names.split()} == NGINX_VARS
    done = _render()
    assert done.returncode == 0, done.stderr
    assert "${MEEPLE_" not in done.stdout
    assert "$proxy_add_x_forwarded_for" in done.stdout  # nginx's own variables stay


def test_nginx_tls_lines_are_rendered_only_with_a_certificate() -> None:
    plain = _render()
    assert plain.returncode == 0, plain.stderr
    assert not TLS_LINE.search(plain.stdout)
    assert "ssl_" not in plain.stdout and " 308 " not in plain.stdout
    tls = _render(MEEPLE_NGINX_TLS_CERT="/etc/tls/chain.pem", MEEPLE_NGINX_TLS_KEY="/etc/tls/k.pem")
    assert tls.returncode == 0, tls.stderr
    assert not TLS_LINE.search(tls.stdout)
    lines = {line.strip() for line in tls.stdout.splitlines()}
    assert "listen 443 ssl http2;" in lines  # the defaults of render
    assert "return 308 https://$host$request_uri;" in lines
    assert {
        "ssl_certificate /etc/tls/chain.pem;",
        "ssl_certificate_key /etc/tls/k.pem;",
        "ssl_protocols TLSv1.2 TLSv1.3;",
        "add_header Strict-Transport-Security $meeple_hsts always;",
    } <= lines
    # A certificate without its key (or the other way round) is a mistake, not HTTP.
    half = _render(MEEPLE_NGINX_TLS_CERT="/etc/tls/chain.pem")
    assert half.returncode == 2 and "MEEPLE_NGINX_TLS_KEY" in half.stderr
    missing = _render(MEEPLE_WEB_ROOT="")
    assert missing.returncode == 2 and "MEEPLE_WEB_ROOT" in missing.stderr


def _k8s() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def test_k8s_deployments_probe_the_roles_and_services_select_them() -> None:
    docs = _k8s()
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    assert set(deployments) == {f"meeple-{role}" for role in ROLES}
    for role in ROLES:
        deployment = deployments[f"meeple-{role}"]
        spec = deployment["spec"]
        assert spec["replicas"] >= 2
        labels = spec["template"]["metadata"]["labels"]
        assert spec["selector"]["matchLabels"].items() <= labels.items()
        (container,) = spec["template"]["spec"]["containers"]
        assert container["args"] == [role] and role in COMMANDS
        port = container["ports"][0]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"]["port"] in (port["name"], port["containerPort"])
        sources = {
            s.get("configMapRef", s.get("secretRef", {})).get("name") for s in container["envFrom"]
        }
        assert sources == {"meeple-config", "meeple-secrets"}
        # Every role serves /metrics on its own port (scraped per pod, not through nginx).
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/path"] == "/metrics"
        assert int(annotations["prometheus.io/port"]) == port["containerPort"]
        service = services[f"meeple-{role}"]
        assert service["spec"]["selector"].items() <= labels.items()
        assert service["spec"]["ports"][0]["targetPort"] in (port["name"], port["containerPort"])
    (config,) = [d for d in docs if d["kind"] == "ConfigMap"]
    assert _meeple_names(config["data"]) <= SETTINGS
    (job,) = [d for d in docs if d["kind"] == "Job"]
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]


def test_k8s_ingress_routes_api_and_ws() -> None:
    (ingress,) = [d for d in _k8s() if d["kind"] == "Ingress"]
    routes = {
        p["path"]: (p["pathType"], p["backend"]["service"]["name"])
        for rule in ingress["spec"]["rules"]
        for p in rule["http"]["paths"]
    }
    assert routes == {"/api/": ("Prefix", "meeple-api"), "/ws": ("Exact", "meeple-gateway")}


def test_nginx_proxies_only_api_and_ws_and_refuses_metrics() -> None:
    locations = re.findall(r"location\s+([^{]+?)\s*\{(.*?)\n        \}", TEMPLATE, re.S)
    proxied = {where for where, body in locations if "proxy_pass" in body}
    assert proxied == {"/api/", "= /ws"}  # /metrics of every role stays off the router
    metrics_block = dict(locations)["= /metrics"]
    assert "return 404" in metrics_block


def _exported_metric_names() -> set[str]:
    names: set[str] = set()
    for value in vars(metrics).values():
        if isinstance(value, Counter):
            names |= {f"{value._name}_total"}  # exposition name of a counter
        elif isinstance(value, Histogram):
            names |= {f"{value._name}{s}" for s in ("_bucket", "_sum", "_count")}
        elif isinstance(value, Gauge):
            names.add(value._name)
    return names


def test_alert_rules_parse_and_read_only_exported_metrics() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    exported = _exported_metric_names()
    seen: set[str] = set()
    alerts = []
    for group in rules["groups"]:
        assert group["name"] and group["rules"]
        for rule in group["rules"]:
            alerts.append(rule["alert"])
            assert re.fullmatch(r"[A-Z][A-Za-z]+", rule["alert"])
            assert rule["labels"]["severity"] in ("page", "ticket")
            assert rule["annotations"]["summary"]
            assert re.fullmatch(r"\d+[smh]", rule.get("for", "0s"))
            expr = rule["expr"]
            assert expr.count("(") == expr.count(")"), expr
            used = set(re.findall(r"\bmeeple_\w+", expr))
            assert used <= exported, (rule["alert"], used - exported)
            seen |= used
    assert len(alerts) == len(set(alerts))
    # Every meeple metric family that signals trouble is alerted on.
    families = {re.sub(r"_(bucket|sum|count)$", "", n) for n in seen}
    for needed in ("meeple_owned_shards", "meeple_move_latency_seconds", "meeple_moves_total"):
        assert needed in families, families
