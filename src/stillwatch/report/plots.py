"""The report's figures as inline SVG (matplotlib, Agg): drawn from the JSON twin's data only.

Each figure gets its own ``svg.hashsalt`` so element ids never collide between the figures of one page,
text stays text (``svg.fonttype: none``: searchable, small) and no metadata date is written, so the
same twin always gives the same bytes.
"""

from __future__ import annotations

import io
import re
from typing import Any

__all__ = ["timeline_svg", "volume_svg", "curve_svg", "pvalues_svg"]

_INK, _ACCENT, _MUTED, _WARN = "#1f2933", "#b42318", "#7b8794", "#1769aa"


def _fig(w: float = 7.0, h: float = 2.8) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(w, h), dpi=96)
    for s in ("top", "right"):
        ax.spines[s].set_visible(False)
    ax.tick_params(colors=_INK, labelsize=8)
    return fig, ax


def _svg(fig: Any, salt: str, title: str) -> str:
    import matplotlib
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": salt, "svg.fonttype": "none", "font.family": "DejaVu Sans"}):
        fig.tight_layout()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r'<svg ([^>]*?)width="[^"]*" height="[^"]*"', r'<svg \1', svg, count=1)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{title}" class="plot" ', 1)


def timeline_svg(bins: list[dict[str, Any]]) -> str:
    """Exhibited exchanges per hour (a step chart over the whole span, empty hours at zero; each non-empty
    hour also drawn as a stem, so a short burst stays visible on a long span)."""
    import numpy as np

    fig, ax = _fig()
    t = np.array([b["hour"][:13] for b in bins], dtype="datetime64[h]")
    n = np.array([b["exchanges"] for b in bins], dtype=float)
    span = np.arange(t.min(), t.max() + np.timedelta64(1, "h"), np.timedelta64(1, "h"))
    full = np.zeros(span.shape[0])
    full[(t - t.min()).astype(np.int64)] = n
    ax.fill_between(span, full, step="post", color=_ACCENT, alpha=0.85, lw=0)
    # an hour is a hair's width on a span of months: mark every non-empty hour so sparse bursts show
    ax.vlines(t, 0, n, color=_ACCENT, lw=1.2)
    ax.plot(t, n, "o", ms=3, color=_ACCENT)
    # the axis covers the activity (matplotlib widens a one-hour span to years otherwise)
    pad = max((span[-1] - span[0]) / 20, np.timedelta64(6, "h"))
    ax.set_xlim(span[0] - pad, span[-1] + np.timedelta64(1, "h") + pad)
    ax.set_ylabel("exchanges / hour", fontsize=8)
    ax.set_ylim(bottom=0)
    fig.autofmt_xdate()
    return _svg(fig, "timeline", "Timeline of exhibited exchanges per hour")


def volume_svg(campaigns: list[dict[str, Any]]) -> str:
    """Each campaign's volume as a multiple of the human-feasible rate (log scale), with the line at 1."""
    fig, ax = _fig(7.0, 0.5 + 0.32 * max(len(campaigns), 1))
    names = [c["campaign_id"][:32] for c in campaigns][::-1]
    vals = [max(float(c["human_rate_multiple"] or 0.0), 1e-4) for c in campaigns][::-1]
    ax.barh(names, vals, color=_ACCENT)
    ax.axvline(1.0, color=_WARN, ls="--", lw=1.2)
    ax.set_xscale("log")
    ax.set_xlabel("volume / human-feasible rate (1 = one person reading full-time)", fontsize=8)
    ax.tick_params(axis="y", labelsize=7)
    return _svg(fig, "volume", "Campaign volume against the human-feasible rate")


def curve_svg(results: list[dict[str, Any]], alpha: float) -> str:
    """p-value against the number of tuples scored, one line per radioactivity result."""
    fig, ax = _fig(7.0, 3.0)
    colours = {"suspect": _ACCENT, "control": _MUTED, "wrong-key": _WARN}
    for r in results:
        xs = [pt["n_tuples"] for pt in r["curve"]]
        ys = [max(pt["p_value"], 1e-300) for pt in r["curve"]]
        ax.plot(xs, ys, marker="o", ms=3, color=colours.get(r["role"], _INK), label=f"{r['role']} ({r['setting']})")
    ax.axhline(alpha, color=_INK, ls=":", lw=1, label="significance level")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("distinct (context, token) tuples scored", fontsize=8)
    ax.set_ylabel("p-value", fontsize=8)
    ax.legend(fontsize=7, frameon=False)
    return _svg(fig, "curve", "p-value against tuples scored")


def pvalues_svg(rows: list[dict[str, Any]], alpha: float) -> str:
    """Leaked texts' watermark p-values, sorted (log scale), with the significance level."""
    fig, ax = _fig(7.0, 2.4)
    ps = sorted(max(r["p_value"], 1e-300) for r in rows if r.get("p_value") is not None)
    ax.plot(range(1, len(ps) + 1), ps, marker="o", ms=3, lw=0, color=_ACCENT)
    ax.axhline(alpha, color=_INK, ls=":", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("leaked texts, most significant first", fontsize=8)
    ax.set_ylabel("p-value", fontsize=8)
    return _svg(fig, "pvalues", "Watermark p-values of the leaked texts")
