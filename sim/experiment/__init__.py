"""Experiments: replications, executors, sweeps, sensitivity and attribution."""
