"""Prometheus metrics of every tier, defined once (served at ``/metrics``).

Names follow Prometheus conventions; labels stay low-cardinality (never a game
id or a player id).
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

# api
API_REQUESTS = Counter(
    "meeple_api_requests_total",
    "HTTP requests answered by the api, by method, route template and status class.",
    ["method", "route", "status"],
)
API_LATENCY = Histogram(
    "meeple_api_request_duration_seconds",
    "From a request's arrival at the api to its response, by method, route and status class.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)

# gateway
CONNECTIONS = Gauge("meeple_connections", "Open WebSocket connections.")
MESSAGES_IN = Counter("meeple_messages_received_total", "Client frames received.", ["type"])
MESSAGES_OUT = Counter("meeple_messages_sent_total", "Frames sent to clients.")
FRAMES_REJECTED = Counter(
    "meeple_frames_rejected_total", "Client frames refused, by error code.", ["code"]
)
DISCONNECTS = Counter("meeple_disconnects_total", "Connections closed, by reason.", ["reason"])

# engine
MOVES = Counter("meeple_moves_total", "Moves accepted and committed.", ["game"])
COMMANDS = Counter("meeple_commands_total", "Game commands handled, by outcome.", ["outcome"])
MOVE_LATENCY = Histogram(
    "meeple_move_latency_seconds",
    "From a command's arrival at the engine to its commit (the ack follows).",
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
COMMIT_BATCH = Histogram(
    "meeple_commit_batch_events", "Events per store commit.", buckets=(1, 2, 5, 10, 20, 50, 100)
)
GAMES = Gauge("meeple_games", "Games held by this engine, by state.", ["state"])
OWNED_SHARDS = Gauge("meeple_owned_shards", "Shards whose lease this engine holds.")

# matchmaking
QUEUE_SIZE = Gauge("meeple_queue_size", "Players waiting, by game.", ["game"])
MATCHES = Counter("meeple_matches_total", "Games made by the matchmaker.", ["game"])


async def endpoint(_request: Request) -> Response:
    """``/metrics``: this process's metrics in Prometheus text."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
