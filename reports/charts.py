"""Charts drawn on the server as inline SVG: no script, nothing inline that the strict
Content-Security-Policy would refuse (colours come from classes in app.css), and they
print. Each chart is an image with a title and a description that carry its numbers, so
a screen reader gets what the bars show.

Two shapes: `bar_chart` (one bar per label; a bar may float above a base, which draws a
waterfall) and `grouped_bar_chart` (several series side by side per label).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH = 640
HEIGHT = 260
TOP = 28  # room for the value above the tallest bar
BOTTOM = 34  # room for the labels under the bars
SIDE = 8

_ids = itertools.count(1)


@dataclass(frozen=True)
class Bar:
    label: str
    value: Decimal  # the bar's length (negative: downwards from its base)
    base: Decimal = Decimal(0)  # where it starts (0, except in a waterfall)
    tone: str = "accent"  # a class suffix: chart__bar--accent, --muted, --warn, --danger
    # Text above the bar (the formatted value when empty), e.g. a shortened amount: the
    # bar's tooltip and the chart's description always give the value in full.
    caption: str = ""


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[Decimal]
    tone: str = "accent"


def _scale(low: Decimal, high: Decimal) -> Callable[[Decimal], float]:
    """Value -> y in the drawing (larger values higher up)."""
    low, high = min(low, Decimal(0)), max(high, Decimal(0))
    span = float(high - low) or 1.0
    plot = HEIGHT - TOP - BOTTOM

    def y(value: Decimal) -> float:
        return TOP + plot * (float(high) - float(value)) / span

    return y


def _frame(
    title: str, description: str, body: SafeString, zero_y: float, empty: bool = False
) -> SafeString:
    number = next(_ids)
    if empty:
        body = SafeString(
            body + _text(WIDTH / 2, HEIGHT / 2, "Nothing in this period yet", "empty")
        )
    return format_html(
        '<svg class="chart" viewBox="0 0 {w} {h}" role="img" '
        'aria-labelledby="chart-{n}-title chart-{n}-desc" preserveAspectRatio="xMidYMid meet">'
        '<title id="chart-{n}-title">{title}</title><desc id="chart-{n}-desc">{desc}</desc>'
        '<line class="chart__axis" x1="{side}" x2="{right}" y1="{zero}" y2="{zero}"></line>'
        "{body}</svg>",
        w=WIDTH,
        h=HEIGHT,
        n=number,
        title=title,
        desc=description,
        side=SIDE,
        right=WIDTH - SIDE,
        zero=f"{zero_y:.1f}",
        body=body,
    )


def _bar(x: float, width: float, y0: float, y1: float, tone: str, tip: str) -> SafeString:
    top, height = min(y0, y1), max(abs(y1 - y0), 1.0)
    return format_html(
        '<rect class="chart__bar chart__bar--{tone}" x="{x}" y="{y}" width="{w}" '
        'height="{h}" rx="2"><title>{tip}</title></rect>',
        tone=tone,
        x=f"{x:.1f}",
        y=f"{top:.1f}",
        w=f"{width:.1f}",
        h=f"{height:.1f}",
        tip=tip,
    )


def _text(x: float, y: float, text: str, kind: str) -> SafeString:
    return format_html(
        '<text class="chart__{kind}" x="{x}" y="{y}" text-anchor="middle">{text}</text>',
        kind=kind,
        x=f"{x:.1f}",
        y=f"{y:.1f}",
        text=text,
    )


def bar_chart(bars: Sequence[Bar], *, title: str, fmt: Callable[[Decimal], str]) -> SafeString:
    """One bar per item, labelled under it, its value (or caption) above it; each value in
    full in the bar's tooltip and in the chart's description."""
    if not bars:
        bars = [Bar("", Decimal(0))]
    ends = [b.base for b in bars] + [b.base + b.value for b in bars]
    y = _scale(min(ends), max(ends))
    slot = (WIDTH - 2 * SIDE) / len(bars)
    width = slot * 0.62
    parts = []
    for i, bar in enumerate(bars):
        x = SIDE + slot * i + (slot - width) / 2
        y0, y1 = y(bar.base), y(bar.base + bar.value)
        caption = bar.caption or fmt(bar.value)
        parts.append(_bar(x, width, y0, y1, bar.tone, f"{bar.label}: {fmt(bar.value)}"))
        parts.append(_text(x + width / 2, min(y0, y1) - 6, caption, "value"))
        parts.append(_text(x + width / 2, HEIGHT - BOTTOM + 18, bar.label, "label"))
    description = "; ".join(f"{b.label}: {fmt(b.value)}" for b in bars)
    empty = all(not b.value and not b.base for b in bars)
    return _frame(title, description, SafeString("".join(parts)), y(Decimal(0)), empty)


def grouped_bar_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    fmt: Callable[[Decimal], str],
) -> SafeString:
    """For each label, one bar per series side by side; a legend names the series."""
    values = [v for s in series for v in s.values] or [Decimal(0)]
    y = _scale(min(values), max(values))
    slot = (WIDTH - 2 * SIDE) / max(len(labels), 1)
    width = slot * 0.72 / max(len(series), 1)
    parts = []
    for i, label in enumerate(labels):
        left = SIDE + slot * i + slot * 0.14
        for j, one in enumerate(series):
            value = one.values[i]
            x = left + width * j
            parts.append(
                _bar(
                    x,
                    width,
                    y(Decimal(0)),
                    y(value),
                    one.tone,
                    f"{label}, {one.name}: {fmt(value)}",
                )
            )
        parts.append(_text(SIDE + slot * i + slot / 2, HEIGHT - BOTTOM + 18, label, "label"))
    legend = format_html_join(
        "",
        '<rect class="chart__bar chart__bar--{}" x="{}" y="6" width="10" height="10" rx="2">'
        '</rect><text class="chart__legend" x="{}" y="15">{}</text>',
        ((one.tone, SIDE + 130 * j, SIDE + 130 * j + 14, one.name) for j, one in enumerate(series)),
    )
    description = "; ".join(
        f"{label}: " + ", ".join(f"{one.name} {fmt(one.values[i])}" for one in series)
        for i, label in enumerate(labels)
    )
    empty = not any(values)
    return _frame(title, description, SafeString("".join(parts) + legend), y(Decimal(0)), empty)
