"""Lessons built on scenarios: a story in steps, narrated traces, computed answers, handouts."""
