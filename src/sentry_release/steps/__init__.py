"""The pipeline steps; each takes (settings, api, repo) and returns a typed result."""
