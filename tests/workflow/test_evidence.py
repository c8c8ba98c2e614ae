"""Evidence on orders and cases, on SQLite and PostgreSQL: a photo and a PDF round-trip byte for byte
with a thumbnail, a 20 MB photo is resized (orientation applied, GPS gone), anything that is not a
JPEG, PNG or PDF is refused with a message, the same file is stored once, township scoping holds,
and every attachment writes its audit row; the case's file (zip) and the visit form (.docx)."""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from datetime import date, datetime

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import insert, select

from fanpin import store
from fanpin.access.roles import SYSTEM, AccessDenied, Principal
from fanpin.core.i18n import translate
from fanpin.report.case_file import case_file
from fanpin.report.document import document_text
from fanpin.report.visit_form import month_figures, visit_form
from fanpin.store import schema as S
from fanpin.workflow import common, evidence, orders, procedure
from tests.conftest import insert_tiny_regions
from tests.workflow.chain import decide

T1, T2 = "990101001000", "990101002000"
V1, V2 = "990101001001", "990101002001"
HH = ["99010100100100001", "99010100100100002", "99010100200100003"]
ADMIN = Principal("u_admin", "admin")
CW1 = Principal("cw1", "case_worker", frozenset({T1}))
CW2 = Principal("cw2", "case_worker", frozenset({T2}))
TL1 = Principal("tl1", "township_leader", frozenset({T1}))
LEADER = Principal("boss", "leader")
STEWARD = Principal("steward", "data_steward")
PEOPLE = [("张三丰", "990101197001010011", "M", date(1970, 1, 1), "head"), ("李秀英", "990101197203040022", "F", date(1972, 3, 4), "spouse")]


def _db(url: str):
    engine = store.make_engine(url, create=True)
    store.upgrade(engine)
    with engine.begin() as conn:
        insert_tiny_regions(conn)
        conn.execute(insert(S.households), [
            {"household_id": h, "village_code": V1 if i < 2 else V2, "township_code": T1 if i < 2 else T2, "household_type": "ordinary", "size": 2,
             "relocated": False, "no_labour_guarantee": False, "in_cooperative": False, "phone": "13800001234"}
            for i, h in enumerate(HH)
        ])
        conn.execute(insert(S.members), [
            {"household_id": HH[0], "name": n, "id_number": i, "sex": s, "birth_date": b, "relation": r, "labour_capacity": "normal"} for n, i, s, b, r in PEOPLE
        ])
        store.set_meta(conn, "income_lines", json.dumps({"2025": 8100.0}))
    return engine


@pytest.fixture
def eng(db_url: str):
    e = _db(db_url)
    yield e
    e.dispose()


