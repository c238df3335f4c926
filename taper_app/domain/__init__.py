"""Pure domain engine: equivalence, dose records, schedules and figures (no Qt, no SQL)."""
