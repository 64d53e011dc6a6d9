"""Metrics: what a replication records, and the statistics over replications."""
