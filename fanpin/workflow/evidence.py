"""Evidence (佐证材料) on verification orders and cases: the visit's photos, scans of signed forms.

A case worker attaches a JPEG or PNG photo or a PDF to a verification order, or to a case of the
official procedure (``step`` names the chain step a file documents: the village meeting's signed
record, the notice).  What a file is, is read from its bytes, never from its name: JPEG and PNG
are opened and decoded with Pillow, a PDF must start with ``%PDF-`` and end with ``%%EOF``;
anything else is refused with a code whose message (``refusal_message``) says what is accepted.

* An upload over ``MAX_UPLOAD_BYTES`` is refused before it is decoded; an image of more than
  ``MAX_PIXELS`` pixels too (a decompression bomb is a small file).
* An image over ``MAX_IMAGE_BYTES`` or wider or taller than ``MAX_SIDE`` is resized (long side
  ``MAX_SIDE``, EXIF orientation applied, JPEG quality ``JPEG_QUALITY``): a phone's 20 MB photo
  becomes about 2 MB.  Re-encoding drops the metadata, the GPS position included (the colour
  profile is kept).  Anything within the limits is stored byte for byte as uploaded.
* Images get a JPEG thumbnail of at most ``THUMB_SIDE`` pixels; PDFs none.
* ``sha256`` is of the stored bytes; the same content attached twice to one owner is one row
  (``Attached.duplicate``), also when two uploads race (a unique index).

Who: attaching needs ``order_work`` (orders) or ``case_local``/``case_county`` (cases) and, for a
township role, the household in their townships; reading needs only that the principal may see
the household.  Each attachment writes an ``attachment_added`` audit row in its transaction.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from fanpin.access.roles import Principal, can, require_household
from fanpin.core.i18n import label, translate
from fanpin.core.text import strip_invisible
from fanpin.store import attachments as store
from fanpin.store import cases as case_store
from fanpin.store import orders as order_store
from fanpin.workflow.common import WorkflowError, actor_of, audit_change, check_access, read_scope, stamp_time
from fanpin.workflow.procedure import STEPS

MB = 1024 * 1024
#: Largest file accepted (before any resizing).
MAX_UPLOAD_BYTES = 25 * MB
#: Images above this size, or with a side longer than ``MAX_SIDE``, are resized.
MAX_IMAGE_BYTES = 4 * MB
MAX_SIDE = 2560
#: Images with more pixels are refused undecoded (a 10,000 x 8,000 scan is 80 million; Pillow
#: itself calls more than 89 million a decompression bomb).
MAX_PIXELS = 80_000_000
THUMB_SIDE = 240
JPEG_QUALITY = 85
THUMB_QUALITY = 80

OWNER_KINDS: tuple[str, ...] = ("order", "case")
JPEG, PNG, PDF = "image/jpeg", "image/png", "application/pdf"
MIMES: tuple[str, ...] = (JPEG, PNG, PDF)
EXTENSIONS: dict[str, tuple[str, ...]] = {JPEG: (".jpg", ".jpeg"), PNG: (".png",), PDF: (".pdf",)}
#: Refusals (messages ``evidence.err.<code>``).
ERROR_CODES: tuple[str, ...] = (
    "bad_owner", "bad_step", "empty_file", "file_too_large", "not_allowed", "other_image", "bad_image", "image_too_big", "bad_pdf",
    "no_attachment", "damaged",
)
#: What a refused file looks like (labels ``file_kind.<code>``), for the message.
FILE_KINDS: tuple[str, ...] = ("zip", "exe", "office", "gif", "webp", "heic", "bmp", "tiff", "text", "unknown")


class EvidenceError(WorkflowError):
    """A refused file or attachment; ``code`` is one of ``ERROR_CODES``."""


def refusal_message(exc: EvidenceError, lang: str = "zh") -> str:
    """The refusal in the user's language, with the file's name and what it looks like."""
    fields = dict(exc.fields)
    if "what" in fields:
        fields["what"] = label("file_kind", str(fields["what"]), lang)
    return translate(f"evidence.err.{exc.code}", lang, **fields)


# --------------------------------------------------------------------------- what a file is
def sniff(data: bytes) -> str | None:
    """The accepted type the bytes begin like (a MIME type), or None."""
    if data[:3] == b"\xff\xd8\xff":
        return JPEG
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return PNG
    if data[:5] == b"%PDF-":
        return PDF
    return None


def looks_like(data: bytes) -> str:
    """A refused file's kind (``FILE_KINDS``), so the message can say "this is a ZIP archive"."""
    head = data[:16]
    if head[:4] == b"PK\x03\x04":
        return "office" if b"[Content_Types].xml" in data[:2000] or b"word/" in data[:2000] else "zip"
    if head[:2] == b"MZ" or head[:4] == b"\x7fELF":
        return "exe"
    if head[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return "office"  # .doc, .xls
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"hevc", b"avif"):
        return "heic"
    if head[:2] == b"BM":
        return "bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    try:
        data[:4096].decode("utf-8")
        return "text"
    except UnicodeDecodeError:
        return "unknown"


