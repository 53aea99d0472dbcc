"""Thin views: parse, call one selector, render."""

from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone

from . import selectors
from .models import Actor, Article, City, Source

ENTITY_PAGES = {
    "city": (City, "cities", "City", "Cities"),
    "actor": (Actor, "actors", "Actor", "Actors"),
    "source": (Source, "articles", "Source", "Sources"),
}


def home(request):
    published = Article.objects.published()
    context = {
        "total": published.count(),
        "newest": published.newest_first().with_metadata()[:8],
        "top": {
            kind: _top_entities(kind, 8) for kind in ("city", "actor", "source")
        },
    }
    return render(request, "articles/home.html", context)


def _count_filter():
    return Q(articles__status=Article.Status.PUBLISHED)


def _top_entities(kind: str, limit: int):
    model = ENTITY_PAGES[kind][0]
    return (
        model.objects.annotate(n=Count("articles", filter=_count_filter()))
        .filter(n__gt=0)
        .order_by("-n", "name")[:limit]
    )


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
        raise Http404("No published article has this address.")
    return render(request, "articles/article.html", {
        "article": article,
        "related": selectors.related_articles(article=article) if article.is_published else [],
        "accessed": timezone.now(),
        "permalink": request.build_absolute_uri(article.get_absolute_url()),
    })


def entity_list(request, kind):
    model, _, singular, plural = ENTITY_PAGES[kind]
    entities = (
        model.objects.annotate(n=Count("articles", filter=_count_filter()))
        .prefetch_related("aliases").order_by("name")
    )
    page = _paginate(request, entities, 100)
    return render(request, "articles/entity_list.html", {
        "kind": kind, "plural": plural, "singular": singular, "entities": page,
    })


def entity_detail(request, kind, slug):
    model, _, singular, plural = ENTITY_PAGES[kind]
    entity = get_object_or_404(model.objects.prefetch_related("aliases"), slug=slug)
    lookup = {"source": "source", "city": "cities", "actor": "actors"}[kind]
    articles = Article.objects.published().filter(**{lookup: entity}).newest_first()
    page = _paginate(request, articles.with_metadata(), 20)
    return render(request, "articles/entity_detail.html", {
        "kind": kind, "singular": singular, "plural": plural, "entity": entity,
        "articles": page, "search_url": reverse("search") + f"?{kind}={entity.slug}",
    })


def _paginate(request, qs, per_page):
    paginator = Paginator(qs, per_page)
    try:
        return paginator.page(request.GET.get("page") or 1)
    except (PageNotAnInteger, EmptyPage) as exc:
        raise Http404("There is no such page.") from exc


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        from django.http import JsonResponse

        return JsonResponse({"errors": {"path": "There is nothing at this address."}}, status=404)
    message = str(exception) if exception and settings_debug_safe(exception) else ""
    return render(request, "404.html", {"message": message}, status=404)


def settings_debug_safe(exception) -> bool:
    # Our own Http404 messages are written for readers; Django's internal ones are not.
    text = str(exception)
    return bool(text) and not text.startswith(("No ", "Page not found")) or text.startswith(
        "No published"
    )


def server_error(request):
    return render(request, "500.html", status=500)
