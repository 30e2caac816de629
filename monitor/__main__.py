"""`python -m monitor` is the `guanchao` command."""

from monitor.cli.main import main

main()
