"""Alert delivery: the playbook, message templates and the sinks alerts go to."""
