"""A server-side SVG bar chart of Skonto captured vs lost (EUR) per month, for the Kämmerei page.

Inline ``<svg role="img">`` with ``<title>`` and ``<desc>`` (the desc lists every figure, so a screen
reader gets the data), one pair of bars per month: captured as a solid green bar, lost as a red bar
hatched with a ``<pattern>`` — colour is never the only carrier: a legend with the same swatches, and
every bar carries its amount as a text label; the month is written under each pair. No script and no
``style`` attribute (presentation attributes only), so the UI's CSP (``style-src 'self'``, no script)
allows it. All text is escaped.
"""

from __future__ import annotations

from decimal import Decimal
from html import escape

from markupsafe import Markup

from .render import euro

MONTHS = ("Jan", "Feb", "Mär", "Apr", "Mai", "Jun", "Jul", "Aug", "Sep", "Okt", "Nov", "Dez")
CAPTURED, LOST = "#1d6b36", "#9b0017"
HEIGHT, TOP, BOTTOM, LEFT = 260, 56, 40, 12
BAR, GAP, GROUP_GAP = 34, 4, 28


def month_label(month: str) -> str:
    """``2026-11`` → ``Nov 2026``."""
    year, _, number = month.partition("-")
    try:
        return f"{MONTHS[int(number) - 1]} {year}"
    except (ValueError, IndexError):
        return month


def by_month(rows) -> list[tuple[str, Decimal, Decimal]]:
    """(month, captured, lost) summed over the units, oldest month first."""
    months: dict[str, list[Decimal]] = {}
    for row in rows:
        pair = months.setdefault(row.month, [Decimal("0"), Decimal("0")])
        pair[0] += row.captured_amount
        pair[1] += row.lost_amount
    return [(month, pair[0], pair[1]) for month, pair in sorted(months.items())]


def _short(amount: Decimal) -> str:
    return euro(amount).replace("\u00a0", " ")


def skonto_chart(rows, *, title: str = "Skonto gezogen und verloren je Monat") -> Markup:
    data = by_month(rows)
    if not data:
        return Markup("")
    top = max([max(c, lost) for _, c, lost in data] + [Decimal("1")])
    plot = HEIGHT - TOP - BOTTOM
    group = 2 * BAR + GAP + GROUP_GAP
    width = max(LEFT * 2 + group * len(data), 440)  # room for the legend
    desc = "; ".join(f"{month_label(m)}: gezogen {_short(c)}, verloren {_short(lost)}" for m, c, lost in data)
    parts = [
        f'<svg class="chart" role="img" aria-labelledby="skonto-chart-title skonto-chart-desc" '
        f'xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {HEIGHT}" width="{width}" height="{HEIGHT}">',
        f'<title id="skonto-chart-title">{escape(title)}</title>',
        f'<desc id="skonto-chart-desc">{escape(desc)}</desc>',
        '<defs><pattern id="schraffur-verloren" width="8" height="8" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)">'
        f'<rect width="8" height="8" fill="#fbe3e6"/><rect width="4" height="8" fill="{LOST}"/></pattern></defs>',
        # legend: swatch + text, the same fill as the bars
        f'<rect x="{LEFT}" y="8" width="16" height="16" fill="{CAPTURED}" stroke="#1b1b1b"/>',
        f'<text x="{LEFT + 22}" y="21" font-size="13" fill="#1b1b1b">Skonto gezogen (voll)</text>',
        f'<rect x="{LEFT + 180}" y="8" width="16" height="16" fill="url(#schraffur-verloren)" stroke="#1b1b1b"/>',
        f'<text x="{LEFT + 202}" y="21" font-size="13" fill="#1b1b1b">Skonto verloren (schraffiert)</text>',
        f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{width - LEFT}" y2="{HEIGHT - BOTTOM}" stroke="#5c636e"/>',
    ]
    for index, (month, captured, lost) in enumerate(data):
        x0 = LEFT + GROUP_GAP // 2 + index * group
        for offset, amount, fill, what in ((0, captured, CAPTURED, "gezogen"),
                                           (BAR + GAP, lost, "url(#schraffur-verloren)", "verloren")):
            h = int(round(float(amount / top) * plot)) if amount else 0
            x, y = x0 + offset, HEIGHT - BOTTOM - h
            parts.append(f'<rect x="{x}" y="{y}" width="{BAR}" height="{max(h, 1)}" fill="{fill}" stroke="#1b1b1b" '
                         f'stroke-width="0.5"><title>{escape(month_label(month))}: {what} '
                         f'{escape(_short(amount))}</title></rect>')
            label = escape(_short(amount).replace(" €", ""))
            parts.append(f'<text x="{x + BAR / 2}" y="{y - 4}" font-size="10" text-anchor="middle" '
                         f'fill="#1b1b1b">{label}</text>')
        parts.append(f'<text x="{x0 + BAR + GAP / 2}" y="{HEIGHT - BOTTOM + 18}" font-size="12" text-anchor="middle" '
                     f'fill="#1b1b1b">{escape(month_label(month))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
