"""Small inline SVG charts drawn on the server (no script, no external library or CDN).

Pure functions: numbers and labels in, SVG text out. Every label is escaped, so a lender's
registered name cannot inject markup into the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

FONT = 'font-family="sans-serif" font-size="10"'


def _n(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def bar_chart(labels: Sequence[str], values: Sequence[int], *, title: str, width: int = 640, height: int = 150,
              color: str = "#1f4e79", label_every: int = 5, unit: str = "") -> str:
    """Vertical bars, one per label; the y axis runs from 0 to the largest value; every
    ``label_every``-th label (and the last) is written under its bar; hovering a bar tells its value."""
    if len(labels) != len(values):
        raise ValueError("a bar chart needs one label per value")
    left, right, top, bottom = 34, 6, 8, 20
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = max([*values, 0]) or 1
    step = plot_w / max(len(values), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
             f"<title>{escape(title)}</title>",
             f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="#888"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#888"/>',
             f'<text x="{left - 4}" y="{top + 8}" text-anchor="end" {FONT}>{escape(f"{top_value:,}{unit}")}</text>',
             f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" {FONT}>0</text>']
    for n, (label, value) in enumerate(zip(labels, values)):
        x = left + n * step
        h = plot_h * max(value, 0) / top_value
        tip = escape(f"{label}: {value:,}{unit}")
        parts.append(f'<rect x="{_n(x + step * 0.1)}" y="{_n(top + plot_h - h)}" width="{_n(step * 0.8)}" height="{_n(h)}" fill="{escape(color)}">'
                     f"<title>{tip}</title></rect>")
        if n % label_every == 0 or n == len(values) - 1:
            parts.append(f'<text x="{_n(x + step / 2)}" y="{height - 6}" text-anchor="middle" {FONT}>{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def stacked_bar(parts: Sequence[tuple[str, int, str]], *, title: str, width: int = 640, height: int = 22) -> str:
    """One horizontal bar split into (label, count, colour) segments in proportion to the counts."""
    total = sum(max(count, 0) for _, count, _ in parts)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
           f"<title>{escape(title)}</title>"]
    if total == 0:
        out.append(f'<rect x="0" y="0" width="{width}" height="{height}" fill="#eee"/>'
                   f'<text x="{width / 2}" y="{height / 2 + 4}" text-anchor="middle" {FONT}>无数据 · no data</text>')
    x = 0.0
    for label, count, color in parts:
        if count <= 0 or total == 0:
            continue
        w = width * count / total
        tip = escape(f"{label}: {count:,} ({100 * count / total:.1f}%)")
        out.append(f'<rect x="{_n(x)}" y="0" width="{_n(w)}" height="{height}" fill="{escape(color)}"><title>{tip}</title></rect>')
        if w >= 28:
            out.append(f'<text x="{_n(x + w / 2)}" y="{height / 2 + 4}" text-anchor="middle" fill="#fff" {FONT}>{count:,}</text>')
        x += w
    out.append("</svg>")
    return "".join(out)
