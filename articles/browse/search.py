"""One search, resolved once: what `/search/`, `/api/search/`, the feed and the exports list.

`Search(params)` validates the parameters (a bad one is reported in `errors` and left out;
the rest applies), asks the search engine for a `Selection` (falling back to the database
without the text query while the index is missing or being rebuilt), and answers
`page()`, `count`, `facets()`, `timeline()`, `chips()` and `articles()` (every result in
order, read in chunks) alike for every consumer. Only published articles are ever listed.
"""

import math
from dataclasses import dataclass, field, replace
from functools import cached_property

from django.utils.html import escape
from django.utils.text import Truncator

from articles import search as engine
from articles.models import Article
from articles.search.database import DatabaseSelection

from . import timeline
from .facets import FACETS, language_name
from .filters import FACET_FILTER_PARAMS, KNOWN_PARAMS, PARAM_ORDER, ArticleFilter, PageForm
from .state import UrlState

DEFAULT_PER_PAGE = 20
SNIPPET_LENGTH = 300
UNAVAILABLE = (
    "Full-text search is unavailable while the index is rebuilt; the filters were applied without the query."
)


class PastTheEnd(ValueError):
    """The requested page is past the end of the results."""


@dataclass
class Result:
    article: Article
    snippet: str


@dataclass
class SearchPage:
    """One page of a search, as templates and the API read it."""

    search: "Search"
    page: int
    per_page: int
    results: list[Result]
    facets: dict[str, list[dict]] = field(default_factory=dict)

    def __getattr__(self, name):
        return getattr(self.search, name)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.count / self.per_page))

    def url(self, drop: tuple[str, ...] = (), **values) -> str:
        return self.state.url(drop=drop, **values)

    @property
    def page_links(self) -> list[dict]:
        """Numbered pagination: first, last and a window around the current page."""
        numbers = sorted({1, self.pages, *range(max(1, self.page - 2), min(self.pages, self.page + 2) + 1)})
        links, previous = [], 0
        for n in numbers:
            if n - previous > 1:
                links.append({"gap": True})
            links.append({"number": n, "url": self.state.page_url(n), "current": n == self.page})
            previous = n
        return links

    @property
    def previous_url(self) -> str:
        return self.state.page_url(self.page - 1)

    @property
    def next_url(self) -> str:
        return self.state.page_url(self.page + 1)

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


