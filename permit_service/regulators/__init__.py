"""Regulator views: the report queue, the district overview, enterprise risk grades and notifications (RG-01/02)."""
