"""HTTP routes of the scorer."""
