"""Project outputs (tuotokset) and lessons learned / recommendations, with history and events."""