@dataclass(frozen=True)
class Prepared:
    """A checked file as it is stored: its bytes, type, pixel size and thumbnail."""

    data: bytes
    mime: str
    width: int | None
    height: int | None
    thumbnail: bytes | None
    resized: bool
    original_size: int


def prepare(data: bytes, file_name: str = "") -> Prepared:
    """Check a file by its content and make what is stored (``EvidenceError`` when refused)."""
    data = bytes(data)
    name = clean_name(file_name)
    if not data:
        raise EvidenceError("empty_file", "the file is empty", name=name)
    if len(data) > MAX_UPLOAD_BYTES:
        raise EvidenceError(
            "file_too_large", f"{len(data)} bytes: more than {MAX_UPLOAD_BYTES}", name=name, size_mb=f"{len(data) / MB:.1f}", limit_mb=MAX_UPLOAD_BYTES // MB,
        )
    mime = sniff(data)
    if mime is None:
        what = looks_like(data)
        code = "other_image" if what in ("gif", "webp", "heic", "bmp", "tiff") else "not_allowed"
        raise EvidenceError(code, f"{name!r} is not a JPEG, PNG or PDF file ({what})", name=name, what=what)
    if mime == PDF:
        if b"%%EOF" not in data[-2048:]:
            raise EvidenceError("bad_pdf", f"{name!r} is not a complete PDF file", name=name)
        return Prepared(data, PDF, None, None, None, False, len(data))
    return _image(data, mime, name)


