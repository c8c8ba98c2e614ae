"""The brief's charts: matplotlib (Agg) PNGs in memory, Chinese drawn with the Noto CJK font.

Offline by construction: Agg draws into a buffer and matplotlib reads only local
font files.  The CJK font is the one ``scripts/system-deps.sh`` installs
(fonts-noto-cjk); without it Chinese would come out as empty boxes, so the
charts refuse with a clear message instead (:class:`FontMissing`).
"""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from fanpin.core.i18n import label, translate
from fanpin.core.periods import format_period

if TYPE_CHECKING:
    from fanpin.report.brief import Brief

#: The CJK family asked for (matplotlib's font list, then fontconfig's ``fc-match``).
CJK_FAMILY = "Noto Sans CJK SC"
TIER_COLOURS = {"red": "#d62728", "yellow": "#f2b701", "green": "#2ca02c"}
DPI = 150


class FontMissing(RuntimeError):
    """No CJK font: Chinese text would render as boxes."""


@lru_cache(maxsize=1)
def cjk_font_path() -> str:
    """The file of the Noto Sans CJK SC font, via matplotlib's font list or ``fc-match``."""
    from matplotlib import font_manager as fm

    for f in fm.fontManager.ttflist:
        if f.name == CJK_FAMILY:
            return f.fname
    if shutil.which("fc-match"):
        out = subprocess.run(["fc-match", "-f", "%{family}\n%{file}", CJK_FAMILY], capture_output=True, text=True, timeout=10)
        family, _, path = out.stdout.partition("\n")
        if out.returncode == 0 and "CJK" in family and path:
            fm.fontManager.addfont(path.strip())
            return path.strip()
    raise FontMissing(f"the CJK font {CJK_FAMILY!r} is not installed, so Chinese cannot be drawn in the brief's charts; install it with scripts/system-deps.sh (Debian package fonts-noto-cjk)")


def _rc() -> dict:
    cjk_font_path()  # raises FontMissing
    return {"font.family": "sans-serif", "font.sans-serif": [CJK_FAMILY, "DejaVu Sans"], "axes.unicode_minus": False, "font.size": 9}


def _figure(width: float, height: float, ncols: int = 1):  # noqa: ANN202 - (matplotlib Figure, Axes)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols)
    return fig, axes


def _png(fig) -> bytes:  # noqa: ANN001 - a matplotlib Figure
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _style(ax) -> None:  # noqa: ANN001 - a matplotlib Axes
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)


def _months(periods: Iterable[int], lang: str) -> list[str]:
    return [format_period(p, "en") if lang == "en" else f"{p // 100 % 100:02d}/{p % 100:02d}" for p in periods]


def trend_chart(brief: Brief, lang: str) -> bytes:
    """Red and yellow households per month (left); mean score and share below the line (right)."""
    import matplotlib

    with matplotlib.rc_context(_rc()):
        fig, (a1, a2) = _figure(7.2, 2.8, 2)
        tr = brief.trend
        x = np.arange(len(tr))
        labels = _months(tr.index, lang)
        for tier in ("red", "yellow"):
            a1.plot(x, tr[tier].to_numpy(), color=TIER_COLOURS[tier], linewidth=1.8, label=label("tier", tier, lang))
        a1.set_title(translate("brief.chart.tiers", lang))
        a1.set_ylabel(translate("brief.chart.households", lang))
        a1.legend(frameon=False, loc="upper left")
        a2.plot(x, tr["mean_score"].to_numpy(), color="#34495e", linewidth=1.8, label=translate("brief.chart.score", lang))
        a2.set_title(translate("brief.chart.score", lang) + " / " + translate("brief.chart.below", lang), fontsize=8.5)
        b2 = a2.twinx()
        b2.plot(x, 100 * tr["below_line_share"].to_numpy(), color="#8e44ad", linewidth=1.4, linestyle="--", label=translate("brief.chart.below", lang))
        b2.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(decimals=1))
        a2.legend(handles=a2.get_lines() + b2.get_lines(), frameon=False, loc="upper left", fontsize=7.5)
        step = max(1, len(x) // 6)
        for ax in (a1, a2):
            _style(ax)
            ax.set_xticks(x[::step], labels[::step], rotation=0, fontsize=7.5)
            j = list(tr.index).index(brief.period)
            ax.axvline(j, color="#999999", linewidth=0.8, linestyle=":")
        b2.spines[["top"]].set_visible(False)
        return _png(fig)


def township_chart(brief: Brief, lang: str) -> bytes:
    """Each township's red share this month (bars, hot spots outlined) and last month (ticks)."""
    import matplotlib

    with matplotlib.rc_context(_rc()):
        tw = brief.townships.sort_values("red_share", ascending=True)
        fig, ax = _figure(7.2, 0.28 * len(tw) + 1.0)
        y = np.arange(len(tw))
        share = 100 * tw["red_share"].to_numpy(dtype=float)
        prev = share - 100 * tw["red_share_change"].to_numpy(dtype=float)
        hot = (tw["hotspot"] == "hot").to_numpy()
        ax.barh(y, share, color=np.where(hot, "#e74c3c", "#f1948a"), edgecolor=np.where(hot, "#8b0000", "none"), linewidth=np.where(hot, 1.6, 0), label=translate("brief.chart.this_month", lang))
        ok = np.isfinite(prev)
        ax.scatter(prev[ok], y[ok], marker="|", s=120, color="#333333", label=translate("brief.chart.last_month", lang), zorder=3)
        right = np.fmax(share, np.where(ok, prev, share))
        pad = 0.01 * float(np.nanmax(right)) if len(right) else 0.0
        for yi, v, r in zip(y, share, right):
            ax.text(r + pad, yi, f"{v:.1f}%", va="center", fontsize=7.5)
        ax.set_yticks(y, [brief.name(c, lang) for c in tw["township_code"]])
        ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(decimals=0))
        ax.set_title(translate(f"brief.chart.{brief.level}s", lang, month=format_period(brief.period, lang)))
        ax.legend(frameon=False, loc="lower right", fontsize=7.5)
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(axis="x", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        return _png(fig)


def clue_chart(brief: Brief, lang: str) -> bytes | None:
    """The month's clues by risk type (None when there are none)."""
    import matplotlib

    cl = brief.clues
    if cl.empty:
        return None
    by = cl.groupby("risk_type")["clues"].sum().sort_values()
    with matplotlib.rc_context(_rc()):
        fig, ax = _figure(7.2, 0.3 * len(by) + 1.0)
        y = np.arange(len(by))
        ax.barh(y, by.to_numpy(), color="#5d6d7e")
        for yi, v in zip(y, by.to_numpy()):
            ax.text(v, yi, f" {int(v)}", va="center", fontsize=7.5)
        ax.set_yticks(y, [label("risk", r, lang) for r in by.index])
        ax.set_title(translate("brief.chart.clues", lang))
        ax.set_xlabel(translate("brief.chart.count", lang))
        ax.spines[["top", "right"]].set_visible(False)
        return _png(fig)


def charts(brief: Brief, lang: str) -> dict[str, bytes]:
    """Every chart of the brief, by name (a chart with nothing to show is left out)."""
    out = {"trend": trend_chart(brief, lang), "townships": township_chart(brief, lang)}
    c = clue_chart(brief, lang)
    if c is not None:
        out["clues"] = c
    return out
