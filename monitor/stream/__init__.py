"""The Faust adapter: the app, its agents, tables and timers; the broker."""
