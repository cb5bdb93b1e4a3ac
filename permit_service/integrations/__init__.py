"""Two-way plant integration: detectors, feeds, gas readings, positioning, alarms and signed webhooks (DC-01..05)."""
