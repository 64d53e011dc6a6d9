"""residency: a discrete-event simulator of cross-border access to protected user data."""

__version__ = "0.1.0"
