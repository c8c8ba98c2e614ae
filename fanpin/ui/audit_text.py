"""The audit log's detail as a reader reads it: labelled fields in the user's language, codes as
labels, instead of the stored JSON with English keys.  The stored detail stays JSON (a code
vocabulary, for the hash chain and for tools); only the screen and the download are rendered."""

from __future__ import annotations

import json

from fanpin.core.i18n import catalogue
from fanpin.ui.i18n import lbl, t

#: Detail fields whose values are codes of a vocabulary (its label kind).
CODE_FIELDS = {
    "role": "role", "kind": "case_kind", "step": "case_step", "result": "case_result", "method": "elimination_method", "decision": "decision",
    "category": "category", "reason_code": "audit_reason", "state": "case_state",
}


def _field(key: str) -> str:
    return t(f"audit_key.{key}") if f"audit_key.{key}" in catalogue() else key


def _value(key: str, value: object) -> str:
    if isinstance(value, bool):
        return t("audit_key.yes") if value else t("audit_key.no")
    if isinstance(value, list):
        return "、".join(_value(key, v) for v in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{_field(k)}={_value(k, v)}" for k, v in value.items())
    if value is None or value == "":
        return "—"
    if key in CODE_FIELDS and isinstance(value, str):
        try:
            return lbl(CODE_FIELDS[key], value)
        except KeyError:
            return value
    if key == "risk_types" and isinstance(value, str):
        return "、".join(lbl("risk", r) for r in value.split(",") if r)
    return str(value)


def detail_text(detail: object) -> str:
    """One entry's detail: "字段: 值; ..." (plain text as stored when it is not JSON)."""
    if detail is None or (isinstance(detail, float) and detail != detail):
        return ""
    try:
        data = json.loads(detail) if isinstance(detail, str) else detail
    except ValueError:
        return str(detail)
    if not isinstance(data, dict):
        return str(detail)
    return "; ".join(f"{_field(k)}: {_value(k, v)}" for k, v in data.items())
