"""Package data: the shipped configs and fact base (mapped from configs/ and seeds/ at build time)."""
