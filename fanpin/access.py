"""Personal data: masking rules (roles, login and audit arrive with the access-control issue).

Names become 张* (surname kept), ID numbers keep the first 6 and last 4
characters, phone numbers the first 3 and last 4.  Masking is the default
everywhere, downloads included.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

ROLES: tuple[str, ...] = ("leader", "analyst", "case_worker", "trainer", "data_steward", "admin")


def mask_name(name: str | None) -> str:
    if not name:
        return ""
    return name[0] + "*" * max(len(name) - 1, 1)


def mask_id_number(value: str | None) -> str:
    if not value:
        return ""
    if len(value) <= 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str | None) -> str:
    if not value:
        return ""
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


PERSONAL_COLUMNS = {"name": mask_name, "id_number": mask_id_number, "phone": mask_phone}


def mask_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with every personal column masked (vectorised over rows by ``Series.map``)."""
    out = frame.copy()
    for col, fn in PERSONAL_COLUMNS.items():
        if col in out.columns:
            out[col] = out[col].map(fn, na_action="ignore")
    return out


def is_masked(values: np.ndarray | pd.Series) -> bool:
    return all("*" in str(v) for v in values if v)


#: Which pages each role may open (enforced in the page guard; the access-control
#: issue moves this into login-backed checks on data loading too).
PAGES: tuple[str, ...] = ("overview", "map", "simulator", "profile", "clues", "register", "model", "training", "import", "quality", "admin")
ROLE_PAGES: dict[str, frozenset[str]] = {
    "leader": frozenset({"overview", "map", "simulator", "register", "model", "training", "quality"}),
    "analyst": frozenset({"overview", "map", "simulator", "profile", "clues", "register", "model", "training", "quality"}),
    "case_worker": frozenset({"overview", "map", "profile", "clues", "register", "training", "quality"}),
    "trainer": frozenset({"training", "overview", "map"}),
    "data_steward": frozenset({"overview", "map", "profile", "clues", "import", "quality"}),
    "admin": frozenset(PAGES),
}


@dataclass(frozen=True)
class Principal:
    """Who is acting: the logged-in user, their role and, for a case worker, the
    townships they may see (``None`` = all).  Domain functions that load or change
    household data take one so the rule is enforced where the data are, not only
    by hiding widgets."""

    username: str
    role: str
    townships: frozenset[str] | None = None
    display_name: str = ""

    @property
    def actor(self) -> str:
        """The name written to ``audit_log`` and to who/when columns."""
        return self.username


def can_open(role: str, page: str) -> bool:
    return page in ROLE_PAGES.get(role, frozenset())
