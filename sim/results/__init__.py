"""Results: the record of a scenario, run folders and the SQLite store of sweeps."""
