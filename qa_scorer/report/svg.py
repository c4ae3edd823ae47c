"""Inline SVG charts for report.html, drawn in Python so the report needs no JS chart library.

Both charts take already-aggregated numbers (a handful of bins), so their cost does not
depend on the size of the audit.

report.html puts the returned SVG into its (autoescaped) template as Markup, unescaped, so
this module escapes every text it writes itself: each agent name and label goes through
``html.escape`` below; everything else is a number formatted here or a constant.
"""

from __future__ import annotations

from html import escape

import numpy as np
import pandas as pd

from qa_scorer.i18n import N_, _
from qa_scorer.report.common import fmt_seconds, number

GREEN, AMBER, RED, DARK_RED, GREY = "#2e9d5b", "#e0a100", "#d9534f", "#8e2a27", "#8a94a6"

#: Response-time bins (seconds, right-inclusive) and their colours; the same cut-offs as the
#: latency badges in the chats (≤60 s green, ≤180 s amber, >180 s red), plus >600 s, which
#: Taobao caps at.
LATENCY_BINS = [(-np.inf, 60, N_("≤1 min"), GREEN), (60, 180, N_("1–3 min"), AMBER), (180, 600, N_("3–10 min"), RED),
                (600, np.inf, N_(">10 min"), DARK_RED)]


def _no_data(message: str) -> str:
    return f'<p class="no-data">{escape(message)}</p>'


def _nice_top(count: int, ticks: int = 4) -> tuple[int, int]:
    """An axis top >= count that splits into ``ticks`` whole-number steps."""
    step = max(1, int(np.ceil(count / ticks)))
    magnitude = 10 ** int(np.floor(np.log10(step)))
    for nice in (1, 2, 2.5, 5, 10):
        if step <= nice * magnitude and float(nice * magnitude).is_integer():
            step = int(nice * magnitude)
            break
    return step * ticks, step


def score_histogram(scores: pd.Series, *, width: int = 560, height: int = 220) -> str:
    """Histogram of conversation service scores: 10 bins over 0–100 (or over the data's range)."""
    s = pd.to_numeric(scores, errors="coerce").dropna()
    if s.empty:
        return _no_data(_("No conversation scores in this run (the scoring stage did not run)."))
    lo, hi = (0.0, 100.0) if s.min() >= 0 and s.max() <= 100 else (float(s.min()), float(s.max()))
    if hi == lo:
        hi = lo + 1
    edges = np.linspace(lo, hi, 11)
    counts, _edges = np.histogram(s.to_numpy(), bins=edges)  # last bin includes the top edge (100)
    pad_l, pad_r, pad_t, pad_b = 44, 12, 22, 36
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b
    top, step = _nice_top(max(int(counts.max()), 1))
    bar_w = plot_w / len(counts)
    aria = escape(_("Conversation service scores"))
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" '
        f'aria-label="{aria}">'
    ]
    # horizontal grid lines with count labels
    for tick in range(0, top + 1, step):
        y = pad_t + plot_h * (1 - tick / top)
        parts.append(f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{pad_l - 6}" y="{y + 4:.1f}" class="axis" text-anchor="end">{tick:,}</text>')
    for i, count in enumerate(counts):
        left, right = edges[i], edges[i + 1]
        mid = (left + right) / 2
        colour = RED if mid < 60 else AMBER if mid < 80 else GREEN
        h = plot_h * count / top
        x = pad_l + i * bar_w + 2
        y = pad_t + plot_h - h
        label = f"{left:.0f}–{right:.0f}"
        tip = escape(_("{n} conversations").format(n=f"{count:,}"))
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w - 4:.1f}" height="{h:.1f}" fill="{colour}" '
                     f'rx="2"><title>{escape(label)}: {tip}</title></rect>')
        if count:
            parts.append(f'<text x="{x + (bar_w - 4) / 2:.1f}" y="{y - 5:.1f}" class="value" '
                         f'text-anchor="middle">{count:,}</text>')
        parts.append(f'<text x="{x + (bar_w - 4) / 2:.1f}" y="{height - pad_b + 16}" class="axis" '
                     f'text-anchor="middle">{escape(label)}</text>')
    title = escape(_("service score · {n} conversations · median {median}").format(
        n=f"{len(s):,}", median=f"{s.median():.1f}"))
    parts.append(f'<text x="{pad_l + plot_w / 2:.1f}" y="{height - 4}" class="axis-title" text-anchor="middle">'
                 f'{title}</text>')
    parts.append("</svg>")
    return "".join(parts)


