"""Offline reports: `guanchao analyze` and the post-incident review."""
