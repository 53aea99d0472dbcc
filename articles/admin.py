"""Curation in Django's admin: articles and the entities they link to, aliases inline."""

from django.contrib import admin, messages
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html

from . import curation
from .models import (
    Actor,
    ActorAlias,
    AliasCandidate,
    Article,
    City,
    CityAlias,
    IndexQueue,
    Merge,
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


@admin.register(AliasCandidate)
class AliasCandidateAdmin(admin.ModelAdmin):
    """Spelling families proposed by `find_alias_candidates`; nothing merges until a curator
    accepts a proposal."""

    list_display = ["first_link", "second_link", "kind", "decision", "created"]
    list_filter = ["decision", "kind"]
    search_fields = ["first_name", "second_name"]
    actions = ["accept", "reject"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def _link(self, obj, pk, name):
        url = reverse(f"admin:articles_{obj.kind}_change", args=[pk])
        return format_html('<a href="{}">{}</a>', url, name)

    @admin.display(description="keep")
    def first_link(self, obj):
        return self._link(obj, obj.first_id, obj.first_name)

    @admin.display(description="as another spelling of it")
    def second_link(self, obj):
        return self._link(obj, obj.second_id, obj.second_name)

    @admin.action(description="Accept: merge the second into the first (its names become aliases)")
    def accept(self, request, queryset):
        self._decide(request, queryset, accept=True)

    @admin.action(description="Reject: they are different; never propose this pair again")
    def reject(self, request, queryset):
        self._decide(request, queryset, accept=False)

    def _decide(self, request, queryset, *, accept):
        done = 0
        for candidate in queryset:
            try:
                curation.decide(candidate, accept=accept, user=request.user)
                done += 1
            except curation.MergeError as exc:
                self.message_user(request, f"{candidate}: {exc}", messages.WARNING)
        verb = "merged" if accept else "rejected"
        self.message_user(request, f"{done} proposal(s) {verb}.", messages.SUCCESS)


@admin.register(Merge)
class MergeAdmin(admin.ModelAdmin):
    list_display = ["merged_name", "target_name", "kind", "created", "created_by", "undone"]
    list_filter = ["kind"]
    readonly_fields = ["kind", "target_id", "target_name", "merged_name", "snapshot", "created",
                       "created_by", "undone"]
    actions = ["undo"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Undo the selected merges")
    def undo(self, request, queryset):
        for record in queryset.order_by("-created"):
            try:
                curation.undo_merge(record)
                self.message_user(request, f"Undone: {record}.", messages.SUCCESS)
            except curation.MergeError as exc:
                self.message_user(request, f"{record}: {exc}", messages.WARNING)
