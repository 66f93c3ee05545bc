"""The national theme's own record beyond the catalogue fields: its contact persons (personal
data: for national roles only, erasable) and its demo data (issue 14, part "theme")."""
