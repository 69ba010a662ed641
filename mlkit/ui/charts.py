"""Charts as inline SVG, drawn on the server: line charts (learning curves, a metric over
versions), histograms, traffic bars and the lineage graph. ``static/ui.js`` adds hover values
(from each point's ``data-x``/``data-y``) and series toggles (legend entries' ``data-series``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from mlkit.ui.html import esc
from mlkit.workflows.ui_views import LineageGraph

WIDTH, HEIGHT = 640, 260
PAD_L, PAD_R, PAD_T, PAD_B = 56, 12, 10, 34
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
MAX_DOTS = 120  # hover targets per series; the line itself keeps every point


@dataclass
class Series:
    name: str
    points: Sequence[tuple[float, float]]
    marks: dict[float, str] = field(default_factory=dict)  # x -> label (e.g. "deployed")
    dashed: bool = False  # the second side of a comparison


def _ticks(lo: float, hi: float, n: int = 5, integer: bool = False) -> list[float]:
    if hi <= lo:
        return [lo]
    step = 10 ** math.floor(math.log10((hi - lo) / n))
    if integer:
        step = max(step, 1)
    for mult in (1, 2, 5, 10):
        if (hi - lo) / (step * mult) <= n:
            step *= mult
            break
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def _num(v: float) -> str:
    return f"{v:.4g}"


def line_chart(
    series: Sequence[Series],
    *,
    x_label: str,
    y_label: str,
    chart_id: str = "chart",
    integer_x: bool = False,
) -> str:
    """Several series over a shared x axis; empty when no series has a point. ``integer_x``:
    ticks on whole numbers only (version numbers)."""
    drawn = [s for s in series if s.points]
    if not drawn:
        return '<p class="dim">no points to draw</p>'
    xs = [p[0] for s in drawn for p in s.points]
    ys = [p[1] for s in drawn for p in s.points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    if y1 == y0:  # a flat line: a band around it
        pad = abs(y0) * 0.05 or 0.5
        y0, y1 = y0 - pad, y1 + pad
    w, h = WIDTH - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B

    def sx(x: float) -> float:
        return PAD_L + (x - x0) / (x1 - x0) * w

    def sy(y: float) -> float:
        return PAD_T + h - (y - y0) / (y1 - y0) * h

    out = [
        f'<svg class="chart" id="{esc(chart_id)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{esc(y_label)} by {esc(x_label)}">'
    ]
    for t in _ticks(y0, y1):
        out.append(
            f'<line class="grid" x1="{PAD_L}" x2="{WIDTH - PAD_R}" y1="{sy(t):.1f}" '
            f'y2="{sy(t):.1f}"/><text class="tick" x="{PAD_L - 4}" y="{sy(t) + 4:.1f}" '
            f'text-anchor="end">{_num(t)}</text>'
        )
    for t in _ticks(x0, x1, integer=integer_x):
        out.append(
            f'<text class="tick" x="{sx(t):.1f}" y="{HEIGHT - PAD_B + 14}" '
            f'text-anchor="middle">{_num(t)}</text>'
        )
    out.append(
        f'<text class="axis" x="{PAD_L + w / 2:.0f}" y="{HEIGHT - 4}" '
        f'text-anchor="middle">{esc(x_label)}</text>'
        f'<text class="axis" x="12" y="{PAD_T + h / 2:.0f}" text-anchor="middle" '
        f'transform="rotate(-90 12 {PAD_T + h / 2:.0f})">{esc(y_label)}</text>'
    )
    for i, s in enumerate(drawn):
        color = COLORS[i % len(COLORS)]
        dash = ' stroke-dasharray="5 3"' if s.dashed else ""
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in s.points)
        out.append(
            f'<g class="series" data-series="{i}" data-name="{esc(s.name)}">'
            f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{path}"'
            f"{dash}/>"
        )
        stride = max(1, len(s.points) // MAX_DOTS)
        dots = list(s.points[::stride])
        dots += [p for p in s.points if p[0] in s.marks and p not in dots]
        for x, y in dots:
            out.append(
                f'<circle class="pt" cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{color}" '
                f'data-x="{_num(x)}" data-y="{_num(y)}"/>'
            )
        for x, label in s.marks.items():
            hit = [p for p in s.points if p[0] == x]
            if hit:
                px, py = sx(hit[0][0]), sy(hit[0][1])
                out.append(
                    f'<circle class="mark" cx="{px:.1f}" cy="{py:.1f}" r="6"/>'
                    f'<text class="marklabel" x="{px:.1f}" y="{py - 9:.1f}" '
                    f'text-anchor="middle">{esc(label)}</text>'
                )
        out.append("</g>")
    out.append("</svg>")
    legend = "".join(
        f'<button type="button" class="toggle" data-chart="{esc(chart_id)}" data-series="{i}">'
        f'<span class="swatch{" dashed" if s.dashed else ""}" '
        f'style="background-color:{COLORS[i % len(COLORS)]}"></span>'
        f"{esc(s.name)}</button>"
        for i, s in enumerate(drawn)
    )
    return f'<figure class="plot">{"".join(out)}<figcaption>{legend}</figcaption></figure>'


def histogram(counts: Sequence[float], edges: Sequence[float], *, label: str = "") -> str:
    """Bars of ``counts`` between ``edges`` (len(edges) == len(counts) + 1), small."""
    if not counts:
        return ""
    w, h = 160, 40
    top = max(counts) or 1
    bw = w / len(counts)
    bars = "".join(
        f'<rect x="{i * bw:.1f}" y="{h - c / top * h:.1f}" width="{max(bw - 1, 1):.1f}" '
        f'height="{c / top * h:.1f}" data-x="{_num(edges[i]) if i < len(edges) else i}" '
        f'data-y="{_num(c)}" class="pt"/>'
        for i, c in enumerate(counts)
    )
    return (
        f'<svg class="hist" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        f'aria-label="histogram {esc(label)}">{bars}</svg>'
    )


def share_bar(shares: Sequence[tuple[str, int]]) -> str:
    """One horizontal bar split by traffic share (label, percent)."""
    x = 0.0
    parts = []
    for i, (name, percent) in enumerate(shares):
        parts.append(
            f'<rect x="{x:.1f}" y="0" width="{percent * 3:.1f}" height="18" '
            f'fill="{COLORS[i % len(COLORS)]}"><title>{esc(name)}: {percent}%</title></rect>'
            f'<text x="{x + 4:.1f}" y="13" class="barlabel">{esc(name)} {percent}%</text>'
        )
        x += percent * 3
    return f'<svg class="share" viewBox="0 0 300 18" width="300" height="18">{"".join(parts)}</svg>'


def count_bars(counts: Sequence[tuple[str, float]], *, width: int = 300) -> str:
    """One horizontal bar per (label, count), scaled to the largest."""
    top = max((c for _, c in counts), default=0.0) or 1.0
    parts = []
    for i, (name, count) in enumerate(counts):
        y = i * 22
        w = max(1.0, count / top * width)
        parts.append(
            f'<rect x="0" y="{y}" width="{w:.1f}" height="18" fill="{COLORS[i % len(COLORS)]}">'
            f"<title>{esc(name)}: {count:,.0f}</title></rect>"
            f'<text x="4" y="{y + 13}" class="barlabel">{esc(name)}: {count:,.0f}</text>'
        )
    height = max(22 * len(counts) - 4, 0)
    return (
        f'<svg class="counts" viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
        f"{''.join(parts)}</svg>"
    )


COLUMNS = {"experiment": 0, "data": 0, "run": 1, "version": 2, "verdict": 3, "deployment": 4}
NODE_W, NODE_H, GAP_X, GAP_Y = 150, 44, 40, 14


def lineage_svg(graph: LineageGraph) -> str:
    """Nodes in columns (inputs, run, version, verdicts, deployments), edges as curves."""
    place: dict[str, tuple[float, float]] = {}
    rows: dict[int, int] = {}
    for node in graph.nodes:
        col = COLUMNS.get(node.kind, 2)
        row = rows.get(col, 0)
        rows[col] = row + 1
        place[node.id] = (10 + col * (NODE_W + GAP_X), 10 + row * (NODE_H + GAP_Y))
    width = 10 + (max(rows) + 1) * (NODE_W + GAP_X)
    height = 20 + max(rows.values()) * (NODE_H + GAP_Y)
    out = [
        f'<svg class="lineage" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="lineage">'
    ]
    for a, b in graph.edges:
        if a in place and b in place:
            (ax, ay), (bx, by) = place[a], place[b]
            x1, y1, x2, y2 = ax + NODE_W, ay + NODE_H / 2, bx, by + NODE_H / 2
            mid = (x1 + x2) / 2
            out.append(
                f'<path class="edge" d="M{x1:.0f},{y1:.0f} C{mid:.0f},{y1:.0f} '
                f'{mid:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"/>'
            )
    for node in graph.nodes:
        x, y = place[node.id]
        detail = node.detail if len(node.detail) <= 24 else node.detail[:23] + "…"
        box = (
            f'<g class="node {esc(node.kind)}" data-node="{esc(node.id)}">'
            f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="6"/>'
            f'<text x="{x + 8}" y="{y + 18}" class="nlabel">{esc(node.label)}</text>'
            f'<text x="{x + 8}" y="{y + 35}" class="ndetail">{esc(detail)}</text>'
            f"<title>{esc(node.kind)}: {esc(node.detail)}</title></g>"
        )
        out.append(f'<a href="{esc(node.href)}">{box}</a>' if node.href else box)
    out.append("</svg>")
    return "".join(out)
