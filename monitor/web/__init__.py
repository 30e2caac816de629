"""The worker's HTTP routes."""
