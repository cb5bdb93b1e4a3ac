"""HTTP conventions every endpoint shares: ETags, idempotency keys, pagination, timestamps."""
