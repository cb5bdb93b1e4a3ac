"""The departments an enterprise has countersign excavations and road closures (EX-01, RC-01)."""
