"""Curation in Django's admin: articles and the entities they link to, aliases inline."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.db.models import Count, Q
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from . import curation, search
from .models import (
    Actor,
    ActorAlias,
    AliasCandidate,
    Article,
    City,
    CityAlias,
    Country,
    CountryAlias,
    IndexQueue,
    LinkSuggestion,
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


class MergeForm(forms.Form):
    target = forms.ChoiceField(label="Keep", widget=forms.RadioSelect)


# Bare addresses typed into URL fields mean https (Django 6's default, chosen now).
URL_FIELDS = {models.URLField: {"assume_scheme": "https"}}


class EntityAdmin(SimpleHistoryAdmin):
    """An authority record: canonical name, aliases inline, report counts, merges."""

    formfield_overrides = URL_FIELDS
    search_fields = ["name", "aliases__name"]
    prepopulated_fields = {"slug": ["name"]}
    list_display = ["name", "slug", "alias_list", "report_count"]
    ordering = ["name", "pk"]
    actions = ["merge_selected"]
    relation: str

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
        url = reverse("admin:articles_article_changelist") + f"?{self.relation}__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, obj.report_count)

    @admin.action(description="Merge the selected into one (the others become its aliases)",
                  permissions=["change"])
    def merge_selected(self, request, queryset):
        entities = list(queryset.order_by("name"))
        if len(entities) < 2:
            self.message_user(request, "Select at least two to merge.", messages.WARNING)
            return None
        form = MergeForm(request.POST if "confirm" in request.POST else None)
        form.fields["target"].choices = [
            (e.pk, f"{e.name} ({e.report_count} report{'' if e.report_count == 1 else 's'})")
            for e in entities]
        if form.is_bound and form.is_valid():
            target = next(e for e in entities if str(e.pk) == form.cleaned_data["target"])
            for merged in entities:
                if merged.pk != target.pk:
                    curation.merge(target=target, merged=merged, user=request.user)
            self.message_user(request, f"Merged into {target.name}. Undo it under Merges.",
                              messages.SUCCESS)
            return None
        return TemplateResponse(request, "admin/articles/merge_confirm.html", {
            **self.admin_site.each_context(request), "title": "Merge into one",
            "opts": self.model._meta, "entities": entities, "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        })


@admin.register(Source)
class SourceAdmin(EntityAdmin):
    inlines = [SourceAliasInline]
    fields = ["name", "slug", "homepage"]
    relation = "source"


class SeveralCountriesFilter(admin.SimpleListFilter):
    title = "countries"
    parameter_name = "countries"

    def lookups(self, request, model_admin):
        return [("several", "Named in reports of several countries")]

    def queryset(self, request, queryset):
        if self.value() == "several":
            return queryset.filter(pk__in=curation.cities_in_several_countries().values("pk"))
        return queryset


class SplitForm(forms.Form):
    name = forms.CharField(label="Name of the new city", max_length=400,
                           help_text="e.g. “Santiago de los Caballeros” for the reports about the "
                                     "Dominican Republic")
    countries = forms.MultipleChoiceField(
        label="Move every report about", required=False, widget=forms.CheckboxSelectMultiple)
    articles = forms.MultipleChoiceField(
        label="and these reports", required=False, widget=forms.CheckboxSelectMultiple)


@admin.register(City)
class CityAdmin(EntityAdmin):
    inlines = [CityAliasInline]
    fields = ["name", "slug"]
    list_display = [*EntityAdmin.list_display, "country_list"]
    list_filter = [SeveralCountriesFilter]
    relation = "cities"
    actions = [*EntityAdmin.actions, "split"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(
            models.Prefetch("articles", Article.objects.only("pk").prefetch_related("countries"),
                            to_attr="country_articles"))

    @admin.display(description="Countries of its reports")
    def country_list(self, obj):
        names = {c.name for a in obj.country_articles for c in a.countries.all()}
        text = ", ".join(sorted(names, key=str.casefold))
        return format_html("{} <strong>(several: a homonym or a changed border?)</strong>", text) \
            if len(names) > 1 else text

    @admin.action(description="Split: move chosen reports to a new city", permissions=["change"])
    def split(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select one city to split.", messages.WARNING)
            return None
        city = queryset.get()
        reports = list(city.articles.order_by("published", "pk").prefetch_related("countries"))
        form = SplitForm(request.POST if "confirm" in request.POST else None)
        countries = sorted({c.name for a in reports for c in a.countries.all()}, key=str.casefold)
        form.fields["countries"].choices = [(c, c) for c in countries]
        form.fields["articles"].choices = [
            (str(a.pk), f"{a.title} ({', '.join(c.name for c in a.countries.all()) or 'no country'}"
                        f"{', ' + a.published.isoformat() if a.published else ''})") for a in reports]
        if form.is_bound and form.is_valid():
            chosen = set(form.cleaned_data["articles"])
            wanted = set(form.cleaned_data["countries"])
            moving = [a for a in reports if str(a.pk) in chosen
                      or wanted & {c.name for c in a.countries.all()}]
            try:
                new_city = curation.split_city(city, articles=moving, name=form.cleaned_data["name"],
                                               user=request.user)
            except curation.MergeError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, f"{len(moving)} report(s) moved from {city.name} to "
                                           f"{new_city.name}.", messages.SUCCESS)
                return None
        return TemplateResponse(request, "admin/articles/split_confirm.html", {
            **self.admin_site.each_context(request), "title": f"Split {city.name}",
            "opts": self.model._meta, "city": city, "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        })


class CountryAliasInline(AliasInline):
    model = CountryAlias


@admin.register(Country)
class CountryAdmin(EntityAdmin):
    inlines = [CountryAliasInline]
    fields = ["name", "slug"]
    relation = "countries"


@admin.register(Actor)
class ActorAdmin(EntityAdmin):
    inlines = [ActorAliasInline]
    fields = ["name", "slug", "kind"]
    list_display = [*EntityAdmin.list_display, "kind"]
    list_filter = ["kind"]
    relation = "actors"


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


class MissingMetadataFilter(admin.SimpleListFilter):
    title = "missing metadata"
    parameter_name = "missing"
    CHECKS = {
        "date": ("No publication date", Q(published=None)),
        "source": ("No source", Q(source=None)),
        "cities": ("No cities", Q(cities=None)),
        "actors": ("No actors", Q(actors=None)),
        "url": ("No original URL", Q(original_url="")),
    }

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _) in self.CHECKS.items()]

    def queryset(self, request, queryset):
        if self.value() in self.CHECKS:
            return queryset.filter(self.CHECKS[self.value()][1]).distinct()
        return queryset


class YearFilter(admin.SimpleListFilter):
    title = "year"
    parameter_name = "year"

    def lookups(self, request, model_admin):
        years = Article.objects.exclude(published=None).dates("published", "year", order="DESC")
        return [(str(d.year), str(d.year)) for d in years]

    def queryset(self, request, queryset):
        if self.value() and self.value().isdigit():
            return queryset.filter(published__year=int(self.value()))
        return queryset


class EntityChoiceForm(forms.Form):
    name = forms.CharField(label="Name or other spelling", max_length=400)


@admin.register(Article)
class ArticleAdmin(SimpleHistoryAdmin):
    formfield_overrides = URL_FIELDS
    list_display = ["title", "status", "published", "source", "city_count", "actor_count"]
    list_filter = ["status", MissingMetadataFilter, YearFilter, PossibleDuplicateFilter,
                   "language", "source"]
    search_fields = ["title", "body", "record_id"]
    date_hierarchy = "published"
    autocomplete_fields = ["source", "cities", "actors", "countries", "possible_duplicates"]
    prepopulated_fields = {"slug": ["title"]}
    readonly_fields = ["record_id", "origin_records", "created", "updated", "preview"]
    list_select_related = ["source"]
    actions = ["publish", "unpublish", "add_city", "remove_city", "add_actor", "remove_actor",
               "reindex"]
    fieldsets = [
        (None, {"fields": ["title", "slug", "status", "published", "source", "language",
                           "preview"]}),
        ("Places and actors", {"fields": ["cities", "countries", "actors"]}),
        ("Text", {"fields": ["body", "original_url"]}),
        ("Review", {"fields": ["possible_duplicates"],
                    "description": "Reports with nearly the same text, found on import. Remove "
                                   "a link once you have checked it."}),
        ("Record", {"fields": ["record_id", "origin_records", "created", "updated"],
                    "classes": ["collapse"]}),
    ]
    change_form_template = "admin/articles/article/change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            n_cities=Count("cities", distinct=True), n_actors=Count("actors", distinct=True))

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
            "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((o.record_id, o.source, "; ".join(o.cities), "; ".join(o.actors), "; ".join(o.countries),
              o.where, o.imported.strftime("%Y-%m-%d %H:%M")) for o in origins))
        return format_html(
            '<table><thead><tr><th scope="col">Record id</th><th scope="col">Source</th>'
            '<th scope="col">Cities</th><th scope="col">Actors</th><th scope="col">Country</th>'
            '<th scope="col">From</th><th scope="col">Imported</th></tr></thead><tbody>{}</tbody>'
            "</table>", rows)

    @admin.display(description="Public page")
    def preview(self, obj):
        if not obj or not obj.pk:
            return "Saved articles can be previewed."
        label = "Preview this draft as the public page will show it" if not obj.is_published \
            else "View the public page"
        return format_html('<a href="{}">{}</a>', obj.get_absolute_url(), label)

    # -------------------------------------------------------------- the review workflow

    @staticmethod
    def can_publish(request) -> bool:
        return request.user.has_perm("articles.publish_article")

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not self.can_publish(request):
            fields.append("status")
        return fields

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
        if not self.can_publish(request):
            # Enforced here, not only by the read-only field: a forged POST cannot publish.
            if change:
                obj.status = Article.objects.filter(pk=obj.pk).values_list("status", flat=True)[0]
            else:
                obj.status = Article.Status.DRAFT
            if obj.status == Article.Status.PUBLISHED:
                raise PermissionDenied
        super().save_model(request, obj, form, change)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not self.can_publish(request):
            for name in ("publish", "unpublish"):
                actions.pop(name, None)
        return actions

    # -------------------------------------------------------------- suggestions

    def get_urls(self):
        return [
            path("<int:article_id>/suggestions/<int:suggestion_id>/<str:decision>/",
                 self.admin_site.admin_view(self.decide_suggestion),
                 name="articles_article_suggestion"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        article = self.get_object(request, object_id)
        if article is not None and self.has_view_or_change_permission(request, article):
            extra_context["suggestions"] = curation.suggest_links(article)
            extra_context["can_decide"] = self.has_change_permission(request, article)
        return super().change_view(request, object_id, form_url, extra_context)

    def decide_suggestion(self, request, article_id, suggestion_id, decision):
        if request.method != "POST" or decision not in ("accept", "reject"):
            return HttpResponseNotAllowed(["POST"])
        article = self.get_object(request, str(article_id))
        if article is None or not self.has_change_permission(request, article):
            raise PermissionDenied
        suggestion = get_object_or_404(LinkSuggestion, pk=suggestion_id, article=article)
        try:
            curation.decide_link(suggestion, accept=decision == "accept", user=request.user)
            verb = "Linked" if decision == "accept" else "Rejected"
            self.message_user(request, f"{verb}: {suggestion.entity_name}.", messages.SUCCESS)
        except curation.MergeError as exc:
            self.message_user(request, str(exc), messages.WARNING)
        return HttpResponseRedirect(reverse("admin:articles_article_change", args=[article_id]))

    # -------------------------------------------------------------- bulk actions
    # Object by object through the ORM, so each change is in the history with its user
    # and queued for the index; never a queryset.update().

    def _set_status(self, request, queryset, status):
        changed = 0
        for article in queryset.exclude(status=status):
            article.status = status
            article._history_user = request.user
            article.save()
            changed += 1
        self.message_user(request, f"{changed} article(s) now {status}.", messages.SUCCESS)

    @admin.action(description="Publish the selected articles", permissions=["publish"])
    def publish(self, request, queryset):
        self._set_status(request, queryset, Article.Status.PUBLISHED)

    @admin.action(description="Unpublish the selected articles (back to draft)",
                  permissions=["publish"])
    def unpublish(self, request, queryset):
        self._set_status(request, queryset, Article.Status.DRAFT)

    def has_publish_permission(self, request):
        return self.can_publish(request)

    def _link_action(self, request, queryset, kind, add):
        model = curation.KINDS[kind]
        form = EntityChoiceForm(request.POST if "confirm" in request.POST else None)
        if form.is_bound and form.is_valid():
            entity = model.resolve(form.cleaned_data["name"])
            if entity is None:
                form.add_error("name", f"No {kind} has this name or spelling.")
            else:
                editable = [a for a in queryset if self.has_change_permission(request, a)]
                for article in editable:
                    article._history_user = request.user
                    links = getattr(article, curation.LINK[kind])
                    if add:
                        links.add(entity)
                    else:
                        links.remove(entity)
                verb = "added to" if add else "removed from"
                self.message_user(request, f"{entity.name} {verb} {len(editable)} article(s).",
                                  messages.SUCCESS)
                return None
        return TemplateResponse(request, "admin/articles/link_action.html", {
            **self.admin_site.each_context(request),
            "title": f"{'Add' if add else 'Remove'} a {kind}", "opts": self.model._meta,
            "articles": queryset, "form": form, "action": request.POST.get("action"),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME, "kind": kind, "add": add,
        })

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
        self.message_user(request, f"{queryset.count()} article(s) reindexed.", messages.SUCCESS)


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
                curation.undo_merge(record, user=request.user)
                self.message_user(request, f"Undone: {record}.", messages.SUCCESS)
            except curation.MergeError as exc:
                self.message_user(request, f"{record}: {exc}", messages.WARNING)
