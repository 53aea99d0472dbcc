"""Read flows: keyword-only functions that return plain data for views and the API."""

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.db.models import F
from django.utils.html import escape
from django.utils.text import Truncator

from . import search, timeline
from .facets import LANGUAGE_NAMES, facet
from .filters import (
    FACET_FILTER_PARAMS,
    FACET_PARAMS,
    KNOWN_PARAMS,
    PARAM_ORDER,
    ArticleFilter,
    PageForm,
)
from .models import Article

DEFAULT_PER_PAGE = 20
SNIPPET_LENGTH = 300
FACET_LABELS = {"source": "Source", "city": "City", "actor": "Actor", "country": "Country",
                "year": "Year", "language": "Language"}


class PageNotFound(Exception):
    """The requested page is past the end of the results."""


@dataclass
class Result:
    article: Article
    snippet: str


@dataclass
class SearchPage:
    q: str
    sort: str
    count: int
    page: int
    pages: int
    per_page: int
    results: list[Result]
    facets: dict[str, list[dict]]
    errors: dict[str, str]
    state: list[tuple[str, str]]
    active: list[dict] = field(default_factory=list)
    corrected: str | None = None
    timeline: dict = field(default_factory=dict)
    facet_filters: dict = field(default_factory=dict)

    def url(self, drop: tuple[str, ...] = (), **set_values) -> str:
        """This search's query string with parameters dropped or set."""
        pairs = [(k, v) for k, v in self.state if k not in drop and k not in set_values]
        pairs += [(k, str(v)) for k, v in set_values.items() if v not in (None, "")]
        return "?" + urlencode(pairs) if pairs else "?"

    def page_url(self, number: int) -> str:
        return self.url(drop=("page",), page=number if number > 1 else None)

    @property
    def page_links(self) -> list[dict]:
        """Numbered pagination: first, last and a window around the current page."""
        numbers = sorted(
            {1, self.pages, *range(max(1, self.page - 2), min(self.pages, self.page + 2) + 1)}
        )
        links, previous = [], 0
        for n in numbers:
            if n - previous > 1:
                links.append({"gap": True})
            links.append({"number": n, "url": self.page_url(n), "current": n == self.page})
            previous = n
        return links

    @property
    def facet_form_state(self) -> dict[str, list[tuple[str, str]]]:
        """For each facet's filter box: the search's state to resubmit with it."""
        return {name: [(k, v) for k, v in self.state if k not in ("page", f"facet_{name}")]
                for name in ("source", "city", "actor", "country")}

    @property
    def facet_state(self) -> list[tuple[str, str]]:
        """The facet selections, carried as hidden fields when the search form is resubmitted."""
        return [(k, v) for k, v in self.state if k in FACET_PARAMS]

    @property
    def corrected_url(self) -> str:
        return self.url(drop=("page",), q=self.corrected) if self.corrected else ""

    @property
    def previous_url(self) -> str:
        return self.page_url(self.page - 1)

    @property
    def next_url(self) -> str:
        return self.page_url(self.page + 1)

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def first_index(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.count else 0

    @property
    def last_index(self) -> int:
        return min(self.page * self.per_page, self.count)


@dataclass
class _Resolved:
    """A search reduced to what it lists: DB-filtered queryset plus text ranking."""

    filterset: ArticleFilter
    q: str
    sort: str
    errors: dict[str, str]
    state: list[tuple[str, str]]
    matched: search.TextMatches | None
    ordered: list[int] | None  # the result pks in order, when a text query ranks them
    corrected: str | None = None
    dates: dict | None = None  # pk -> publication date of the text matches

    @property
    def qs(self):
        return self.filterset.qs


def _first(errors) -> str:
    return str(errors[0]) if errors else "Invalid value."


def _resolve(params) -> _Resolved:
    errors: dict[str, str] = {}
    for key in params:
        if key not in KNOWN_PARAMS:
            errors[key[:50]] = "Unknown parameter: it was ignored."
    filterset = ArticleFilter(params, queryset=Article.objects.published())
    filterset.is_valid()
    for name, errs in filterset.errors.items():
        errors["q" if name == "__all__" else name] = _first(errs)
    cleaned = filterset.form.cleaned_data
    state = [
        (key, value)
        for key in PARAM_ORDER  # a fixed order, so one search has one URL
        if key not in errors
        for value in params.getlist(key)
        if value.strip()
    ]

    q = cleaned.get("q") or ""
    sort = cleaned.get("sort") or ("relevance" if q else "newest")
    matched = None
    if q:
        try:
            matched = search.match(q)
            if matched.notices:
                errors["q"] = " ".join(matched.notices)
        except search.QueryError as exc:
            errors["q"] = str(exc)
            q = ""
        except search.IndexUnavailable:
            errors["q"] = "Full-text search is unavailable while the index is rebuilt; the " \
                          "filters were applied without the query."
            q = ""
    if not q and sort == "relevance":
        sort = "newest"

    ordered = dates = None
    if matched is not None:
        dates = dict(filterset.qs.order_by().values_list("pk", "published").iterator(5000))
        ordered = [pk for pk in matched.pks if pk in dates]
        if sort == "newest":
            ordered.sort(key=lambda pk: (dates[pk] or dt.date.min, pk), reverse=True)
        elif sort == "oldest":  # undated reports last, as in the database ordering
            ordered.sort(key=lambda pk: (dates[pk] is None, dates[pk] or dt.date.min, pk))
    return _Resolved(filterset, q, sort, errors, state, matched, ordered,
                     corrected=matched.corrected if matched else None,
                     dates={pk: dates[pk] for pk in ordered} if ordered is not None else None)


def _ordered_queryset(qs, sort: str):
    if sort == "oldest":
        return qs.order_by(F("published").asc(nulls_last=True), "pk")
    return qs.newest_first()


def _snippets(q: str, articles: list[Article]) -> dict[int, str]:
    marked = search.snippets(q, {a.pk: a.body for a in articles}, length=SNIPPET_LENGTH) if q else {}
    return {
        a.pk: marked.get(a.pk) or escape(Truncator(a.body).chars(SNIPPET_LENGTH))
        for a in articles
    }


def article_search(*, params) -> SearchPage:
    """One page of the public search for the URL parameters `params` (a QueryDict).

    Only published articles are listed or counted. Invalid parameters are reported in
    `errors` and left out; the rest of the search applies. Raises PageNotFound for a
    page past the end.
    """
    resolved = _resolve(params)
    errors = resolved.errors
    paging = PageForm(params)
    paging.is_valid()
    for name, errs in paging.errors.items():
        errors[name] = _first(errs)
        resolved.state = [(k, v) for k, v in resolved.state if k != name]
    page = paging.cleaned_data.get("page") or 1
    per_page = paging.cleaned_data.get("per_page") or DEFAULT_PER_PAGE

    if resolved.ordered is not None:
        count = len(resolved.ordered)
    else:
        count = resolved.qs.count()
    pages = max(1, math.ceil(count / per_page))
    if page > pages:
        raise PageNotFound(f"There are only {pages} page(s) of results.")
    offset = (page - 1) * per_page
    if resolved.ordered is not None:
        page_pks = resolved.ordered[offset : offset + per_page]
        by_pk = Article.objects.filter(pk__in=page_pks).with_metadata().in_bulk()
        articles = [by_pk[pk] for pk in page_pks if pk in by_pk]
    else:
        qs = _ordered_queryset(resolved.qs, resolved.sort).with_metadata()
        articles = list(qs[offset : offset + per_page])
    snippets = _snippets(resolved.q, articles)
    results = [Result(article=a, snippet=snippets[a.pk]) for a in articles]

    page_obj = SearchPage(
        q=resolved.q, sort=resolved.sort, count=count, page=page, pages=pages,
        per_page=per_page, results=results, facets={}, errors=errors,
        state=resolved.state, corrected=resolved.corrected,
    )
    page_obj.facet_filters = {name[len("facet_"):]: paging.cleaned_data.get(name) or ""
                              for name in FACET_FILTER_PARAMS}
    page_obj.facets = _facets(params, resolved, page_obj)
    page_obj.active = _active_filters(resolved, page_obj)
    page_obj.timeline = _timeline(resolved, page_obj)
    return page_obj


def _timeline(resolved: _Resolved, page_obj: SearchPage) -> dict:
    def narrow(start, end):
        return page_obj.url(drop=("page", "date_from", "date_to"),
                            date_from=start.isoformat(), date_to=end.isoformat())

    if resolved.dates is not None:
        return timeline.from_dates(resolved.dates.values(), link=narrow)
    return timeline.from_queryset(resolved.qs, link=narrow)


def _toggle_url(page_obj: SearchPage):
    def toggle(name: str, value: str) -> str:
        state = [kv for kv in page_obj.state if kv[0] != "page"]
        if (name, value) in state:
            state.remove((name, value))
        else:
            state.append((name, value))
        return "?" + urlencode(state) if state else "?"

    return toggle


def _facets(params, resolved: _Resolved, page_obj: SearchPage) -> dict[str, list[dict]]:
    cleaned = resolved.filterset.form.cleaned_data
    matched = set(resolved.matched.pks) if resolved.matched is not None else None
    toggle = _toggle_url(page_obj)
    facets = {}
    multilingual = len(Article.objects.published().order_by().values("language").distinct()[:2]) > 1
    for name in FACET_PARAMS:
        if name == "language" and not (multilingual or cleaned.get("language")):
            continue  # one language in the archive: nothing to choose

        others = params.copy()
        others.pop(name, None)
        for bad in resolved.errors:  # invalid values are ignored here too
            others.pop(bad, None)
        qs = ArticleFilter(others, queryset=Article.objects.published()).qs
        facets[name] = facet(name, qs, matched, cleaned.get(name) or [], toggle,
                             contains=page_obj.facet_filters.get(name, ""))
    return facets


def _active_filters(resolved: _Resolved, page_obj: SearchPage) -> list[dict]:
    cleaned = resolved.filterset.form.cleaned_data
    chips = []

    def remove(name, value=None):
        state = [kv for kv in page_obj.state
                 if kv[0] != "page" and not (kv[0] == name and (value is None or kv[1] == value))]
        return "?" + urlencode(state) if state else "?"

    if resolved.q:
        chips.append({"label": "Text", "value": resolved.q, "url": remove("q")})
    for name in ("source", "city", "actor", "country"):
        for entity in cleaned.get(name) or []:
            chips.append({"label": FACET_LABELS[name], "value": entity.name,
                          "url": remove(name, entity.slug)})
    for year in cleaned.get("year") or []:
        chips.append({"label": "Year", "value": str(year), "url": remove("year", str(year))})
    for code in cleaned.get("language") or []:
        chips.append({"label": "Language", "value": LANGUAGE_NAMES.get(code, code),
                      "url": remove("language", code)})
    for name, label in (("date_from", "From"), ("date_to", "To")):
        if cleaned.get(name):
            chips.append({"label": label, "value": cleaned[name], "url": remove(name)})
    return chips


def search_results_iter(*, params, chunk: int = 500) -> tuple[_Resolved, Iterator[Article]]:
    """Every result of a search in order, fetched in chunks (feeds and exports)."""
    resolved = _resolve(params)

    def articles():
        if resolved.ordered is None:
            yield from _ordered_queryset(resolved.qs, resolved.sort).with_metadata().iterator(chunk)
            return
        for start in range(0, len(resolved.ordered), chunk):
            pks = resolved.ordered[start : start + chunk]
            by_pk = Article.objects.filter(pk__in=pks).with_metadata().in_bulk()
            yield from (by_pk[pk] for pk in pks if pk in by_pk)

    return resolved, articles()


def article_detail(*, slug: str, user=None) -> Article | None:
    """The article with this slug if `user` may see it (drafts are for staff only)."""
    return Article.objects.visible_to(user).with_metadata().filter(slug=slug).first()


def related_articles(*, article: Article, limit: int = 5) -> list[Article]:
    """Published articles most like `article`, itself excluded, best first."""
    pks = [pk for pk in search.related(article, limit=limit + 1) if pk != article.pk]
    by_pk = Article.objects.published().filter(pk__in=pks).with_metadata().in_bulk()
    return [by_pk[pk] for pk in pks if pk in by_pk][:limit]
