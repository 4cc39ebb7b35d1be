"""Everything that speaks HTTP to Sentry."""
