"""What crawlers may index: `/sitemap.xml` (a sitemap index) and `/robots.txt`.

The sitemaps list the archive's canonical pages only: published articles, the pages of
cities, actors and sources named by at least one published article, and the year and month
pages that hold published reports. Never a draft, and never a search or facet combination
(robots.txt asks crawlers to stay out of those). Each section is paginated by Django's
sitemap machinery (`/sitemap-articles.xml?p=2`) at `limit` URLs per file.
"""

from django.contrib.sitemaps import Sitemap
from django.db.models import Count, Max, Q
from django.db.models.functions import ExtractMonth, ExtractYear
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from articles.kinds import KINDS
from articles.models import Article

_PUBLISHED = Q(articles__status=Article.Status.PUBLISHED)


class ArticleSitemap(Sitemap):
    def items(self):
        return Article.objects.published().only("slug", "updated").order_by("pk")

    def lastmod(self, item):
        return item.updated

    def get_latest_lastmod(self):
        # For the index: one aggregate instead of reading every article.
        return Article.objects.published().aggregate(last=Max("updated"))["last"]


class EntitySitemap(Sitemap):
    """Entities named by at least one published article; lastmod is their newest article's."""

    model: type

    def items(self):
        return (
            self.model.objects.annotate(
                n=Count("articles", filter=_PUBLISHED), last=Max("articles__updated", filter=_PUBLISHED)
            )
            .filter(n__gt=0)
            .only("slug")
            .order_by("pk")
        )

    def lastmod(self, item):
        return item.last


class DateSitemap(Sitemap):
    """Year and month pages that hold published reports."""

    def items(self):
        months = (
            Article.objects.published()
            .order_by()
            .annotate(y=ExtractYear("published"), m=ExtractMonth("published"))
            .values("y", "m")
            .annotate(last=Max("updated"))
            .order_by("y", "m")
        )
        items, years = [], {}
        for row in months:
            items.append((row["y"], row["m"], row["last"]))
            years[row["y"]] = max(years.get(row["y"], row["last"]), row["last"])
        return [(y, None, last) for y, last in years.items()] + items

    def location(self, item):
        year, month, _ = item
        if month is None:
            return reverse("archive-year", args=[f"{year:04d}"])
        return reverse("archive-month", args=[f"{year:04d}", f"{month:02d}"])

    def lastmod(self, item):
        return item[2]


# Classes, not instances: Django's sitemap keeps per-request state on the object.
SITEMAPS = {
    "articles": ArticleSitemap,
    **{
        kind.path: type(f"{kind.model.__name__}Sitemap", (EntitySitemap,), {"model": kind.model})
        for kind in KINDS.values()
    },
    "dates": DateSitemap,
}


@require_safe
def robots_txt(request):
    return render(
        request,
        "robots.txt",
        {
            "sitemap_url": request.build_absolute_uri(reverse("sitemap-index")),
        },
        content_type="text/plain; charset=utf-8",
    )
