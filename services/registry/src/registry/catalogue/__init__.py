"""Programmes, national themes and calls for proposals: national records kept by coordinators,
and a theme's funding overview."""
