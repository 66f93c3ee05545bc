"""Theme-level external evaluations, their recommendations followed to an outcome, and the
follow-ups of ended projects (continuation: which practices are still in use)."""
