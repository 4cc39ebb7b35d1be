"""The deploy gate: policy and statistics (pure), Sentry reads, the watch loop, health probes."""
