"""Timelines as data: report counts per year or per month, each bar linking to its period.

The span decides the unit: up to three years of reports are counted per month, longer spans
per year. Templates draw the bars as SVG (templates/articles/_timeline.html) with the counts
also given as text. The markup repeated for every bar (a monthly timeline of thirty years has
360) is built here, escaped as the template would escape it: rendered by the template
language, it took more than half of the home page's time.
"""

import calendar
import datetime as dt
from collections import Counter
from collections.abc import Callable

from django.template.defaultfilters import pluralize
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

MONTHLY_SPAN_YEARS = 3
BAR_STEP = 10
CHART_HEIGHT = 60


def _period_end(start: dt.date, unit: str) -> dt.date:
    if unit == "year":
        return dt.date(start.year, 12, 31)
    return dt.date(start.year, start.month, calendar.monthrange(start.year, start.month)[1])


def _next(start: dt.date, unit: str) -> dt.date:
    if unit == "year":
        return dt.date(start.year + 1, 1, 1)
    return dt.date(start.year + (start.month == 12), start.month % 12 + 1, 1)


def _unit(first: dt.date, last: dt.date, unit: str | None) -> str:
    if unit:
        return unit
    return "month" if last.year - first.year < MONTHLY_SPAN_YEARS else "year"


def _marks(bars: list[dict], width: int) -> SafeString:
    """The SVG bars: one rectangle per period with reports, a link when it has one. Labels
    and links are escaped; the other values are numbers."""
    parts = []
    for bar in bars:
        n = bar["count"]
        if not n:
            continue
        label = escape(bar["label"])
        rect = (
            f'<rect x="{bar["x"]}" y="{bar["y"]}" width="{width}" height="{bar["h"]}">'
            f"<title>{label}: {n}</title></rect>"
        )
        if bar["url"]:
            rect = f'<a href="{escape(bar["url"])}" aria-label="{label}: {n} report{pluralize(n)}">{rect}</a>'
        parts.append(rect)
    return mark_safe("".join(parts))


def _rows(bars: list[dict]) -> SafeString:
    """The table's rows: the same counts as text."""
    parts = []
    for bar in bars:
        if bar["count"]:
            label = escape(bar["label"])
            if bar["url"]:
                label = f'<a href="{escape(bar["url"])}">{label}</a>'
            parts.append(f'<tr><th scope="row">{label}</th><td class="num">{bar["count"]}</td></tr>')
    return mark_safe("".join(parts))


def build(counts: Counter, unit: str, link: Callable[[dt.date, dt.date], str] | None) -> dict:
    """Bars for every period from the first to the last counted one (empty ones included)."""
    if not counts:
        return {"unit": unit, "bars": [], "total": 0, "max": 0}
    first, last = min(counts), max(counts)
    bars, start = [], first
    peak = max(counts.values())
    while start <= last:
        end = _period_end(start, unit)
        n = counts.get(start, 0)
        height = round(CHART_HEIGHT * n / peak, 1) if peak else 0
        if n and height < 1:
            height = 1  # a period with reports never draws as empty
        bars.append(
            {
                "x": len(bars) * BAR_STEP,
                "y": round(CHART_HEIGHT - height, 1),
                "h": height,
                "start": start,
                "end": end,
                "count": n,
                "label": str(start.year) if unit == "year" else start.strftime("%B %Y"),
                "short": str(start.year) if unit == "year" else start.strftime("%b %Y"),
                "url": link(start, end) if link and n else "",
            }
        )
        start = _next(start, unit)
    return {
        "unit": unit,
        "bars": bars,
        "marks": _marks(bars, BAR_STEP - 2),
        "rows": _rows(bars),
        "total": sum(counts.values()),
        "max": peak,
        "width": len(bars) * BAR_STEP,
        "height": CHART_HEIGHT,
        "bar_width": BAR_STEP - 2,
        "first": bars[0]["short"],
        "last": bars[-1]["short"],
    }


def from_selection(selection, *, link=None, unit: str | None = None) -> dict:
    """Timeline of the articles a search selects, counted by its engine."""
    first, last = selection.date_span()
    if first is None:
        return build(Counter(), unit or "year", link)
    unit = _unit(first, last, unit)
    return build(selection.dates(unit), unit, link)
