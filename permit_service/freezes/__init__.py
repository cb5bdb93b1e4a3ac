"""Freezes of special operations during holidays and major events (FZ-01..04)."""
