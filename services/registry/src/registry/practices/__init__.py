"""Good practices and service models, their maturity with evidence, and their adoptions."""
