"""Reporting: number formatting, figures and the report page."""
