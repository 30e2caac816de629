"""`python -m monitor` is the `guanchao` command."""

from monitor.cli import main

main()
