"""Supervision rules over the data (the checks inspectors and counties run)."""