def jpeg(w: int = 640, h: int = 480, *, noise: bool = False, quality: int = 90, exif: Image.Exif | None = None, seed: int = 0) -> bytes:
    if noise:
        img = Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))
    else:
        img = Image.new("RGB", (w, h), (30 + seed, 120, 200))
        img.paste((240, 200, 40), (w // 4, h // 4, w // 2, h // 2))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, **({"exif": exif} if exif is not None else {}))
    return buf.getvalue()


def pdf() -> bytes:
    """A real one-page PDF (Pillow writes it), as a scanner would."""
    buf = io.BytesIO()
    Image.new("RGB", (595, 842), "white").save(buf, "PDF", resolution=72.0)
    return buf.getvalue()


def _order(eng, hid: str = HH[0]) -> int:
    return orders.create_order(eng, household_id=hid, assignee_kind="township", assignee=T1, principal=ADMIN)


def _audit(eng, action: str) -> list[tuple[str, dict]]:
    with eng.connect() as conn:
        a = S.audit_log.c
        rows = conn.execute(select(a.target, a.detail).where(a.action == action).order_by(a.audit_id)).all()
    return [(t, json.loads(d) if d else {}) for t, d in rows]


def _rows(eng) -> int:
    with eng.connect() as conn:
        return len(conn.execute(select(S.attachments.c.attachment_id)).all())


def test_a_photo_and_a_pdf_round_trip(eng) -> None:
    oid = _order(eng)
    photo, scan = jpeg(), pdf()
    a = evidence.attach(eng, "order", oid, "入户照片.jpg", photo, principal=CW1, now=datetime(2025, 6, 5, 10))
    b = evidence.attach(eng, "order", oid, "C:\\fakepath\\签字表.pdf", scan, principal=CW1)
    assert (a.mime, a.resized, a.duplicate, a.file_name, a.width, a.height) == ("image/jpeg", False, False, "入户照片.jpg", 640, 480)
    assert (b.mime, b.file_name, b.width) == ("application/pdf", "签字表.pdf", None)
    files = evidence.list_for(eng, "order", oid, principal=CW1)
    assert files["attachment_id"].tolist() == [a.attachment_id, b.attachment_id]
    assert "content" not in files.columns  # lists never read the files' bytes
    thumb = Image.open(io.BytesIO(files["thumbnail"].iloc[0]))
    assert thumb.format == "JPEG" and max(thumb.size) == evidence.THUMB_SIDE and len(files["thumbnail"].iloc[0]) < 30_000
    assert files["thumbnail"].iloc[1] is None
    for att, data in ((a, photo), (b, scan)):
        got = evidence.get(eng, att.attachment_id, principal=CW1)
        assert got["content"] == data  # byte for byte
        assert got["sha256"] == att.sha256 == hashlib.sha256(data).hexdigest() and got["size"] == len(data)
    rows = _audit(eng, "attachment_added")
    assert [t for t, _ in rows] == [HH[0], HH[0]]
    assert rows[0][1] == {"owner": f"order:{oid}", "attachment_id": a.attachment_id, "step": None, "mime": "image/jpeg", "size": len(photo),
                          "sha256": a.sha256, "resized_from": None}


def test_the_same_file_is_stored_once_per_owner(eng) -> None:
    oid, other = _order(eng), _order(eng, HH[1])
    photo = jpeg(seed=3)
    first = evidence.attach(eng, "order", oid, "a.jpg", photo, principal=ADMIN)
    again = evidence.attach(eng, "order", oid, "renamed.jpg", photo, principal=ADMIN)
    assert again.duplicate and again.attachment_id == first.attachment_id
    elsewhere = evidence.attach(eng, "order", other, "a.jpg", photo, principal=ADMIN)
    assert not elsewhere.duplicate and elsewhere.attachment_id != first.attachment_id
    assert _rows(eng) == 2 and len(_audit(eng, "attachment_added")) == 2


@pytest.fixture(scope="module")
def big_photo() -> bytes:
    """A phone's photo of more than 20 MB: 6000 x 4000 pixels of noise (JPEG cannot compress it),
    taken with the phone on its side (EXIF orientation 6) and carrying a GPS position."""
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to view
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (31.0, 14.0, 5.0), 3: "E", 4: (121.0, 28.0, 9.0)})
    data = jpeg(6000, 4000, noise=True, quality=90, exif=exif, seed=1)
    assert len(data) > 20 * 1024 * 1024, len(data)
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)  # the GPS is really there
    return data


