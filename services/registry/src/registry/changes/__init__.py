"""Change history and the change feed: who changed what (before/after), and every change in commit order."""
