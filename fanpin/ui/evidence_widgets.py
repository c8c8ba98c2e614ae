"""Evidence on the pages: an order's or a case's attachments as thumbnails with downloads, the
uploader for who may attach, the 入户核查表 (.docx) and a case's file (.zip).

One call draws it all (``evidence_panel``), from the order card of 预警处置 and from the case panel
of 监测台账 / 我的待办.  Every file leaves through the audited download path
(``fanpin.ui.downloads.download_file``): a photo downloads byte for byte as stored.  What the
upload said (added, resized, the same file again, refused and why) is shown in the panel itself,
next to the uploader, not at the top of a long page.
"""

from __future__ import annotations

from functools import partial

import pandas as pd
import streamlit as st

from fanpin.access.roles import AccessDenied, can
from fanpin.report.case_file import ZIP_MIME, case_file
from fanpin.report.export import DOCX_MIME
from fanpin.report.visit_form import visit_form
from fanpin.ui.downloads import download_file
from fanpin.ui.i18n import lang, lbl, lkey, t
from fanpin.ui.sidebar import Context
from fanpin.ui.text import md
from fanpin.ui.workflow_widgets import day_text, refusal_text
from fanpin.workflow import evidence
from fanpin.workflow.common import WorkflowError
from fanpin.workflow.procedure import STEPS

PER_ROW = 4


def _size(n: int) -> str:
    return f"{n / evidence.MB:.1f} MB" if n >= evidence.MB / 10 else f"{max(1, round(n / 1024))} KB"


def _messages_key(key: str) -> str:
    return f"_ev_msgs_{key}"


# ---- the uploader's callback (runs before the script; reads the uploader from the session state)
def on_attach(ctx: Context, owner_kind: str, owner_id: int, key: str) -> None:
    """Attach every file in the uploader; say what happened to each; empty the uploader."""
    ss = st.session_state
    n = ss.get(f"{key}_n", 0)
    files = ss.get(f"{key}_up_{n}") or []
    said: list[tuple[str, str]] = []
    if not files:
        ss[_messages_key(key)] = [("warning", t("evidence.pick_first"))]
        return
    step = ss.get(lkey(f"{key}_step")) if owner_kind == "case" else None
    added = 0
    for f in files:
        try:
            a = evidence.attach(ctx.engine, owner_kind, owner_id, f.name, f.getvalue(), step=step, principal=ctx.principal)
        except evidence.EvidenceError as exc:
            said.append(("error", evidence.refusal_message(exc, lang())))
            continue
        except (WorkflowError, AccessDenied) as exc:
            said.append(("error", refusal_text(exc)))
            continue
        if a.duplicate:
            said.append(("info", t("evidence.duplicate", name=a.file_name)))
            continue
        added += 1
        if a.resized:
            said.append(("info", t("evidence.resized", name=a.file_name, before=f"{a.original_size / evidence.MB:.1f}", after=f"{a.size / evidence.MB:.1f}")))
    if added:
        said.insert(0, ("success", t("evidence.added", n=added)))
    ss[_messages_key(key)] = said
    ss[f"{key}_n"] = n + 1  # a fresh, empty uploader


# ---- the panel
def evidence_panel(ctx: Context, owner_kind: str, owner_id: int, *, household_id: str, township: str | None = None) -> None:
    """An order's (with the 入户核查表 button) or a case's (with its file's export) evidence."""
    key = f"ev_{owner_kind}{int(owner_id)}"
    if owner_kind == "order":
        visit_form_button(ctx, f"{key}_visit", household_id=household_id, order_id=int(owner_id))
        files = evidence.list_for(ctx.engine, "order", int(owner_id), principal=ctx.principal)
    else:
        case_file_button(ctx, int(owner_id), household_id, f"{key}_file")
        files = evidence.list_for_case(ctx.engine, int(owner_id), principal=ctx.principal)
    said = st.session_state.pop(_messages_key(key), [])
    with st.expander(f"{t('evidence.title')} ({len(files)})", expanded=bool(len(files)) or bool(said)):
        for kind, text in said:
            getattr(st, kind)(md(text))
        gallery(ctx, files, key, owner_kind == "case")
        if evidence.may_attach(ctx.principal, owner_kind, township):
            uploader(ctx, owner_kind, int(owner_id), key)
        else:
            st.caption(t("evidence.view_only"))