def test_a_20mb_photo_is_resized(eng, big_photo) -> None:
    oid = _order(eng)
    t0 = time.perf_counter()
    a = evidence.attach(eng, "order", oid, "IMG_0001.JPG", big_photo, principal=CW1)
    took = time.perf_counter() - t0
    print(f"\n20 MB photo: {len(big_photo) / 1e6:.1f} MB -> {a.size / 1e6:.2f} MB, {a.width} x {a.height}, attach took {took:.2f} s")
    assert a.resized and a.original_size == len(big_photo) and a.size <= evidence.MAX_IMAGE_BYTES
    assert (a.width, a.height) == (1707, 2560)  # long side 2560, turned upright (the phone was on its side)
    stored = evidence.get(eng, a.attachment_id, principal=CW1)["content"]
    img = Image.open(io.BytesIO(stored))
    assert img.format == "JPEG" and img.size == (1707, 2560)
    assert not img.getexif().get_ifd(0x8825) and 0x0112 not in img.getexif() and 0x010F not in img.getexif()  # no GPS, no orientation, no metadata
    assert _audit(eng, "attachment_added")[0][1]["resized_from"] == len(big_photo)
    # the same photo again is recognised (the resizing is deterministic)
    assert evidence.attach(eng, "order", oid, "IMG_0001.JPG", big_photo, principal=CW1).duplicate


def test_a_big_png_scan_stays_png_when_small_enough() -> None:
    img = Image.new("L", (3000, 4200), 255)
    img.paste(0, (200, 200, 2800, 260))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    p = evidence.prepare(buf.getvalue(), "scan.png")
    assert p.resized and p.mime == "image/png" and (p.width, p.height) == (1829, 2560)
    assert evidence.clean_name("scan.png", p.mime) == "scan.png"


