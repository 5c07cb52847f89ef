"""Observability: JSON logs, Prometheus metrics, traces."""
