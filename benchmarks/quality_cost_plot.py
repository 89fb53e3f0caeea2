"""Quality against cost of the distillation methods, as a self-contained SVG.

One point per method: the share of the teacher-scratch gap in test NDCG@20 it recovers (with
its standard error as a bar, ``report.gap_recovered``) against its seconds per epoch over the
scratch student's (log scale). Written by hand, as kdtfrs' tuning plot: no plotting library.
"""

from __future__ import annotations

import math
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 760, 460
LEFT, RIGHT, TOP, BOTTOM = 70, 30, 36, 50


def _scale(low, high, start, end):
    """A function from [low, high] to pixels [start, end] (the middle when low == high)."""
    span = high - low
    return (lambda value: (start + end) / 2) if span == 0 else (
        lambda value: start + (value - low) / span * (end - start))


def quality_cost_svg(points, title) -> str:
    """The SVG text for ``points``: ``[(method, cost_ratio, gap, gap_error)]``, cost > 0."""
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'font-family="sans-serif" font-size="11">',
             f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
             f'<text x="{LEFT}" y="20" font-size="14">{escape(title)}</text>']
    if not points:
        parts.append(f'<text x="{LEFT}" y="{HEIGHT / 2}">no method recorded yet</text>')
        return "\n".join(parts + ["</svg>"]) + "\n"
    costs = [math.log10(cost) for _, cost, _, _ in points]
    gaps = [g for _, _, gap, error in points for g in (gap - error, gap + error)] + [0.0, 1.0]
    x_low, x_high = math.floor(min(costs)), math.ceil(max(costs))
    y_low, y_high = min(gaps) - 0.05, max(gaps) + 0.05
    x_of = _scale(x_low, max(x_high, x_low + 1), LEFT, WIDTH - RIGHT)
    y_of = _scale(y_low, y_high, HEIGHT - BOTTOM, TOP)
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    parts += [f'<line x1="{LEFT}" x2="{right}" y1="{bottom}" y2="{bottom}" stroke="black"/>',
              f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{bottom}" stroke="black"/>',
              f'<text x="{(LEFT + right) / 2}" y="{HEIGHT - 12}" text-anchor="middle">seconds '
              'per epoch, x the scratch student (log scale)</text>',
              f'<text x="16" y="{(TOP + bottom) / 2}" transform="rotate(-90 16 '
              f'{(TOP + bottom) / 2})" text-anchor="middle">gap recovered, test NDCG@20</text>']
    for exponent in range(x_low, max(x_high, x_low + 1) + 1):
        x = x_of(exponent)
        parts += [f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{bottom}" y2="{bottom + 4}" '
                  'stroke="black"/>',
                  f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">'
                  f'{10 ** exponent:g}x</text>']
    for level, label in ((0.0, "scratch"), (1.0, "teacher")):
        y = y_of(level)
        parts += [f'<line x1="{LEFT}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="grey" '
                  'stroke-dasharray="5,4"/>',
                  f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{level:.0%}</text>',
                  f'<text x="{right - 4}" y="{y - 4:.1f}" text-anchor="end" fill="grey">'
                  f'{label}</text>']
    for method, cost, gap, error in points:
        x, y = x_of(math.log10(cost)), y_of(gap)
        if error:
            parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y_of(gap - error):.1f}" '
                         f'y2="{y_of(gap + error):.1f}" stroke="#1f77b4"/>')
        parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="#1f77b4"/>',
                  f'<text x="{x + 6:.1f}" y="{y - 5:.1f}">{escape(method)}</text>']
    return "\n".join(parts + ["</svg>"]) + "\n"
