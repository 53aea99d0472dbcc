"""Thin views: parse, call one read flow (`articles.browse`), render."""

import functools
from urllib.parse import urlencode

from django import forms
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import get_script_prefix, reverse
from django.utils import timezone

from articles.browse import overview
from articles.browse.search import PastTheEnd, Search
from articles.kinds import KINDS
from articles.models import Article
from articles.search import related

from .http import NotFound


def _archive_link(start, end):
    whole_year = start.month == 1 and end.month == 12
    return _period_url(get_script_prefix(), start.year, None if whole_year else start.month)


@functools.lru_cache(maxsize=4096)
def _period_url(prefix: str, year: int, month: int | None) -> str:
    # A monthly timeline links each of its hundreds of bars: reversed once per period.
    if month is None:
        return reverse("archive-year", args=[year])
    return reverse("archive-month", args=[year, month])


def home(request):
    return render(request, "articles/home.html", overview.home(archive_link=_archive_link))


def search_page(request):
    search = Search(request.GET)
    try:
        page = search.page(timeline=True)
    except PastTheEnd as exc:
        return render(
            request,
            "articles/search.html",
            {"not_found": str(exc), "q": request.GET.get("q", "")},
            status=404,
        )
    return render(request, "articles/search.html", {"page": page, "q": page.q})


def related_articles(article: Article, *, limit: int = 5) -> list[Article]:
    """Published articles most like `article`, itself excluded, best first."""
    pks = [pk for pk in related(article, limit=limit + 1) if pk != article.pk]
    return overview.published(pks)[:limit]


def article_detail(request, slug):
    article = Article.objects.visible_to(request.user).with_metadata().filter(slug=slug).first()
    if article is None:
        raise NotFound("No published article has this address.")
    return render(
        request,
        "articles/article.html",
        {
            "article": article,
            "related": related_articles(article) if article.is_published else [],
            "accessed": timezone.now(),
            "permalink": request.build_absolute_uri(article.get_absolute_url()),
        },
    )


class EntityListForm(forms.Form):
    q = forms.CharField(max_length=100, required=False, strip=True)
    sort = forms.ChoiceField(
        choices=[(s, s) for s in overview.ENTITY_SORTS],
        required=False,
        error_messages={"invalid_choice": "Sort by name or by count."},
    )


def entity_list(request, kind):
    """Every entity of a kind that published reports name; drafts name nobody here."""
    kind = KINDS[kind]
    form = EntityListForm(request.GET)
    form.is_valid()
    errors = {name: errs[0] for name, errs in form.errors.items()}
    typed = form.cleaned_data.get("q") or ""
    sort = form.cleaned_data.get("sort") or "name"
    try:
        page = overview.entity_list(kind, typed=typed, sort=sort, number=request.GET.get("page"))
    except overview.NoSuchPage as exc:
        raise NotFound(str(exc)) from exc
    keep = {k: v for k, v in (("q", typed), ("sort", sort if sort != "name" else "")) if v}
    return render(
        request,
        "articles/entity_list.html",
        {
            "kind": kind.name,
            "plural": kind.plural,
            "singular": kind.label,
            "entities": page,
            "show_countries": kind.name == "city",
            "q": "",
            "typed": typed,
            "sort": sort,
            "errors": errors,
            "query_string": urlencode(keep),
            "sort_links": {
                option: "?" + urlencode({**keep, "sort": option}) for option in overview.ENTITY_SORTS
            },
        },
    )


def entity_detail(request, kind, slug):
    kind = KINDS[kind]
    entity = kind.model.objects.prefetch_related("aliases").filter(slug=slug).first()
    public = entity is not None and entity.is_public
    staff = request.user.is_active and request.user.is_staff
    if entity is None or not (public or staff):
        # A name that only drafts mention is unpublished too: the same answer as no entity.
        raise NotFound(f"There is no {kind.name} at this address.")
    search_url = reverse("search") + f"?{kind.name}={entity.slug}"
    try:
        context = overview.entity(kind, entity, number=request.GET.get("page"), search_url=search_url)
    except overview.NoSuchPage as exc:
        raise NotFound(str(exc)) from exc
    return render(
        request,
        "articles/entity_detail.html",
        {
            "kind": kind.name,
            "singular": kind.label,
            "plural": kind.plural,
            "entity": entity,
            "search_url": search_url,
            "public": public,
            **context,
        },
    )


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return JsonResponse({"errors": {"path": "There is nothing at this address."}}, status=404)
    message = str(exception) if isinstance(exception, NotFound) else ""
    return render(request, "404.html", {"message": message}, status=404)


def bad_request(request, exception=None):
    if request.path.startswith("/api/"):
        return JsonResponse({"errors": {"request": "The request could not be read."}}, status=400)
    return render(request, "400.html", status=400)


def server_error(request):
    return render(request, "500.html", status=500)
