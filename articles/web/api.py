"""The JSON API: `/api/search/` and `/api/articles/<slug>/` (shapes in CONTRACT.md)."""

from django.http import JsonResponse

from articles.browse.search import PastTheEnd, Search
from articles.models import Article

from .views import related_articles


def _entity(e) -> dict:
    return {"slug": e.slug, "name": e.name}


def result_json(article: Article, snippet: str | None = None) -> dict:
    data = {
        "slug": article.slug,
        "record_id": article.record_id,
        "title": article.title,
        "published": article.published.isoformat() if article.published else None,
        "source": _entity(article.source) if article.source else None,
        "cities": [_entity(c) for c in article.cities.all()],
        "actors": [_entity(a) for a in article.actors.all()],
        "country": article.country_names,
        "url": article.get_absolute_url(),
        "original_url": article.original_url or None,
    }
    if snippet is not None:
        data["snippet"] = snippet
    return data


def _errors(errors: dict, status=400):
    return JsonResponse({"errors": errors}, status=status)


def search(request):
    search = Search(request.GET)
    try:
        page = search.page(facets=not search.errors)
    except PastTheEnd as exc:
        return _errors({"page": str(exc)})
    if search.errors:
        return _errors(search.errors)
    return JsonResponse(
        {
            "count": page.count,
            "page": page.page,
            "pages": page.pages,
            "query": {"q": page.q, "corrected": page.corrected},
            "results": [result_json(r.article, r.snippet) for r in page.results],
            "facets": {
                name: [{k: item[k] for k in ("value", "label", "count", "selected")} for item in items]
                for name, items in page.facets.items()
            },
        }
    )


def article(request, slug):
    found = Article.objects.published().with_metadata().filter(slug=slug).first()
    if found is None:
        return _errors({"slug": "No published article has this slug."}, status=404)
    data = result_json(found)
    data["body"] = found.body
    data["language"] = found.language
    data["related"] = [result_json(a) for a in related_articles(found)]
    return JsonResponse(data)
