"""Articles in the admin: the review workflow (draft, ready for review, published), history
that restores links, suggested links decided inside the form, and bulk actions.

Bulk actions change article by article through the ORM, so each change is a version in the
history with its user and a reason ("bulk: add city Almaty") and is queued for the index;
never a queryset.update().
"""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join

from articles import search
from articles.curation import suggestions
from articles.kinds import KINDS, LINKED
from articles.models import Article

from .article_form import (
    ArticleForm,
    EntityChoiceForm,
    MissingMetadataFilter,
    PossibleDuplicateFilter,
    YearFilter,
)
from .base import HistoryAdmin

Status = Article.Status
#: What a contributor may set: a draft, or a draft sent to curators.
CONTRIBUTOR_STATUSES = (Status.DRAFT, Status.REVIEW)


@admin.register(Article)
class ArticleAdmin(HistoryAdmin):
    form = ArticleForm
    list_display = ["title", "status", "published", "source", "city_count", "actor_count"]
    list_filter = ["status", MissingMetadataFilter, YearFilter, PossibleDuplicateFilter, "language", "source"]
    search_fields = ["title", "body", "record_id"]
    date_hierarchy = "published"
    autocomplete_fields = ["source", "cities", "actors", "countries", "possible_duplicates"]
    prepopulated_fields = {"slug": ["title"]}
    readonly_fields = ["record_id", "origin_records", "created", "updated", "preview"]
    list_select_related = ["source"]
    actions = [
        "publish",
        "send_for_review",
        "unpublish",
        "add_city",
        "remove_city",
        "add_actor",
        "remove_actor",
        "reindex",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "title",
                    "slug",
                    "status",
                    "published",
                    "confirm_future_date",
                    "source",
                    "language",
                    "preview",
                ]
            },
        ),
        ("Places and actors", {"fields": ["cities", "countries", "actors"]}),
        (
            "Suggested links",
            {
                "fields": ["accept_suggestions", "reject_suggestions"],
                "description": "Curated cities and actors the text names under any "
                "spelling but that are not linked yet.",
            },
        ),
        ("Text", {"fields": ["body", "original_url"]}),
        (
            "Review",
            {
                "fields": ["possible_duplicates"],
                "description": "Reports with nearly the same text, found on import. Remove "
                "a link once you have checked it.",
            },
        ),
        (
            "Record",
            {"fields": ["record_id", "origin_records", "created", "updated"], "classes": ["collapse"]},
        ),
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(n_cities=Count("cities", distinct=True), n_actors=Count("actors", distinct=True))
        )

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or not suggestions.pending(obj):
            fieldsets = [fs for fs in fieldsets if fs[0] != "Suggested links"]
        return fieldsets

    @admin.display(description="Cities", ordering="n_cities")
    def city_count(self, obj):
        return obj.n_cities

    @admin.display(description="Actors", ordering="n_actors")
    def actor_count(self, obj):
        return obj.n_actors

    @admin.display(description="Imported from")
    def origin_records(self, obj):
        """The records behind the article, each with the metadata it gave, as given."""
        origins = list(obj.origins.all()) if obj and obj.pk else []
        if not origins:
            return "Not imported (created in the admin)."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    o.record_id,
                    o.source,
                    "; ".join(o.cities),
                    "; ".join(o.actors),
                    "; ".join(o.countries),
                    o.where,
                    o.imported.strftime("%Y-%m-%d %H:%M"),
                )
                for o in origins
            ),
        )
        return format_html(
            '<table><thead><tr><th scope="col">Record id</th><th scope="col">Source</th>'
            '<th scope="col">Cities</th><th scope="col">Actors</th><th scope="col">Country</th>'
            '<th scope="col">From</th><th scope="col">Imported</th></tr></thead><tbody>{}</tbody>'
            "</table>",
            rows,
        )

    @admin.display(description="Public page")
    def preview(self, obj):
        if not obj or not obj.pk:
            return "Saved articles can be previewed."
        label = (
            "Preview this draft as the public page will show it"
            if not obj.is_published
            else "View the public page"
        )
        return format_html('<a href="{}">{}</a>', obj.get_absolute_url(), label)

    # -------------------------------------------------------------- the review workflow

    @staticmethod
    def can_publish(request) -> bool:
        return request.user.has_perm("articles.publish_article")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        version = getattr(request, "_revert_version", None)
        publish = self.can_publish(request)
        if version is None and publish:
            return form

        class WorkflowForm(form):
            def __init__(self, *args, **kw):
                super().__init__(*args, **kw)
                if not publish and "status" in self.fields:
                    self.fields["status"].choices = [
                        c for c in self.fields["status"].choices if c[0] in CONTRIBUTOR_STATUSES
                    ]
                if version is not None and not self.is_bound:
                    # Reverting: the links as that version had them, not as they are now.
                    past = Article.history.get(history_id=version)
                    for kind in LINKED:
                        self.initial[kind.relation] = [
                            getattr(row, kind.through_column) for row in getattr(past, kind.relation).all()
                        ]

        return WorkflowForm

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        if allowed and obj is not None and obj.is_published and not self.can_publish(request):
            return False  # contributors edit drafts only
        return allowed

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        if allowed and obj is not None and obj.is_published and not self.can_publish(request):
            return False
        return allowed

    def save_model(self, request, obj, form, change):
        if not self.can_publish(request) and obj.status not in CONTRIBUTOR_STATUSES:
            # Enforced here, not only by the form's choices: a forged POST cannot publish.
            raise PermissionDenied
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        linked = suggestions.decide(
            form.instance,
            accept=form.cleaned_data.get("accept_suggestions", ()),
            reject=form.cleaned_data.get("reject_suggestions", ()),
            user=request.user,
        )
        if linked:
            self.message_user(request, f"Linked: {', '.join(linked)}.", messages.SUCCESS)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not self.can_publish(request):
            for name in ("publish", "unpublish"):
                actions.pop(name, None)
        return actions

    def has_publish_permission(self, request):
        return self.can_publish(request)

    # -------------------------------------------------------------- bulk actions

    def _set_status(self, request, queryset, status, *, editable_only=False):
        changed = 0
        for article in queryset.exclude(status=status):
            if editable_only and not self.has_change_permission(request, article):
                continue
            article.status = status
            article._history_user = request.user
            article._change_reason = f"bulk: {Status(status).label.lower()}"
            article.save()
            changed += 1
        self.message_user(
            request, f"{changed} article(s) now {Status(status).label.lower()}.", messages.SUCCESS
        )

    @admin.action(description="Publish the selected articles", permissions=["publish"])
    def publish(self, request, queryset):
        self._set_status(request, queryset, Status.PUBLISHED)

    @admin.action(description="Send the selected drafts for review", permissions=["change"])
    def send_for_review(self, request, queryset):
        self._set_status(request, queryset.filter(status=Status.DRAFT), Status.REVIEW, editable_only=True)

    @admin.action(description="Unpublish the selected articles (back to draft)", permissions=["publish"])
    def unpublish(self, request, queryset):
        self._set_status(request, queryset, Status.DRAFT)

    def _link_action(self, request, queryset, kind_name, add):
        kind = KINDS[kind_name]
        form = EntityChoiceForm(request.POST if "confirm" in request.POST else None)
        if form.is_bound and form.is_valid():
            entity = kind.model.resolve(form.cleaned_data["name"])
            if entity is None:
                form.add_error("name", f"No {kind.name} has this name or spelling.")
            else:
                editable = [a for a in queryset if self.has_change_permission(request, a)]
                verb = "add" if add else "remove"
                for article in editable:
                    article._history_user = request.user
                    article._change_reason = f"bulk: {verb} {kind.name} {entity.name}"
                    links = getattr(article, kind.relation)
                    if add:
                        links.add(entity)
                    else:
                        links.remove(entity)
                self.message_user(
                    request,
                    f"{entity.name} {'added to' if add else 'removed from'} {len(editable)} article(s).",
                    messages.SUCCESS,
                )
                return None
        return TemplateResponse(
            request,
            "admin/articles/link_action.html",
            {
                **self.admin_site.each_context(request),
                "title": f"{'Add' if add else 'Remove'} {kind.noun}",
                "opts": self.model._meta,
                "articles": queryset,
                "form": form,
                "action": request.POST.get("action"),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "kind": kind.name,
                "add": add,
            },
        )

    @admin.action(description="Add a city to the selected articles", permissions=["change"])
    def add_city(self, request, queryset):
        return self._link_action(request, queryset, "city", True)

    @admin.action(description="Remove a city from the selected articles", permissions=["change"])
    def remove_city(self, request, queryset):
        return self._link_action(request, queryset, "city", False)

    @admin.action(description="Add an actor to the selected articles", permissions=["change"])
    def add_actor(self, request, queryset):
        return self._link_action(request, queryset, "actor", True)

    @admin.action(description="Remove an actor from the selected articles", permissions=["change"])
    def remove_actor(self, request, queryset):
        return self._link_action(request, queryset, "actor", False)

    @admin.action(description="Reindex the selected articles", permissions=["change"])
    def reindex(self, request, queryset):
        with transaction.atomic():
            search.enqueue(queryset.values_list("pk", flat=True))
        self.message_user(request, "The selected articles are queued for the index.", messages.SUCCESS)