def gallery(ctx: Context, files: pd.DataFrame, key: str, name_orders: bool = False) -> None:
    """Thumbnails (a PDF's mark), what each file is, a download button each (``name_orders``: say
    which files came from the verification order, in a case's list)."""
    if files.empty:
        st.caption(t("evidence.none"))
        return
    rows = files.to_dict("records")
    for start in range(0, len(rows), PER_ROW):
        for col, r in zip(st.columns(PER_ROW), rows[start:start + PER_ROW]):
            aid = int(r["attachment_id"])
            with col:
                if r["thumbnail"] is not None and len(r["thumbnail"]):
                    st.image(bytes(r["thumbnail"]))
                else:
                    st.markdown(t("evidence.pdf"))
                where = lbl("case_step", r["step"]) if r["step"] else (t("evidence.from_order", order=int(r["owner_id"])) if r["owner_kind"] == "order" and name_orders else "")
                st.caption(md(" · ".join(x for x in (r["file_name"], where) if x)))
                st.caption(t("evidence.meta", size=_size(int(r["size"])), who=md(lbl("role", r["uploaded_by"])), at=day_text(r["uploaded_at"], True)))
                ext = evidence.EXTENSIONS.get(r["mime"], (".bin",))[0].lstrip(".")
                download_file(
                    ctx, partial(_content, ctx.engine, ctx.principal, aid), r["file_name"], r["mime"], f"{key}_dl_{aid}", audit_name=f"attachment:{aid}",
                    fmt=ext, detail={"household_id": r["household_id"], "sha256": r["sha256"]}, label=t("evidence.download"),
                )


def _content(engine, principal, attachment_id: int) -> bytes:  # noqa: ANN001 - an Engine, a Principal
    return evidence.get(engine, attachment_id, principal=principal)["content"]


def uploader(ctx: Context, owner_kind: str, owner_id: int, key: str) -> None:
    n = st.session_state.get(f"{key}_n", 0)
    help_text = t("evidence.upload_help", limit=evidence.MAX_UPLOAD_BYTES // evidence.MB, side=evidence.MAX_SIDE, image_mb=evidence.MAX_IMAGE_BYTES // evidence.MB)
    # No type filter: the browser's own refusal would be in English and say less; the content decides.
    # The size cap is the browser's too, so a slow line does not carry 100 MB to hear "too large".
    st.file_uploader(t("evidence.upload"), accept_multiple_files=True, key=f"{key}_up_{n}", help=help_text,
                     max_upload_size=evidence.MAX_UPLOAD_BYTES // evidence.MB)
    if owner_kind == "case":
        st.selectbox(t("evidence.step"), [None, *STEPS], format_func=lambda s: t("evidence.whole_case") if s is None else lbl("case_step", s), key=lkey(f"{key}_step"))
    st.button(t("evidence.attach"), key=f"{key}_attach", on_click=on_attach, args=(ctx, owner_kind, owner_id, key))


# ---- the documents
def visit_form_button(ctx: Context, key: str, *, household_id: str, order_id: int | None = None) -> None:
    """The 入户核查表 (.docx) for a household, made on the click (names unmasked, and logged, for a
    role that may unmask); only for roles that may view households."""
    if not can(ctx.principal, "household_view"):
        return
    make = partial(visit_form, ctx.engine, principal=ctx.principal, household_id=household_id, order_id=order_id, lang=ctx.lang)
    name = f"{'入户核查表' if ctx.lang == 'zh' else 'visit_form'}_{household_id}.docx"
    download_file(
        ctx, make, name, DOCX_MIME, key, audit_name=f"visit_form:{household_id}", fmt="docx", detail={"household_id": household_id, "order_id": order_id},
        label=t("evidence.visit_form"), help=t("evidence.visit_form_help"),
    )


def case_file_button(ctx: Context, case_id: int, household_id: str, key: str) -> None:
    """The case's file (.zip: masked summary, attachments, checksums), made on the click."""
    make = partial(case_file, ctx.engine, int(case_id), principal=ctx.principal, lang=ctx.lang)
    download_file(
        ctx, make, f"case_{int(case_id)}_{household_id}.zip", ZIP_MIME, key, audit_name=f"case_file:{int(case_id)}", fmt="zip",
        detail={"household_id": household_id, "case_id": int(case_id)}, label=t("evidence.case_file"), help=t("evidence.case_file_help"),
    )
