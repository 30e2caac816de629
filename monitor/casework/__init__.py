"""Casework: the playbook, cases and their state machine, drills."""
