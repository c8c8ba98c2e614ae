"""The password policy: long enough, not blank, not one of the passwords everyone tries first.

An attacker guessing online tries the most common passwords first; five attempts before the
lock-out are enough to hit ``12345678`` or ``password``.  The list shipped with the package
(``common_passwords.txt``) holds the 1,000 most common passwords of a public frequency list and
the ones most common in China; a password is compared with it case-insensitively.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

MIN_LENGTH = 8


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    text = resources.files("fanpin.access").joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def password_problem(password: str) -> str | None:
    """None for an acceptable password, else why not: ``short``, ``blank`` or ``common``."""
    if not password or not password.strip():
        return "blank"
    if len(password) < MIN_LENGTH:
        return "short"
    if password.strip().lower() in common_passwords() or len(set(password)) == 1:
        return "common"
    return None
