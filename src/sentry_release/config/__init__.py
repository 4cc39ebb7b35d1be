"""Settings: the model, parsing of raw values, the connection (rc file, org token)."""