class Search:
    def __init__(self, params):
        self.params = params
        self.errors: dict[str, str] = {}
        for key in params:
            if key not in KNOWN_PARAMS:
                self.errors[key[:50]] = "Unknown parameter: it was ignored."
        self.filterset = ArticleFilter(params, queryset=Article.objects.none())
        self.filterset.is_valid()
        for name, errs in self.filterset.errors.items():
            self.errors["q" if name == "__all__" else name] = _first(errs)
        self.cleaned = self.filterset.form.cleaned_data
        self.paging = PageForm(params)
        self.paging.is_valid()
        for name, errs in self.paging.errors.items():
            self.errors[name] = _first(errs)
        self.facet_filters = {
            name[len("facet_") :]: self.paging.cleaned_data.get(name) or "" for name in FACET_FILTER_PARAMS
        }
        self.state = UrlState.from_params(params, PARAM_ORDER, leave_out=self.errors)
        self.selection = self._select(self.filterset.criteria())
        self.q = self.selection.criteria.q
        self.sort = self.selection.criteria.sort
        self.corrected = self.selection.corrected

    def _select(self, criteria):
        if not criteria.q and criteria.sort == "relevance":
            criteria = replace(criteria, sort="newest")
        names = engine.names.table() if criteria.q else None
        try:
            selection = engine.get_backend().select(criteria, names=names)
            if selection.notices:
                self.errors["q"] = " ".join(selection.notices)
            return selection
        except engine.QueryError as exc:
            self.errors["q"] = str(exc)
        except engine.IndexUnavailable:
            if criteria.q:
                self.errors["q"] = UNAVAILABLE
        plain = replace(criteria, q="", sort="newest" if criteria.sort == "relevance" else criteria.sort)
        try:
            return engine.get_backend().select(plain)
        except engine.IndexUnavailable:
            return DatabaseSelection(plain)

    # ------------------------------------------------------------------ answers

    @cached_property
    def count(self) -> int:
        return self.selection.count()

    def page(self, *, facets: bool = True, timeline: bool = False) -> SearchPage:
        """The page the parameters ask for, with its facets (and, when `timeline` says it will
        be shown, its counts asked together with them). Raises PastTheEnd."""
        number = self.paging.cleaned_data.get("page") or 1
        per_page = self.paging.cleaned_data.get("per_page") or DEFAULT_PER_PAGE
        try:
            if facets or timeline:
                self.selection.prefetch([f.name for f in FACETS] if facets else (), dates=timeline)
            pages = max(1, math.ceil(self.count / per_page))
            if number > pages:
                raise PastTheEnd(f"There are only {pages} page(s) of results.")
            pks = self.selection.pks((number - 1) * per_page, per_page)
            page_facets = self.facets() if facets else None
        except engine.QueryError as exc:
            # The text search ran out of time (its ranking's budget, or on the PostgreSQL
            # engine its deadline): said, and the reports listed by date under the filters.
            self.errors["q"] = str(exc)
            self.selection = self._select(replace(self.selection.criteria, q=""))
            self.q, self.sort = "", self.selection.criteria.sort
            self.__dict__.pop("count", None)
            return self.page(facets=facets, timeline=timeline)
        articles = self._articles(pks)
        snippets = self._snippets(articles)
        page = SearchPage(self, number, per_page, [Result(a, snippets[a.pk]) for a in articles])
        if facets:
            page.facets = page_facets
        return page

    @staticmethod
    def _articles(pks: list[int]) -> list[Article]:
        """The articles in order, published ones only (the index may trail a change)."""
        by_pk = Article.objects.published().filter(pk__in=pks).with_metadata().in_bulk()
        return [by_pk[pk] for pk in pks if pk in by_pk]

    def _snippets(self, articles: list[Article]) -> dict[int, str]:
        marked = (
            engine.snippets(self.q, {a.pk: a.body for a in articles}, length=SNIPPET_LENGTH) if self.q else {}
        )
        return {a.pk: marked.get(a.pk) or escape(Truncator(a.body).chars(SNIPPET_LENGTH)) for a in articles}

    def articles(self, *, chunk: int = 500):
        """Every result in order, fetched `chunk` at a time (feeds and exports)."""
        batch = []
        for pk in self.selection.iter_pks(chunk):
            batch.append(pk)
            if len(batch) >= chunk:
                yield from self._articles(batch)
                batch = []
        if batch:
            yield from self._articles(batch)

    def facets(self) -> dict[str, list[dict]]:
        return {facet.name: facet.values(self) for facet in FACETS if facet.shown(self)}

    def archive_languages(self) -> list[str]:
        if not hasattr(self, "_languages"):
            whole = self._select_all()
            self._languages = sorted(whole.counts("language"))
        return self._languages

    def _select_all(self):
        from articles.search.criteria import Criteria

        try:
            return engine.get_backend().select(Criteria())
        except engine.IndexUnavailable:
            return DatabaseSelection(Criteria())

    def timeline(self) -> dict:
        def narrow(start, end):
            return self.state.url(
                drop=("page", "date_from", "date_to"), date_from=start.isoformat(), date_to=end.isoformat()
            )

        return timeline.from_selection(self.selection, link=narrow)

    def chips(self) -> list[dict]:
        """Every active filter as a removable chip ("City: Almaty ×")."""
        chips = [{"label": "Text", "value": self.q, "url": self.state.without("q")}] if self.q else []
        for facet in FACETS:
            for value in self.cleaned.get(facet.name) or []:
                key = getattr(value, "slug", str(value))
                label = getattr(value, "name", None) or (
                    language_name(value) if facet.name == "language" else str(value)
                )
                chips.append(
                    {"label": facet.label, "value": label, "url": self.state.without(facet.name, key)}
                )
        for name, label in (("date_from", "From"), ("date_to", "To")):
            if self.cleaned.get(name):
                chips.append({"label": label, "value": self.cleaned[name], "url": self.state.without(name)})
        return chips

    # ------------------------------------------------------ for the templates

    @property
    def active(self) -> list[dict]:
        return self.chips()

    @property
    def corrected_url(self) -> str:
        return self.state.url(drop=("page",), q=self.corrected) if self.corrected else ""

    @property
    def facet_form_state(self) -> dict[str, list[tuple[str, str]]]:
        """For each facet's filter box: the search's state to resubmit with it."""
        return {
            facet.name: self.state.except_(("page", f"facet_{facet.name}"))
            for facet in FACETS
            if facet.filter_box
        }

    @property
    def facet_state(self) -> list[tuple[str, str]]:
        """The facet selections, carried as hidden fields when the search form is resubmitted."""
        return self.state.keep({facet.name for facet in FACETS})


def _first(errors) -> str:
    return str(errors[0]) if errors else "Invalid value."
