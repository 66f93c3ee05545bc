"""Organisations: business ID checked, kinds, size classes, and succession (ELY -> elinvoimakeskus)."""
