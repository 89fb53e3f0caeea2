"""The plot of a weight sweep as a self-contained SVG: validation NDCG@20 against the weight.

One line per method (at each weight, its best setting over learning rates and L2, each
setting's mean over seeds: ``kdtfrs.tuning.settings``), the weight on a log axis; the best
scratch setting and the teacher as horizontal reference lines.
Written by hand (no plotting library): a sweep's output must not depend on a display stack.
"""

from __future__ import annotations

import math
from xml.sax.saxutils import escape

from kdtfrs.fitting import MONITOR

WIDTH, HEIGHT = 720, 420
LEFT, RIGHT, TOP, BOTTOM = 70, 170, 30, 50
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")


def method_curves(rows) -> dict:
    """{method: [(weight, best score at that weight)] sorted by weight}, scratch left out;
    ``rows``: one per setting (``kdtfrs.tuning.settings``)."""
    curves = {}
    for row in rows:
        score = row.get(MONITOR)
        if row["method"] == "scratch" or score is None:
            continue
        points = curves.setdefault(row["method"], {})
        points[row["weight"]] = max(score, points.get(row["weight"], -math.inf))
    return {method: sorted(points.items()) for method, points in sorted(curves.items())}


def validation_plot(rows, teacher_score=None) -> str:
    """The SVG text (module docstring) of ``rows`` (one per setting, ``kdtfrs.tuning.settings``);
    an empty frame with a note when nothing finished."""
    curves = method_curves(rows)
    scratch = [r[MONITOR] for r in rows if r["method"] == "scratch" and r.get(MONITOR)]
    references = {"scratch (best)": max(scratch) if scratch else None, "teacher": teacher_score}
    references = {name: value for name, value in references.items() if value is not None}
    weights = [weight for points in curves.values() for weight, _ in points]
    scores = [score for points in curves.values() for _, score in points]
    scores += list(references.values())
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'font-family="sans-serif" font-size="12">',
             f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
             f'<text x="{LEFT}" y="18" font-size="14">Validation NDCG@20 against the '
             'distillation weight</text>']
    if not weights:
        parts.append(f'<text x="{LEFT}" y="{HEIGHT / 2}">no distillation trial has finished '
                     'yet (scratch trials: see table.md)</text>')
        return "\n".join(parts + ["</svg>"]) + "\n"
    x_of = _axis(math.log10(min(weights)), math.log10(max(weights)), LEFT, WIDTH - RIGHT)
    low, high = min(scores), max(scores)
    margin = (high - low) * 0.08 or abs(high) * 0.05 or 0.01
    y_of = _axis(low - margin, high + margin, HEIGHT - BOTTOM, TOP)
    parts += _frame(x_of, y_of, sorted(set(weights)), low - margin, high + margin)
    for index, (method, points) in enumerate(curves.items()):
        colour = COLOURS[index % len(COLOURS)]
        xy = " ".join(f"{x_of(math.log10(w)):.1f},{y_of(s):.1f}" for w, s in points)
        parts.append(f'<polyline points="{xy}" fill="none" stroke="{colour}" stroke-width="2"/>')
        parts += [f'<circle cx="{x_of(math.log10(w)):.1f}" cy="{y_of(s):.1f}" r="3" '
                  f'fill="{colour}"/>' for w, s in points]
        parts.append(_legend(index, escape(method), colour, ""))
    for offset, (name, value) in enumerate(references.items(), start=len(curves)):
        dash = "6,4" if name.startswith("scratch") else "2,3"
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y_of(value):.1f}" '
                     f'y2="{y_of(value):.1f}" stroke="black" stroke-dasharray="{dash}"/>')
        parts.append(_legend(offset, f"{name} {value:.4f}", "black", dash))
    return "\n".join(parts + ["</svg>"]) + "\n"


def _axis(low, high, start, end):
    """A function from data values in [low, high] to pixels in [start, end]."""
    span = (high - low) or 1.0
    middle = (start + end) / 2

    def position(value):
        return middle if high == low else start + (value - low) / span * (end - start)

    return position


def _frame(x_of, y_of, weights, low, high) -> list[str]:
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    parts = [f'<line x1="{LEFT}" x2="{right}" y1="{bottom}" y2="{bottom}" stroke="black"/>',
             f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{bottom}" stroke="black"/>',
             f'<text x="{(LEFT + right) / 2}" y="{HEIGHT - 12}" text-anchor="middle">weight '
             '(log scale)</text>',
             f'<text x="16" y="{(TOP + bottom) / 2}" transform="rotate(-90 16 '
             f'{(TOP + bottom) / 2})" text-anchor="middle">validation NDCG@20</text>']
    for weight in weights:
        x = x_of(math.log10(weight))
        parts += [f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{bottom}" y2="{bottom + 4}" '
                  'stroke="black"/>',
                  f'<text x="{x:.1f}" y="{bottom + 17}" text-anchor="middle">{weight:g}</text>']
    for step in range(5):
        value = low + (high - low) * step / 4
        y = y_of(value)
        parts += [f'<line x1="{LEFT - 4}" x2="{LEFT}" y1="{y:.1f}" y2="{y:.1f}" stroke="black"/>',
                  f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{value:.4f}</text>']
    return parts


def _legend(row, label, colour, dash) -> str:
    x, y = WIDTH - RIGHT + 15, TOP + 10 + 18 * row
    style = f' stroke-dasharray="{dash}"' if dash else ""
    return (f'<line x1="{x}" x2="{x + 22}" y1="{y}" y2="{y}" stroke="{colour}" '
            f'stroke-width="2"{style}/><text x="{x + 28}" y="{y + 4}">{label}</text>')
