"""Thin views: parse, call one selector, render."""

from urllib.parse import urlencode

from django import forms
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.db.models import Count, Max, Min, Q
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from . import selectors, timeline
from .http import NotFound
from .kinds import KINDS
from .models import Article
from .text import normalize_name


def home(request):
    published = Article.objects.published()
    context = {
        "total": published.count(),
        "counts": {kind: _with_counts(kind).filter(n__gt=0).count() for kind in KINDS},
        "newest": published.newest_first().with_metadata()[:8],
        "top": {name: {"kind": KINDS[name], "entities": _top_entities(name, 8)}
                for name in ("city", "actor", "source", "country")},
        "timeline": timeline.from_queryset(published, unit="month" if _span_years(published) < 40
                                           else "year", link=_archive_link),
    }
    return render(request, "articles/home.html", context)


def _span_years(qs) -> int:
    dates = qs.aggregate(first=Min("published"), last=Max("published"))
    return (dates["last"].year - dates["first"].year) if dates["first"] else 0


def _archive_link(start, end):
    if start.month == 1 and end.month == 12:
        return reverse("archive-year", args=[start.year])
    return reverse("archive-month", args=[start.year, start.month])


def _count_filter():
    return Q(articles__status=Article.Status.PUBLISHED)


def _with_counts(kind: str):
    """Entities of a kind with their number of published reports as `n`."""
    return KINDS[kind].model.objects.annotate(n=Count("articles", filter=_count_filter(), distinct=True))


def _top_entities(kind: str, limit: int):
    return _with_counts(kind).filter(n__gt=0).order_by("-n", "name")[:limit]


def search_page(request):
    try:
        page = selectors.article_search(params=request.GET)
    except selectors.PageNotFound as exc:
        return render(request, "articles/search.html",
                      {"not_found": str(exc), "q": request.GET.get("q", "")}, status=404)
    return render(request, "articles/search.html", {"page": page, "q": page.q})


def article_detail(request, slug):
    article = selectors.article_detail(slug=slug, user=request.user)
    if article is None:
        raise NotFound("No published article has this address.")
    return render(request, "articles/article.html", {
        "article": article,
        "related": selectors.related_articles(article=article) if article.is_published else [],
        "accessed": timezone.now(),
        "permalink": request.build_absolute_uri(article.get_absolute_url()),
    })


ENTITY_SORTS = {"name": ("name",), "count": ("-n", "name")}


def entity_list(request, kind):
    """Every entity of a kind that published reports name; drafts name nobody here."""
    kind = KINDS[kind]
    form = EntityListForm(request.GET)
    form.is_valid()
    errors = {name: errs[0] for name, errs in form.errors.items()}
    typed = form.cleaned_data.get("q") or ""
    sort = form.cleaned_data.get("sort") or "name"
    entities = _with_counts(kind.name).filter(n__gt=0).prefetch_related("aliases")
    if typed:
        key = normalize_name(typed)
        entities = entities.filter(Q(key__contains=key) | Q(aliases__key__contains=key)).distinct()
    entities = entities.order_by(*ENTITY_SORTS[sort])
    page = _paginate(request, entities, 100)
    if kind.name == "city":
        _attach_countries(page.object_list)
    keep = {k: v for k, v in (("q", typed), ("sort", sort if sort != "name" else "")) if v}
    return render(request, "articles/entity_list.html", {
        "kind": kind.name, "plural": kind.plural, "singular": kind.label, "entities": page,
        "show_countries": kind.name == "city",
        "q": "", "typed": typed, "sort": sort, "errors": errors,
        "query_string": urlencode(keep), "sort_links": {
            option: "?" + urlencode({**keep, "sort": option}) for option in ENTITY_SORTS},
    })


def _attach_countries(cities) -> None:
    """Each city's `countries`: those of its published reports (a name may stand for places
    in several countries, or for one place whose country changed)."""
    through = KINDS["country"].through
    rows = (through.objects.filter(article__status=Article.Status.PUBLISHED,
                                   article__cities__in=[c.pk for c in cities])
            .values_list("article__cities", "country__name").distinct())
    by_city: dict[int, list[str]] = {}
    for city_id, name in rows:
        by_city.setdefault(city_id, []).append(name)
    for city in cities:
        city.countries = sorted(by_city.get(city.pk, []), key=str.casefold)


def entity_detail(request, kind, slug):
    kind = KINDS[kind]
    entity = kind.model.objects.prefetch_related("aliases").filter(slug=slug).first()
    public = entity is not None and entity.is_public
    staff = request.user.is_active and request.user.is_staff
    if entity is None or not (public or staff):
        # A name that only drafts mention is unpublished too: the same answer as no entity.
        raise NotFound(f"There is no {kind.name} at this address.")
    articles = Article.objects.published().filter(**{kind.article_lookup: entity})
    page = _paginate(request, articles.newest_first().with_metadata(), 20)
    search_url = reverse("search") + f"?{kind.name}={entity.slug}"
    if kind.name == "city":
        _attach_countries([entity])
    return render(request, "articles/entity_detail.html", {
        "kind": kind.name, "singular": kind.label, "plural": kind.plural, "entity": entity,
        "articles": page, "search_url": search_url, "public": public,
        "timeline": timeline.from_queryset(
            articles, link=lambda start, end: f"{search_url}&date_from={start}&date_to={end}"),
        "co_reported": _co_reported(kind, articles, entity),
    })


def _co_reported(kind, articles, entity, limit=8) -> list[dict]:
    """The entities most often reported together with `entity`, per kind."""
    groups = []
    for other in KINDS.values():
        rows = other.model.objects.filter(articles__in=articles.values("pk"))
        if other is kind:
            rows = rows.exclude(pk=entity.pk)
        rows = rows.annotate(n=Count("articles", distinct=True)).order_by("-n", "name")[:limit]
        items = [{"name": e.name, "url": e.get_absolute_url(), "count": e.n} for e in rows]
        if items:
            groups.append({"kind": other.name, "label": other.plural, "items": items})
    return groups


def _paginate(request, qs, per_page):
    paginator = Paginator(qs, per_page)
    try:
        return paginator.page(request.GET.get("page") or 1)
    except (PageNotAnInteger, EmptyPage) as exc:
        raise NotFound(f"There is no such page: pages run from 1 to {paginator.num_pages}.") from exc


class EntityListForm(forms.Form):
    q = forms.CharField(max_length=100, required=False, strip=True)
    sort = forms.ChoiceField(choices=[("name", "name"), ("count", "count")], required=False,
                             error_messages={"invalid_choice": "Sort by name or by count."})
    page = forms.IntegerField(min_value=1, required=False)


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        from django.http import JsonResponse

        return JsonResponse({"errors": {"path": "There is nothing at this address."}}, status=404)
    return render(request, "404.html", {"message": _reader_message(exception)}, status=404)


def _reader_message(exception) -> str:
    return str(exception) if isinstance(exception, NotFound) else ""


def bad_request(request, exception=None):
    if request.path.startswith("/api/"):
        from django.http import JsonResponse

        return JsonResponse({"errors": {"request": "The request could not be read."}}, status=400)
    return render(request, "400.html", status=400)


def server_error(request):
    return render(request, "500.html", status=500)
