"""Reverie's version, in one place (read by the package metadata's consumers and every recipe)."""
__version__ = "0.1.0"
