from django.contrib import admin
from django.contrib.sitemaps import views as sitemap_views
from django.urls import path

from articles.kinds import KINDS
from articles.web import api, views
from articles.web.dates import month_archive, year_archive
from articles.web.exports import export_csv, export_json
from articles.web.feeds import SearchFeed
from articles.web.sitemaps import SITEMAPS, robots_txt

urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search_page, name="search"),
    path("search/feed/", SearchFeed(), name="search-feed"),
    path("search/export.csv", export_csv, name="search-export-csv"),
    path("search/export.json", export_json, name="search-export-json"),
    path("articles/<slug:slug>/", views.article_detail, name="article-detail"),
    *(
        route
        for kind in KINDS.values()
        for route in (
            path(f"{kind.path}/", views.entity_list, {"kind": kind.name}, name=kind.list_url_name),
            path(
                f"{kind.path}/<slug:slug>/",
                views.entity_detail,
                {"kind": kind.name},
                name=kind.detail_url_name,
            ),
        )
    ),
    path("archive/<int:year>/", year_archive, name="archive-year"),
    path("archive/<int:year>/<int:month>/", month_archive, name="archive-month"),
    path("api/search/", api.search, name="api-search"),
    path("api/articles/<slug:slug>/", api.article, name="api-article"),
    path("admin/", admin.site.urls),
    path("robots.txt", robots_txt, name="robots-txt"),
    path("sitemap.xml", sitemap_views.index, {"sitemaps": SITEMAPS}, name="sitemap-index"),
    path(
        "sitemap-<section>.xml",
        sitemap_views.sitemap,
        {"sitemaps": SITEMAPS},
        name="django.contrib.sitemaps.views.sitemap",
    ),
]

handler400 = "articles.web.views.bad_request"
handler404 = "articles.web.views.not_found"
handler500 = "articles.web.views.server_error"
