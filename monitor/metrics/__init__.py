"""Prometheus metrics of a worker; the Grafana boards as code."""