def _truncated_png_bomb(w: int = 20000, h: int = 20000) -> bytes:
    """A valid PNG header claiming 20,000 x 20,000 pixels: small on disk, 1.2 GB decoded."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 4096)) + chunk(b"IEND", b"")


REFUSED = [
    ("notes.txt", "家庭情况说明\n".encode() * 50, "not_allowed", "text"),
    ("setup.exe", b"MZ\x90\x00" + b"\x00" * 500, "not_allowed", "exe"),
    ("photos.zip", b"PK\x03\x04" + b"\x00" * 500, "not_allowed", "zip"),
    ("photo.jpg", b"MZ\x90\x00" + b"\x00" * 500, "not_allowed", "exe"),  # the name says photo, the content a program
    ("IMG_0002.HEIC", b"\x00\x00\x00\x18ftypheic" + b"\x00" * 500, "other_image", "heic"),
    ("anim.gif", b"GIF89a" + b"\x00" * 100, "other_image", "gif"),
    ("broken.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 300, "bad_image", None),
    ("half.pdf", b"%PDF-1.7\n1 0 obj\n", "bad_pdf", None),
    ("empty.pdf", b"", "empty_file", None),
    ("bomb.png", _truncated_png_bomb(), "image_too_big", None),
    ("wide.png", _truncated_png_bomb(9000, 9000), "image_too_big", None),  # under Pillow's own bomb limit, over ours
    ("huge.pdf", b"%PDF-1.4\n" + b"0" * (26 * 1024 * 1024) + b"\n%%EOF\n", "file_too_large", None),
]


@pytest.mark.parametrize(("name", "data", "code", "what"), REFUSED, ids=[r[0] for r in REFUSED])
def test_anything_but_a_photo_or_pdf_is_refused_with_a_message(name: str, data: bytes, code: str, what: str | None) -> None:
    with pytest.raises(evidence.EvidenceError) as err:
        evidence.prepare(data, name)
    assert err.value.code == code and err.value.code in evidence.ERROR_CODES
    if what:
        assert err.value.fields["what"] == what
    for lang in ("zh", "en"):
        text = evidence.refusal_message(err.value, lang)
        assert name in text and "{" not in text
    if code == "not_allowed":
        assert "JPEG、PNG" in evidence.refusal_message(err.value, "zh") and "PDF" in evidence.refusal_message(err.value, "zh")
        assert translate(f"file_kind.{what}", "zh") in evidence.refusal_message(err.value, "zh")


def test_a_refused_file_leaves_nothing(eng) -> None:
    oid = _order(eng)
    with pytest.raises(evidence.EvidenceError) as err:
        evidence.attach(eng, "order", oid, "virus.exe", b"MZ" + b"\x00" * 100, principal=CW1)
    assert evidence.refusal_message(err.value, "zh") == "「virus.exe」是可执行程序，不能作为佐证材料。只接受照片（JPEG、PNG）和 PDF 文件。"
    assert _rows(eng) == 0 and _audit(eng, "attachment_added") == []


def _case(eng) -> tuple[int, int]:
    oid = _order(eng)
    cid = decide(eng, oid, ADMIN, included=True, period=202506, category="marginal", risk_types=["illness"])
    return oid, cid


def test_who_may_attach_and_see(eng) -> None:
    oid, cid = _case(eng)
    photo, scan = jpeg(seed=5), pdf()
    # the township's case worker: the order and the case's village review (its signed record)
    evidence.attach(eng, "order", oid, "visit.jpg", photo, principal=CW1)
    rec = evidence.attach(eng, "case", cid, "村民代表会议记录.pdf", scan, step="village_review", principal=CW1)
    # another township's case worker: refused before the file is even read, and cannot look
    for call in (lambda: evidence.attach(eng, "order", oid, "x.jpg", jpeg(seed=6), principal=CW2),
                 lambda: evidence.attach(eng, "case", cid, "x.jpg", jpeg(seed=6), principal=CW2),
                 lambda: evidence.list_for(eng, "order", oid, principal=CW2),
                 lambda: evidence.list_for_case(eng, cid, principal=CW2),
                 lambda: evidence.get(eng, rec.attachment_id, principal=CW2)):
        with pytest.raises(AccessDenied) as err:
            call()
        assert err.value.code == "township"
    # the township leader attaches to the case (case_local), not to the order (no order_work)
    evidence.attach(eng, "case", cid, "公示照片.jpg", jpeg(seed=7), step="notice", principal=TL1)
    with pytest.raises(AccessDenied):
        evidence.attach(eng, "order", oid, "x.jpg", jpeg(seed=8), principal=TL1)
    # the county's leader attaches to the case (case_county) and reads everything; a data steward reads only
    evidence.attach(eng, "case", cid, "公告.pdf", pdf()[:-6] + b"\n%%EOF\n", step="county_approval", principal=LEADER)
    with pytest.raises(AccessDenied):
        evidence.attach(eng, "case", cid, "x.jpg", jpeg(seed=9), principal=STEWARD)
    assert len(evidence.list_for(eng, "order", oid, principal=STEWARD)) == 1
    both = evidence.list_for_case(eng, cid, principal=LEADER)
    assert sorted(zip(both["owner_kind"], both["step"].fillna(""))) == [("case", "county_approval"), ("case", "notice"), ("case", "village_review"), ("order", "")]
    # steps belong to cases, and only the procedure's
    with pytest.raises(evidence.EvidenceError) as err:
        evidence.attach(eng, "case", cid, "x.jpg", jpeg(seed=10), step="party", principal=CW1)
    assert err.value.code == "bad_step"
    with pytest.raises(evidence.EvidenceError) as err:
        evidence.attach(eng, "order", oid, "x.jpg", jpeg(seed=10), step="notice", principal=CW1)
    assert err.value.code == "bad_step"
    with pytest.raises(common.WorkflowError) as err:
        evidence.attach(eng, "order", 999, "x.jpg", jpeg(seed=10), principal=ADMIN)
    assert err.value.code == "no_order"
    with pytest.raises(evidence.EvidenceError) as err:
        evidence.attach(eng, "household", 1, "x.jpg", jpeg(seed=10), principal=ADMIN)
    assert err.value.code == "bad_owner"
    assert [d["owner"] for _, d in _audit(eng, "attachment_added")] == [f"order:{oid}", f"case:{cid}", f"case:{cid}", f"case:{cid}"]
    assert evidence.may_attach(CW1, "order", T1) and not evidence.may_attach(CW2, "order", T1) and not evidence.may_attach(TL1, "order")
    assert evidence.may_attach(LEADER, "case", T1) and not evidence.may_attach(STEWARD, "case")


def test_the_case_file_holds_a_masked_summary_and_the_evidence(eng) -> None:
    oid, cid = _case(eng)
    photo, scan = jpeg(seed=11), pdf()
    evidence.attach(eng, "order", oid, "张三丰家门口.jpg", photo, principal=CW1)
    rec = evidence.attach(eng, "case", cid, "评议记录.pdf", scan, step="village_review", principal=CW1)
    procedure.village_review(eng, cid, 1, passed=True, meeting_date=date.today(), document="村民代表会议记录第3号", principal=CW1)
    data = case_file(eng, cid, principal=CW1, lang="zh")
    z = zipfile.ZipFile(io.BytesIO(data))
    names = z.namelist()
    assert "summary.txt" in names and "SHA256SUMS" in names
    assert z.read(f"attachments/{rec.attachment_id:04d}_case{cid}_village_review.pdf") == scan
    assert [z.read(n) for n in names if n.startswith("attachments/") and n.endswith(".jpg")] == [photo]
    summary = z.read("summary.txt").decode("utf-8")
    assert HH[0] in summary and "张*" in summary and "李*" in summary and "村民代表会议记录第3号" in summary and "村级民主评议" in summary
    assert "张三丰" not in summary and "990101197001010011" not in summary  # masked names, ID numbers, and no user-given file names
    for line in z.read("SHA256SUMS").decode().splitlines():
        digest, name = line.split("  ")
        assert hashlib.sha256(z.read(name)).hexdigest() == digest
    assert _audit(eng, "unmask") == []
    # unmasked for a role that may, and logged; refused for one that may not or outside the townships
    full = zipfile.ZipFile(io.BytesIO(case_file(eng, cid, principal=CW1, unmask=True))).read("summary.txt").decode()
    assert "张三丰" in full and "张三丰家门口.jpg" in full
    assert [t for t, _ in _audit(eng, "unmask")] == [HH[0]]
    with pytest.raises(AccessDenied):
        case_file(eng, cid, principal=TL1, unmask=True)
    with pytest.raises(AccessDenied):
        case_file(eng, cid, principal=CW2)
    leader = zipfile.ZipFile(io.BytesIO(case_file(eng, cid, principal=LEADER, lang="en"))).read("summary.txt").decode()
    assert "Case #" in leader and "张" not in leader  # a leader does not see members at all


def test_the_visit_form_opens_and_masks(eng) -> None:
    oid = _order(eng)
    clue = orders.get_order(eng, oid, principal=SYSTEM)  # an order from a household ID alone: no clues
    assert clue["clue_ids"] == []
    doc = visit_form(eng, principal=TL1, household_id=HH[0], lang="zh", now=datetime(2025, 6, 5))
    text = document_text(doc)  # python-docx opens it
    assert "入户核查表" in text and HH[0] in text and "一镇" in text and "一村" in text
    assert "张*" in text and "李*" in text and "张三丰" not in text and "990101********0011" in text and "138****1234" in text
    assert "核查人（签字）" in text and "户主（签字或按手印）" in text and "2025-06-05" in text
    assert _audit(eng, "unmask") == []
    # a case worker prints full names for the visit, and that is logged
    full = document_text(visit_form(eng, principal=CW1, order_id=oid, lang="en"))
    assert "张三丰" in full and "990101197001010011" in full and "verification order" in full and HH[0] in full
    assert [(t, d["purpose"]) for t, d in _audit(eng, "unmask")] == [(HH[0], "visit_form")]
    with pytest.raises(AccessDenied):
        visit_form(eng, principal=CW2, household_id=HH[0])
    with pytest.raises(AccessDenied):
        visit_form(eng, principal=LEADER, household_id=HH[0])  # no household view
    assert month_figures(eng, HH[0]).indicators is None  # this tiny county has no panel yet
