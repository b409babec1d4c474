"""Product recommendations from the mirror."""
