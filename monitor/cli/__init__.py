"""The `guanchao` command."""
