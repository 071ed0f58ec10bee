"""SVG charts drawn by our code (no charting library, no network): an ASR heatmap and a scatter."""

from __future__ import annotations

from dataclasses import dataclass

from .html import asr_colour, esc, ink, pct


@dataclass(frozen=True)
class Cell:
    value: float | None
    tooltip: str


def heatmap_svg(rows: list[str], cols: list[str], cells: dict[tuple[str, str], Cell], title: str) -> str:
    """Rows x columns of coloured cells with the value printed; absent cells are left blank."""
    cw, ch, left, top = 74, 24, 170, 88
    width, height = left + cw * len(cols) + 120, top + ch * len(rows) + 6  # room for the slanted labels
    out = [
        f'<svg class=heatmap xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role=img aria-label="{esc(title)}"><title>{esc(title)}</title>'
    ]
    for j, col in enumerate(cols):
        x = left + cw * j + cw / 2
        out.append(f'<text class=col x="{x}" y="{top - 6}" transform="rotate(-40 {x} {top - 6})">{esc(col)}</text>')
    for i, row in enumerate(rows):
        y = top + ch * i
        out.append(f'<text class=row x="{left - 6}" y="{y + ch / 2 + 4}" text-anchor=end>{esc(row)}</text>')
        for j, col in enumerate(cols):
            cell = cells.get((row, col))
            if cell is None:
                continue
            x = left + cw * j
            out.append(
                f"<g><title>{esc(cell.tooltip)}</title>"
                f'<rect x="{x}" y="{y}" width="{cw - 2}" height="{ch - 2}" fill="{asr_colour(cell.value)}"/>'
                f'<text x="{x + cw / 2 - 1}" y="{y + ch / 2 + 4}" text-anchor=middle fill="{ink(cell.value)}">'
                f"{pct(cell.value, 0)}</text></g>"
            )
    out.append("</svg>")
    return "".join(out)


@dataclass(frozen=True)
class Point:
    label: str
    x: float
    y: float
    href: str
    flagged: bool = False  # drawn hollow: random weights, so the position means nothing


def scatter_svg(points: list[Point], x_label: str, y_label: str, hidden: bool = False) -> str:
    """A labelled scatter on [0, max] axes; lower y (ASR) is safer, so the plot says so."""
    w, h, pad = 560, 380, 56
    x_max = max([1.0] + [p.x for p in points])
    sx = lambda v: pad + (w - 2 * pad) * v / x_max  # noqa: E731
    sy = lambda v: h - pad - (h - 2 * pad) * v  # noqa: E731
    out = [
        f'<svg class="scatter{" off" if hidden else ""}" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        f'data-axis="{esc(x_label)}" role=img '
        f'aria-label="{esc(y_label)} against {esc(x_label)}">'
    ]
    for t in range(6):
        v = t / 5
        out.append(
            f'<line class=grid x1="{pad}" x2="{w - pad}" y1="{sy(v)}" y2="{sy(v)}"/>'
            f'<text x="{pad - 6}" y="{sy(v) + 4}" text-anchor=end>{pct(v, 0)}</text>'
            f'<text x="{sx(v * x_max)}" y="{h - pad + 16}" text-anchor=middle>{v * x_max:.2g}</text>'
        )
    out.append(
        f'<text class=axis x="{w / 2}" y="{h - 12}" text-anchor=middle>{esc(x_label)}</text>'
        f'<text class=axis transform="rotate(-90)" x="{-h / 2}" y="14" text-anchor=middle>{esc(y_label)}</text>'
    )
    placed: list[Box] = []
    for p in points:
        cls = "pt flagged" if p.flagged else "pt"
        lx, ly = label_position(placed, sx(p.x) + 7, sy(p.y) - 6, p.label, h)
        out.append(
            f'<a href="{esc(p.href)}"><g class="{cls}"><title>{esc(p.label)}: {p.x:.3g}, ASR {pct(p.y)}</title>'
            f'<circle cx="{sx(p.x):.1f}" cy="{sy(p.y):.1f}" r=5 />'
            f'<text x="{lx:.1f}" y="{ly:.1f}">{esc(p.label)}</text></g></a>'
        )
    out.append("</svg>")
    return "".join(out)


Box = tuple[float, float, float, float]  # left, top, right, bottom of a label, in SVG units
LABEL_CHAR_WIDTH, LABEL_HEIGHT = 6.5, 13.0  # the page's 11 px sans labels, a little generous


def label_position(placed: list[Box], x: float, y: float, text: str, height: float) -> tuple[float, float]:
    """Where a point's label goes: beside the point, or the first line below that no label placed before covers, so
    that runs at the same spot (random-weight runs all score alike) list their names instead of overprinting them.
    Appends the label's box to `placed`."""
    width = LABEL_CHAR_WIDTH * len(text)
    while True:
        box = (x, y - LABEL_HEIGHT + 2, x + width, y + 2)
        clash = any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed)
        if not clash or y + LABEL_HEIGHT > height:
            placed.append(box)
            return x, y
        y += LABEL_HEIGHT
