"""The monthly brief's download button on the overview page."""

from __future__ import annotations


def brief_download(ctx) -> None:  # noqa: ANN001
    """Offer the month's brief (.docx) and its tables (.xlsx) for download."""
