"""Who is inside a permit's risk area: check-in and check-out, headcount limits and their raises (HC-01..06, CS-05)."""