def latency_bins_by_agent(replies: pd.DataFrame) -> pd.DataFrame:
    """Per agent: count of rounds in each latency bin, total and median (from round-ending replies)."""
    if replies is None or "latency_s" not in replies.columns or "agent" not in replies.columns:
        return pd.DataFrame()
    latency = number(replies, "latency_s")
    answered = latency.notna()
    if not answered.any():
        return pd.DataFrame()
    frame = pd.DataFrame({"agent": replies.loc[answered, "agent"].astype("string").fillna(""),
                          "latency_s": latency[answered]})
    edges = [b[0] for b in LATENCY_BINS] + [LATENCY_BINS[-1][1]]
    labels = [_(b[2]) for b in LATENCY_BINS]  # ≤1分 … (≤1 min … in English)
    frame["bin"] = pd.cut(frame["latency_s"], bins=edges, labels=labels, right=True)
    table = pd.crosstab(frame["agent"], frame["bin"]).reindex(columns=labels, fill_value=0)
    table["rounds"] = table.sum(axis=1)
    table["median_s"] = frame.groupby("agent")["latency_s"].median()
    return table.sort_values(["median_s", "rounds"], ascending=[True, False])


def _display_names(names: list[str]) -> list[str]:
    """Drop the shared ``店铺:`` prefix when the short names stay distinct (saves chart space)."""
    short = [n.replace("：", ":").rsplit(":", 1)[-1] for n in names]
    return short if len(set(short)) == len(short) else names


def latency_by_agent_chart(replies: pd.DataFrame, *, max_agents: int = 30, width: int = 560) -> str:
    """100%-stacked bar per agent: share of rounds answered in ≤1 min / 1–3 min / 3–10 min / >10 min."""
    table = latency_bins_by_agent(replies)
    if table.empty:
        return _no_data(_("No response times in this run."))
    note = ""
    if len(table) > max_agents:
        shown = escape(_("Showing the {n} agents with the most rounds (of {total}).").format(n=max_agents, total=len(table)))
        note = f'<p class="chart-note">{shown}</p>'
        table = table.sort_values("rounds", ascending=False).head(max_agents).sort_values(
            ["median_s", "rounds"], ascending=[True, False])
    label_w, stats_w, row_h, legend_h = 110, 132, 26, 30
    bar_w = width - label_w - stats_w
    height = legend_h + row_h * len(table) + 24
    aria = escape(_("Response time per agent"))
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" '
        f'aria-label="{aria}">'
    ]
    x = label_w
    for _lo, _hi, label, colour in LATENCY_BINS:
        parts.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{colour}" rx="2"/>'
                     f'<text x="{x + 16}" y="16" class="axis">{escape(_(label))}</text>')  # label: the N_ msgid
        x += 74
    labels = [_(b[2]) for b in LATENCY_BINS]
    colours = [b[3] for b in LATENCY_BINS]
    display = _display_names([str(a) for a in table.index])
    for row, ((agent, rec), short) in enumerate(zip(table.iterrows(), display)):
        y = legend_h + row * row_h
        name = str(agent)
        shown = short if len(short) <= 10 else short[:9] + "…"
        parts.append(f'<text x="{label_w - 8}" y="{y + 16}" class="axis" text-anchor="end">'
                     f'<title>{escape(name)}</title>{escape(shown)}</text>')
        total = int(rec["rounds"])
        left = float(label_w)
        for label, colour in zip(labels, colours):
            count = int(rec[label])
            if not count:
                continue
            w = bar_w * count / total
            tip = escape(_("{n} rounds").format(n=f"{count:,}"))
            parts.append(f'<rect x="{left:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}" fill="{colour}">'
                         f'<title>{escape(name)} · {escape(label)}: {tip} ({count / total:.0%})</title></rect>')
            if w > 34:
                parts.append(f'<text x="{left + w / 2:.1f}" y="{y + 16}" class="bar-label" text-anchor="middle">'
                             f'{count / total:.0%}</text>')
            left += w
        stats = escape(_("median {time} · {n} rounds").format(time=fmt_seconds(rec["median_s"]), n=f"{total:,}"))
        parts.append(f'<text x="{label_w + bar_w + 8}" y="{y + 16}" class="axis">{stats}</text>')
    axis_title = escape(_("share of rounds by response time"))
    parts.append(f'<text x="{label_w + bar_w / 2:.1f}" y="{height - 6}" class="axis-title" text-anchor="middle">'
                 f'{axis_title}</text>')
    parts.append("</svg>")
    return note + "".join(parts)
