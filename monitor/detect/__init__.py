"""Detection: the comment record, counting in the rolling hour, rules, incidents, the stages."""
