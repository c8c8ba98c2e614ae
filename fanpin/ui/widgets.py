"""Small shared drawing constants for pages (tier colours)."""

from __future__ import annotations

TIER_COLOURS = {"red": "#d62728", "yellow": "#f2b701", "green": "#2ca02c"}
