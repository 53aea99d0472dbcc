"""Curation in Django's admin: articles and the entities they link to, aliases inline."""

from django.contrib import admin
from django.db.models import Count

from .models import (
    Actor,
    ActorAlias,
    Article,
    City,
    CityAlias,
    IndexQueue,
    Source,
    SourceAlias,
)


class AliasInline(admin.TabularInline):
    extra = 1
    fields = ["name"]


class SourceAliasInline(AliasInline):
    model = SourceAlias


class CityAliasInline(AliasInline):
    model = CityAlias


class ActorAliasInline(AliasInline):
    model = ActorAlias


class EntityAdmin(admin.ModelAdmin):
    search_fields = ["name", "aliases__name"]
    prepopulated_fields = {"slug": ["name"]}
    list_display = ["name", "slug", "alias_list", "report_count"]

    def get_queryset(self, request):
        return (
            super().get_queryset(request)
            .annotate(report_count=Count("articles", distinct=True))
            .prefetch_related("aliases")
        )

    @admin.display(description="Also written")
    def alias_list(self, obj):
        return ", ".join(a.name for a in obj.aliases.all())

    @admin.display(description="Reports", ordering="report_count")
    def report_count(self, obj):
        return obj.report_count


@admin.register(Source)
class SourceAdmin(EntityAdmin):
    inlines = [SourceAliasInline]
    fields = ["name", "slug", "homepage"]


@admin.register(City)
class CityAdmin(EntityAdmin):
    inlines = [CityAliasInline]
    fields = ["name", "slug", "country"]
    list_display = [*EntityAdmin.list_display, "country"]
    list_filter = ["country"]


@admin.register(Actor)
class ActorAdmin(EntityAdmin):
    inlines = [ActorAliasInline]
    fields = ["name", "slug", "kind"]
    list_display = [*EntityAdmin.list_display, "kind"]
    list_filter = ["kind"]


class PossibleDuplicateFilter(admin.SimpleListFilter):
    title = "possible duplicates"
    parameter_name = "duplicates"

    def lookups(self, request, model_admin):
        return [("yes", "To review"), ("no", "None")]

    def queryset(self, request, queryset):
        linked = Article.possible_duplicates.through.objects.values("from_article_id")
        if self.value() == "yes":
            return queryset.filter(pk__in=linked)
        if self.value() == "no":
            return queryset.exclude(pk__in=linked)
        return queryset


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ["title", "status", "published", "source", "language"]
    list_filter = ["status", PossibleDuplicateFilter, "source", "language"]
    search_fields = ["title", "body", "record_id"]
    date_hierarchy = "published"
    autocomplete_fields = ["source", "cities", "actors", "possible_duplicates"]
    prepopulated_fields = {"slug": ["title"]}
    readonly_fields = ["record_id", "created", "updated"]
    fieldsets = [
        (None, {"fields": ["title", "slug", "status", "published", "source", "language"]}),
        ("Places and actors", {"fields": ["cities", "actors"]}),
        ("Text", {"fields": ["body", "original_url"]}),
        ("Review", {"fields": ["possible_duplicates"],
                    "description": "Reports with nearly the same text, found on import. Remove "
                                   "a link once you have checked it."}),
        ("Record", {"fields": ["record_id", "created", "updated"], "classes": ["collapse"]}),
    ]
    list_select_related = ["source"]


@admin.register(IndexQueue)
class IndexQueueAdmin(admin.ModelAdmin):
    """Pending index work: normally empty; rows left here are drained by check_index --repair."""

    list_display = ["article_id", "queued"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
