"""A case's file (案卷) as one .zip: a summary in the user's language, the evidence, and checksums.

* ``summary.txt`` — the case (kind, origin, state, category and risks or the elimination's method),
  the household ID, its township and village, every step (who, when, result, date, document,
  reason), the members with masked names (unless ``unmask``, which needs the right and is logged),
  and the list of attachments;
* ``attachments/`` — the case's files and those of the verification order it came from, byte for
  byte as stored, named by number, owner and step (``0007_case12_village_review.jpg``): the name a
  user gave a file may carry a person's name, so it is listed in the summary only when unmasked;
* ``SHA256SUMS`` — ``sha256sum -c`` checks every file of the zip against what the database holds.

The download itself goes through the audited export path (``fanpin.ui.downloads.download_file``).
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import datetime

import pandas as pd
from sqlalchemy.engine import Engine

from fanpin.access.roles import Principal, can, require
from fanpin.core.i18n import label, translate
from fanpin.report.visit_form import region_names
from fanpin.workflow import evidence, procedure, profile
from fanpin.workflow.common import WorkflowError

ZIP_MIME = "application/zip"


def _day(v: object, with_time: bool = False) -> str:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return "—"
    return f"{pd.Timestamp(v):%Y-%m-%d %H:%M}" if with_time else f"{pd.Timestamp(v):%Y-%m-%d}"


def _ext(mime: str) -> str:
    return evidence.EXTENSIONS.get(mime, (".bin",))[0]


def entry_name(row: pd.Series | dict) -> str:
    """The attachment's name inside the zip: number, owner, step, extension (no user-given text)."""
    step = f"_{row['step']}" if row.get("step") else ""
    return f"attachments/{int(row['attachment_id']):04d}_{row['owner_kind']}{int(row['owner_id'])}{step}{_ext(row['mime'])}"


def case_file(engine: Engine, case_id: int, *, principal: Principal, lang: str = "zh", unmask: bool = False, now: datetime | None = None) -> bytes:
    """The case's file as zip bytes; refused unless the principal may export and see the household."""
    require(principal, "export")
    files = evidence.list_for_case(engine, int(case_id), principal=principal)  # checks the case and the household
    cases = procedure.cases(engine, principal=principal)
    cases = cases[cases["case_id"].astype(int) == int(case_id)]
    if cases.empty:
        raise WorkflowError("no_case", f"no case {case_id}")
    case = cases.iloc[0]
    hid = str(case["household_id"])
    if unmask:
        profile.unmask(engine, principal, hid, {"purpose": "case_file", "case_id": int(case_id)})
    steps = procedure.steps(engine, [int(case_id)], principal=principal)
    members = None
    if can(principal, "household_view"):
        detail = profile.household_detail(engine, hid, principal=principal)
        members = profile.members_masked(detail.members, unmask=unmask) if detail is not None else None
    buf = io.BytesIO()
    sums = []
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for row in files.to_dict("records"):
            data = evidence.get(engine, int(row["attachment_id"]), principal=principal)["content"]
            name = entry_name(row)
            z.writestr(zipfile.ZipInfo(name, _stamp(row["uploaded_at"])), data, compress_type=zipfile.ZIP_STORED)  # photos and PDFs are compressed already
            sums.append((row["sha256"], name))
        text = summary(case, steps, members, files, principal, lang, unmask, now or datetime.now(), region_names(engine, lang)).encode("utf-8")
        z.writestr("summary.txt", text)
        sums.append((hashlib.sha256(text).hexdigest(), "summary.txt"))
        z.writestr("SHA256SUMS", "".join(f"{h}  {n}\n" for h, n in sums))
    return buf.getvalue()


def _stamp(v: object) -> tuple[int, int, int, int, int, int]:
    ts = pd.Timestamp(v) if v is not None else pd.Timestamp("1980-01-01")
    return (max(ts.year, 1980), ts.month, ts.day, ts.hour, ts.minute, ts.second)


def summary(
    case: pd.Series, steps: pd.DataFrame, members: pd.DataFrame | None, files: pd.DataFrame, principal: Principal, lang: str, unmask: bool, at: datetime,
    names: dict[str, str] | None = None,
) -> str:
    """The case file's readable summary (plain text, one fact per line)."""
    def tr(key: str, **kw: object) -> str:
        return translate(key, lang, **kw)

    sep, names = ("、" if lang == "zh" else ", "), names or {}
    lines = [
        tr("casefile.title", case=int(case["case_id"]), kind=label("case_kind", case["kind"], lang), state=label("case_state", case["state"], lang)),
        tr("casefile.household", hid=case["household_id"], township=f"{names.get(case['township_code'], '')} {case['township_code']}".strip(),
           village=f"{names.get(case['village_code'], '')} {case['village_code']}".strip()),
        tr("casefile.origin", origin=label("case_origin", case["origin"], lang), period=int(case["period"])),
    ]
    if case["kind"] == "inclusion":
        risks = sep.join(label("risk", r, lang) for r in str(case["risk_types"] or "").split(",") if r) or "—"
        lines.append(tr("casefile.inclusion", category=label("category", case["category"], lang), risks=risks))
    else:
        lines.append(tr("casefile.elimination", method=label("elimination_method", case["method"], lang)))
    if case.get("order_id") is not None and pd.notna(case.get("order_id")):
        lines.append(tr("casefile.order", order=int(case["order_id"])))
    lines.append(tr("casefile.opened", who=case["opened_by"], at=_day(case["opened_at"], True)))
    lines.append(tr("casefile.exported", who=principal.actor, at=f"{at:%Y-%m-%d %H:%M}", masked=tr("casefile.unmasked" if unmask else "casefile.masked")))
    lines += ["", tr("casefile.steps")]
    for i, s in enumerate(steps.to_dict("records"), 1):
        parts = [label("case_step", s["step"], lang), label("case_result", s["result"], lang), _day(s["done_at"], True), s["done_by"]]
        if s.get("step_date") is not None and pd.notna(s.get("step_date")):
            parts.append(tr("casefile.step_date", day=_day(s["step_date"])))
        for key in ("document", "reason"):
            if s.get(key):
                parts.append(tr(f"casefile.step_{key}", text=str(s[key]).replace("\n", " ")))
        lines.append(f"  {i}. " + " · ".join(parts))
    lines += ["", tr("casefile.members")]
    if members is None:
        lines.append("  " + tr("casefile.no_member_right"))
    else:
        for m in members.to_dict("records"):
            lines.append("  " + " · ".join(str(x) for x in (m["name"], label("relation", m["relation"], lang), label("sex", m["sex"], lang), m["id_number"])))
    lines += ["", tr("casefile.attachments", n=len(files))]
    for r in files.to_dict("records"):
        where = label("case_step", r["step"], lang) if r.get("step") else tr(f"casefile.owner_{r['owner_kind']}", id=int(r["owner_id"]))
        parts = [entry_name(r), where, r["mime"], f"{int(r['size']):,} B", f"sha256 {r['sha256']}", r["uploaded_by"], _day(r["uploaded_at"], True)]
        if unmask:
            parts.append(tr("casefile.original_name", name=r["file_name"]))
        lines.append("  " + " · ".join(parts))
    return "\n".join(lines) + "\n"
