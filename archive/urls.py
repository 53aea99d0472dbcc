from django.contrib import admin
from django.urls import path

from articles import api, views

urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search_page, name="search"),
    path("articles/<slug:slug>/", views.article_detail, name="article-detail"),
    path("cities/", views.entity_list, {"kind": "city"}, name="city-list"),
    path("cities/<slug:slug>/", views.entity_detail, {"kind": "city"}, name="city-detail"),
    path("actors/", views.entity_list, {"kind": "actor"}, name="actor-list"),
    path("actors/<slug:slug>/", views.entity_detail, {"kind": "actor"}, name="actor-detail"),
    path("sources/", views.entity_list, {"kind": "source"}, name="source-list"),
    path("sources/<slug:slug>/", views.entity_detail, {"kind": "source"}, name="source-detail"),
    path("api/search/", api.search, name="api-search"),
    path("api/articles/<slug:slug>/", api.article, name="api-article"),
    path("admin/", admin.site.urls),
]

handler404 = "articles.views.not_found"
handler500 = "articles.views.server_error"
