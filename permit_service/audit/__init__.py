"""The append-only, hash-chained record of everything that happened (AU-01, AU-02)."""
