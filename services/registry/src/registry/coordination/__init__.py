"""The coordination project's work: steering-group meetings and service needs (issue 14)."""
