"""Date pages: `/archive/<yyyy>/` and `/archive/<yyyy>/<mm>/`.

Each shows the period's published reports counted per month (year page) or per day (month
page) as a small bar chart and as a table, the reports newest first (20 a page, `?page=N`),
links to the neighbouring periods (empty ones included, marked "no reports"), to every year
that has reports, and to the same period in search, its feed and its exports.

Paths are canonical: `/archive/2020/6/` redirects to `/archive/2020/06/`. A year outside
1-9999, a month outside 1-12, a bad or past-the-end page answers 404 with a message.
"""

import calendar
import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

from django.shortcuts import redirect, render
from django.template.defaultfilters import date as format_date
from django.urls import reverse

from articles.browse import overview

from .http import NotFound

MIN_YEAR, MAX_YEAR = 1, 9999
PER_PAGE = 20


# ------------------------------------------------------------------ read flows


@dataclass
class Bar:
    """One row of a period's chart and table."""

    label: str  # "January 2020", "10 June 2020"
    short: str  # "Jan", "10": the chart's axis label
    count: int
    height: float  # percent of the tallest bar
    url: str | None


@dataclass
class Neighbour:
    label: str
    url: str
    count: int


def year_url(year: int) -> str:
    return reverse("archive-year", args=[f"{year:04d}"])


def month_url(year: int, month: int) -> str:
    return reverse("archive-month", args=[f"{year:04d}", f"{month:02d}"])


def search_url(start: dt.date, end: dt.date, base: str = "search") -> str:
    return reverse(base) + "?" + urlencode({"date_from": start.isoformat(), "date_to": end.isoformat()})


def _heights(counts: list[int]) -> list[float]:
    top = max(counts, default=0)
    # A bar for a single report stays visible beside a tall one.
    return [max(100 * n / top, 2.0) if n else 0.0 for n in counts] if top else [0.0] * len(counts)


def months_of_year(year: int, by_month) -> list[Bar]:
    counts = [by_month.get(dt.date(year, m, 1), 0) for m in range(1, 13)]
    return [
        Bar(
            label=format_date(dt.date(year, m, 1), "F Y"),
            short=format_date(dt.date(year, m, 1), "M"),
            count=n,
            height=h,
            url=month_url(year, m),
        )
        for m, n, h in zip(range(1, 13), counts, _heights(counts), strict=True)
    ]


def days_of_month(year: int, month: int, by_day) -> list[Bar]:
    days = [dt.date(year, month, d) for d in range(1, calendar.monthrange(year, month)[1] + 1)]
    counts = [by_day.get(day, 0) for day in days]
    return [
        Bar(
            label=format_date(day, "j F Y"),
            short=str(day.day),
            count=n,
            height=h,
            url=search_url(day, day) if n else None,
        )
        for day, n, h in zip(days, counts, _heights(counts), strict=True)
    ]


def years_with_reports() -> list[dict]:
    return [{"year": year, "count": n, "url": year_url(year)} for year, n in overview.years_with_reports()]


def _neighbour(label: str, url: str, start: dt.date, end: dt.date) -> Neighbour:
    selection, _ = overview.period(start, end, "year")
    return Neighbour(label=label, url=url, count=selection.count())


# ---------------------------------------------------------------------- views


def _check_year(year: int):
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise NotFound(
            f"There is no archive page for the year {year}: years run from {MIN_YEAR} to {MAX_YEAR}."
        )


def _page(request, selection, period: str):
    raw = request.GET.get("page") or "1"
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 7 and int(raw) >= 1):
        raise NotFound(f"“{raw[:20]}” is not a page number: pages are numbered from 1.")
    try:
        return overview.paginate(overview.Listing(selection), int(raw), PER_PAGE)
    except overview.NoSuchPage:
        pages = max(1, -(-selection.count() // PER_PAGE))
        raise NotFound(
            f"There is no page {raw} of the reports from {period}: "
            f"there {'is only 1 page' if pages == 1 else f'are {pages} pages'}."
        ) from None


def _canonical(request, url: str):
    if request.path != url:
        query = request.META.get("QUERY_STRING")
        return redirect(url + (f"?{query}" if query else ""), permanent=True)
    return None


def _render(request, template, context):
    context["years"] = years_with_reports()
    return render(request, template, context)


def year_archive(request, year: int):
    _check_year(year)
    if response := _canonical(request, year_url(year)):
        return response
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    period = str(year)
    selection, by_month = overview.period(start, end, "month")
    bars = months_of_year(year, by_month)
    neighbours = {}
    if year > MIN_YEAR:
        neighbours["previous"] = _neighbour(
            str(year - 1), year_url(year - 1), dt.date(year - 1, 1, 1), dt.date(year - 1, 12, 31)
        )
    if year < MAX_YEAR:
        neighbours["next"] = _neighbour(
            str(year + 1), year_url(year + 1), dt.date(year + 1, 1, 1), dt.date(year + 1, 12, 31)
        )
    return _render(
        request,
        "articles/archive_year.html",
        {
            "year": year,
            "period": period,
            "bars": bars,
            "total": sum(b.count for b in bars),
            "articles": _page(request, selection, period),
            "neighbours": neighbours,
            **_period_links(start, end),
        },
    )


def month_archive(request, year: int, month: int):
    _check_year(year)
    if not 1 <= month <= 12:
        raise NotFound(f"There is no month {month}: months run from 01 (January) to 12 (December).")
    if response := _canonical(request, month_url(year, month)):
        return response
    start = dt.date(year, month, 1)
    end = dt.date(year, month, calendar.monthrange(year, month)[1])
    period = format_date(start, "F Y")
    selection, by_day = overview.period(start, end, "day")
    bars = days_of_month(year, month, by_day)
    neighbours = {}
    before = (year, month - 1) if month > 1 else (year - 1, 12)
    after = (year, month + 1) if month < 12 else (year + 1, 1)
    if before[0] >= MIN_YEAR:
        first = dt.date(*before, 1)
        neighbours["previous"] = _neighbour(
            format_date(first, "F Y"),
            month_url(*before),
            first,
            dt.date(*before, calendar.monthrange(*before)[1]),
        )
    if after[0] <= MAX_YEAR:
        first = dt.date(*after, 1)
        neighbours["next"] = _neighbour(
            format_date(first, "F Y"),
            month_url(*after),
            first,
            dt.date(*after, calendar.monthrange(*after)[1]),
        )
    return _render(
        request,
        "articles/archive_month.html",
        {
            "year": year,
            "month": month,
            "start": start,
            "period": period,
            "bars": bars,
            "total": sum(b.count for b in bars),
            "year_url": year_url(year),
            "articles": _page(request, selection, period),
            "neighbours": neighbours,
            **_period_links(start, end),
        },
    )


def _period_links(start: dt.date, end: dt.date) -> dict:
    return {
        "search_url": search_url(start, end),
        "feed_url": search_url(start, end, "search-feed"),
        "csv_url": search_url(start, end, "search-export-csv"),
        "json_url": search_url(start, end, "search-export-json"),
    }
