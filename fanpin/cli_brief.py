"""`fanpin brief --period YYYY-MM --out brief.docx` (sub-command registered by ``fanpin.cli.build_parser``)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the sub-command to ``fanpin``'s parser (``common`` carries ``--db``)."""
