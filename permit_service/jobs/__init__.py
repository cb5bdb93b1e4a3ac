"""High-risk jobs (Plan 27) and consent reports: reported to the regulator, consented, confirmed on site (HR-01..03)."""
