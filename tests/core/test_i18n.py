"""Both languages stay complete: every key the code asks for exists in Chinese and English."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from fanpin.core.i18n import LANGS, catalogue, label, translate
from fanpin.core.indicators import CATALOGUE, DEPARTMENTS, DIMENSIONS
from fanpin.engine.scoring import RISK_ORDER, TIERS

ROOT = Path(__file__).resolve().parents[2]
CALL = re.compile(r"""\bt\(\s*["']([A-Za-z0-9_.]+)["']""")
LBL = re.compile(r"""\blbl\(\s*["']([a-z_]+)["']\s*,\s*["']([A-Za-z0-9_]+)["']""")


def _sources() -> list[Path]:
    files = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")), *sorted((ROOT / "fanpin" / "ui").glob("*.py"))]
    return [f for f in files if f.exists()]


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_message_has_both_languages_with_the_same_placeholders() -> None:
    for key, texts in catalogue().items():
        for lang in LANGS:
            assert texts.get(lang, "").strip(), f"{key} has no {lang} text"
        assert _fields(texts["zh"]) == _fields(texts["en"]), f"{key}: placeholders differ between zh and en"


def test_every_key_the_code_uses_exists() -> None:
    missing = []
    for path in _sources():
        text = path.read_text(encoding="utf-8")
        for key in CALL.findall(text):
            if key not in catalogue():
                missing.append(f"{path.relative_to(ROOT)}: {key}")
        for kind, code in LBL.findall(text):
            if label(kind, code, "zh") == code and label(kind, code, "en") == code:
                missing.append(f"{path.relative_to(ROOT)}: lbl({kind}, {code})")
    assert not missing, "messages missing from fanpin/core/locales: " + ", ".join(missing)


def test_the_code_scan_finds_calls() -> None:
    """Guard against a scanner that silently finds nothing."""
    found = sum(len(CALL.findall(p.read_text(encoding="utf-8"))) for p in _sources())
    assert found >= 20


@pytest.mark.parametrize("code", ["db_missing", "db_corrupt", "db_empty", "db_old", "db_newer"])
def test_store_errors_have_messages(code: str) -> None:
    for lang in LANGS:
        assert translate(f"error.{code}", lang, path="x", current="0001", head="0002")


def test_domain_vocabulary_is_labelled() -> None:
    vocab = {
        "tier": TIERS,
        "risk": RISK_ORDER,
        "category": ("unstable_former_poor", "marginal", "sudden_hardship"),
        "channel": ("self_report", "cadre_visit", "department"),
        "household_type": ("former_poor", "ordinary"),
        "event": ("illness", "accident", "job_loss", "flood", "drought", "factory_closure", "price_crash", "school_entry"),
        "labour": ("normal", "weak", "lost", "none"),
        "role": ("leader", "analyst", "case_worker", "trainer", "data_steward", "admin"),
    }
    for kind, codes in vocab.items():
        for code in codes:
            zh, en = label(kind, code, "zh"), label(kind, code, "en")
            assert zh != code and en != code and zh != en, f"{kind}.{code}"
    for ind in CATALOGUE:
        assert label("indicator", ind.key, "zh") == ind.zh and label("indicator", ind.key, "en") == ind.en
    for code in DIMENSIONS:
        assert label("dimension", code, "zh") != label("dimension", code, "en")
    for code in DEPARTMENTS:
        assert label("department", code, "zh") != label("department", code, "en")


def test_chinese_is_the_default() -> None:
    assert translate("tier.red") == "红色"
    assert translate("tier.red", "fr") == "红色"  # unknown language falls back to Chinese