def _image(data: bytes, mime: str, name: str) -> Prepared:
    from PIL import Image, ImageOps, UnidentifiedImageError

    bad = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            if img.format != ("JPEG" if mime == JPEG else "PNG"):
                raise EvidenceError("bad_image", f"{name!r} is not a readable image", name=name)
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise EvidenceError("image_too_big", f"{name!r} has {w} x {h} pixels", name=name, limit=MAX_PIXELS // 1_000_000)
            resize = len(data) > MAX_IMAGE_BYTES or max(w, h) > MAX_SIDE
            if resize and mime == JPEG:  # decode at 1/2, 1/4 or 1/8 straight from the DCT: 3-4x faster
                scale = min(1.0, MAX_SIDE / max(w, h))
                img.draft(img.mode, (max(1, round(w * scale)), max(1, round(h * scale))))
            img.load()
            img = ImageOps.exif_transpose(img)
    except EvidenceError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise EvidenceError("image_too_big", f"{name!r}: {exc}", name=name, limit=MAX_PIXELS // 1_000_000) from exc
    except bad as exc:
        raise EvidenceError("bad_image", f"{name!r} is not a readable image: {exc}", name=name) from exc
    if resize:
        img.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
        stored, mime = _encode(img, mime)
    else:
        stored = data  # within the limits: kept byte for byte
    return Prepared(stored, mime, img.width, img.height, _thumbnail(img), resize, len(data))


def _flat(img):  # noqa: ANN001, ANN202 - PIL images
    """RGB or L, transparency laid on white (JPEG has no alpha)."""
    from PIL import Image

    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        out = Image.new("RGB", rgba.size, (255, 255, 255))
        out.paste(rgba, mask=rgba.getchannel("A"))
        return out
    return img if img.mode in ("RGB", "L") else img.convert("RGB")


def _encode(img, mime: str) -> tuple[bytes, str]:  # noqa: ANN001 - a PIL image
    """The resized image as stored: a PNG stays PNG when small enough, otherwise JPEG.  Nothing of
    the original's metadata is written but its colour profile."""
    icc = img.info.get("icc_profile")
    extra = {"icc_profile": icc} if icc else {}
    if mime == PNG:
        buf = io.BytesIO()
        img.save(buf, "PNG", **extra)
        if buf.tell() <= MAX_IMAGE_BYTES:
            return buf.getvalue(), PNG
    buf = io.BytesIO()
    _flat(img).save(buf, "JPEG", quality=JPEG_QUALITY, optimize=True, **extra)
    return buf.getvalue(), JPEG


def _thumbnail(img) -> bytes:  # noqa: ANN001 - a PIL image
    from PIL import Image

    small = _flat(img.copy())
    small.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    small.save(buf, "JPEG", quality=THUMB_QUALITY)
    return buf.getvalue()


def clean_name(file_name: str | None, mime: str | None = None) -> str:
    """The file's own name (no folders, no invisible or reserved characters, at most 100 characters
    before the extension), its extension the stored type's."""
    name = strip_invisible(str(file_name or "")).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch not in '<>:"|?*\t\n').strip().strip(".") or "attachment"
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    if mime is None:
        return stem[:100] + (f".{ext[:10]}" if ext else "")
    ok = EXTENSIONS[mime]
    if f".{ext.lower()}" in ok:
        return f"{stem[:100]}.{ext}"
    if f".{ext.lower()}" not in {e for es in EXTENSIONS.values() for e in es}:
        stem = name  # "扫描件.2024" keeps its dots
    return stem[:100] + ok[0]


# --------------------------------------------------------------------------- attaching
@dataclass(frozen=True)
class Attached:
    """What ``attach`` stored (or found already stored: ``duplicate``)."""

    attachment_id: int
    duplicate: bool
    file_name: str
    mime: str
    size: int
    original_size: int
    resized: bool
    sha256: str
    width: int | None = None
    height: int | None = None


def _owner_household(conn: Connection, owner_kind: str, owner_id: int) -> str:
    if owner_kind == "order":
        row = order_store.order_row(conn, int(owner_id))
        if row is None:
            raise WorkflowError("no_order", f"no order {owner_id}")
    elif owner_kind == "case":
        row = case_store.case_row(conn, int(owner_id))
        if row is None:
            raise WorkflowError("no_case", f"no case {owner_id}")
    else:
        raise EvidenceError("bad_owner", f"attachments belong to an order or a case, not {owner_kind!r}")
    return str(row["household_id"])


def may_attach(principal: Principal, owner_kind: str, township_code: str | None = None) -> bool:
    """Whether the page offers the uploader (``attach`` checks again, the household included)."""
    if owner_kind == "order":
        return can(principal, "order_work") and principal.sees(township_code) if township_code else can(principal, "order_work")
    local = can(principal, "case_local") and (township_code is None or principal.sees(township_code))
    return local or can(principal, "case_county")


def _may_attach(principal: Principal, conn: Connection, owner_kind: str, household_id: str) -> None:
    if owner_kind == "order":
        permission = "order_work"
    else:  # the township's steps, or the county's approval
        permission = "case_local" if can(principal, "case_local") else "case_county"
    check_access(principal, permission, conn, household_id)


def attach(
    engine: Engine, owner_kind: str, owner_id: int, file_name: str, data: bytes, *, step: str | None = None, principal: Principal,
    now: datetime | None = None,
) -> Attached:
    """Attach a photo or PDF to an order or a case (``step``: which chain step of a case it
    documents).  Refused (``AccessDenied``) before the file is read for whoever may not attach
    there; a file that is not a JPEG, PNG or PDF, or too large, is refused (``EvidenceError``)."""
    at, actor = stamp_time(now), actor_of(principal)
    if owner_kind not in OWNER_KINDS:
        raise EvidenceError("bad_owner", f"attachments belong to an order or a case, not {owner_kind!r}")
    if step is not None and (owner_kind != "case" or step not in STEPS):
        raise EvidenceError("bad_step", f"not a step of the procedure: {step!r}", step=str(step))
    with engine.connect() as conn:
        household_id = _owner_household(conn, owner_kind, owner_id)
        _may_attach(principal, conn, owner_kind, household_id)
    p = prepare(data, file_name)
    digest = hashlib.sha256(p.data).hexdigest()
    name = clean_name(file_name, p.mime)
    out = Attached(0, False, name, p.mime, len(p.data), p.original_size, p.resized, digest, p.width, p.height)
    values = {
        "owner_kind": owner_kind, "owner_id": int(owner_id), "step": step, "household_id": household_id, "file_name": name, "mime": p.mime,
        "size": len(p.data), "original_size": p.original_size if p.resized else None, "sha256": digest, "content": p.data,
        "thumbnail": p.thumbnail, "width": p.width, "height": p.height, "uploaded_by": actor, "uploaded_at": at,
    }
    try:
        with engine.begin() as conn:
            same = store.find_same(conn, owner_kind, owner_id, digest)
            if same is not None:
                return _as_duplicate(out, same)
            aid = store.insert_attachment(conn, values)
            detail = {"owner": f"{owner_kind}:{owner_id}", "attachment_id": aid, "step": step, "mime": p.mime, "size": len(p.data), "sha256": digest,
                      "resized_from": p.original_size if p.resized else None}
            audit_change(conn, principal, "attachment_added", household_id, detail, at)
    except IntegrityError:  # the same file from a second click at the same moment: one row
        same = store.find_same(engine, owner_kind, owner_id, digest)
        if same is None:
            raise
        return _as_duplicate(out, same)
    return Attached(aid, False, name, p.mime, len(p.data), p.original_size, p.resized, digest, p.width, p.height)


def _as_duplicate(out: Attached, attachment_id: int) -> Attached:
    return Attached(attachment_id, True, out.file_name, out.mime, out.size, out.original_size, out.resized, out.sha256, out.width, out.height)


# --------------------------------------------------------------------------- reading
def list_for(engine: Engine, owner_kind: str, owner_id: int, *, principal: Principal) -> pd.DataFrame:
    """An order's or a case's attachments, oldest first: every column but the file's bytes
    (``thumbnail`` included); refused unless the principal may see the household."""
    read_scope(principal)
    with engine.connect() as conn:
        household_id = _owner_household(conn, owner_kind, owner_id)
        require_household(principal, conn, household_id)
        return store.attachment_frame(conn, [(owner_kind, int(owner_id))])


def list_for_case(engine: Engine, case_id: int, *, principal: Principal) -> pd.DataFrame:
    """A case's attachments and those of the verification order it came from, oldest first."""
    read_scope(principal)
    with engine.connect() as conn:
        case = case_store.case_row(conn, int(case_id))
        if case is None:
            raise WorkflowError("no_case", f"no case {case_id}")
        require_household(principal, conn, case["household_id"])
        owners = [("case", int(case_id))] + ([("order", int(case["order_id"]))] if case["order_id"] is not None else [])
        return store.attachment_frame(conn, owners)


def get(engine: Engine, attachment_id: int, *, principal: Principal) -> dict:
    """One attachment with its bytes (``content``), checked against its SHA-256; refused unless the
    principal may see the household.  Downloads go through the audited export path."""
    read_scope(principal)
    with engine.connect() as conn:
        row = store.attachment_row(conn, int(attachment_id))
        if row is None:
            raise EvidenceError("no_attachment", f"no attachment {attachment_id}")
        require_household(principal, conn, row["household_id"])
    if hashlib.sha256(row["content"]).hexdigest() != row["sha256"]:
        raise EvidenceError("damaged", f"attachment {attachment_id} does not match its SHA-256", name=row["file_name"])
    return row
