"""Authority records: sources, cities, actors and countries, their aliases inline, merges
and the splitting of a city that stands for two places.

A name or alias is checked against the entity's own table, its alias table and the other
rows of the form before anything is saved, and a clash names the record it clashes with
(the database's unique keys would otherwise end in a server error).
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db import models, transaction
from django.db.models import Count
from django.forms.models import BaseInlineFormSet
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from articles import curation
from articles.kinds import KINDS, kind_of
from articles.models import Article
from articles.text import normalize_name

from .base import HistoryAdmin, formfield


def _record_link(entity) -> str:
    kind = kind_of(entity)
    url = reverse(f"admin:articles_{kind.model._meta.model_name}_change", args=[entity.pk])
    return format_html('the {} <a href="{}">{}</a>', kind.name, url, entity.name)


def name_clash(model, key: str, *, entity_pk=None, alias_pks=()):
    """Why `key` cannot be a name or alias of entity `entity_pk`, or None."""
    other = model.objects.filter(key=key).exclude(pk=entity_pk).first()
    if other is not None:
        return format_html("is already the name of {}: merge the two instead", _record_link(other))
    alias = (
        model.alias_model.objects.filter(key=key)
        .exclude(entity_id=entity_pk)
        .exclude(pk__in=alias_pks)
        .select_related("entity")
        .first()
    )
    if alias is not None:
        return format_html("is already an alias of {}: merge the two instead", _record_link(alias.entity))
    return None


class EntityForm(forms.ModelForm):
    class Meta:
        formfield_callback = formfield

    def clean_name(self):
        name = " ".join((self.cleaned_data.get("name") or "").split())
        key = normalize_name(name)
        if not key:
            raise forms.ValidationError("A name is required.")
        clash = name_clash(self._meta.model, key, entity_pk=self.instance.pk)
        if clash:
            raise forms.ValidationError(format_html("“{}” {}.", name, clash))
        return name

    def clean_slug(self):
        slug = self.cleaned_data.get("slug")
        other = self._meta.model.objects.filter(slug=slug).exclude(pk=self.instance.pk).first()
        if other is not None:
            raise forms.ValidationError(
                format_html(
                    "The address “{}” already belongs to {}: choose another.", slug, _record_link(other)
                )
            )
        return slug


class AliasFormSet(BaseInlineFormSet):
    """Aliases checked together: against each other, the entity's name and other records."""

    def clean(self):
        super().clean()
        model = self.instance._meta.model
        mine = [f.instance.pk for f in self.forms if f.instance.pk]
        seen = {normalize_name(self.instance.name or ""): "the name itself"}
        for form in self.forms:
            name = (form.cleaned_data or {}).get("name")
            if not name or (self.can_delete and self._should_delete_form(form)):
                continue
            key = normalize_name(name)
            if key in seen:
                form.add_error(
                    "name",
                    f"“{name}” is the same spelling as {seen[key]} (case, "
                    "accents, hyphens, dots and spaces aside).",
                )
                continue
            seen[key] = f"the alias “{name}”"
            clash = name_clash(model, key, entity_pk=self.instance.pk, alias_pks=mine)
            if clash:
                form.add_error("name", format_html("“{}” {}.", name, clash))


class AliasInline(admin.TabularInline):
    extra = 1
    fields = ["name"]
    formset = AliasFormSet


def alias_inline(kind):
    return type(f"{kind.model.__name__}AliasInline", (AliasInline,), {"model": kind.alias_model})


class MergeForm(forms.Form):
    target = forms.ChoiceField(label="Keep", widget=forms.RadioSelect)


class EntityAdmin(HistoryAdmin):
    """An authority record: canonical name, aliases inline, report counts, merges."""

    form = EntityForm
    search_fields = ["name", "aliases__name"]
    prepopulated_fields = {"slug": ["name"]}
    list_display = ["name", "slug", "alias_list", "report_count"]
    ordering = ["name", "pk"]
    actions = ["merge_selected"]

    @property
    def kind(self):
        return kind_of(self.model)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(report_count=Count("articles", distinct=True))
            .prefetch_related("aliases")
        )

    @admin.display(description="Also written")
    def alias_list(self, obj):
        return ", ".join(a.name for a in obj.aliases.all())

    @admin.display(description="Reports", ordering="report_count")
    def report_count(self, obj):
        url = reverse("admin:articles_article_changelist") + f"?{self.kind.relation}__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, obj.report_count)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # Names changed: propose the spelling families they now form.
        transaction.on_commit(curation.find_candidates)

    @admin.action(
        description="Merge the selected into one (the others become its aliases)", permissions=["change"]
    )
    def merge_selected(self, request, queryset):
        entities = list(queryset.order_by("name"))
        if len(entities) < 2:
            self.message_user(request, "Select at least two to merge.", messages.WARNING)
            return None
        form = MergeForm(request.POST if "confirm" in request.POST else None)
        form.fields["target"].choices = [
            (e.pk, f"{e.name} ({e.report_count} report{'' if e.report_count == 1 else 's'})")
            for e in entities
        ]
        if form.is_bound and form.is_valid():
            target = next(e for e in entities if str(e.pk) == form.cleaned_data["target"])
            for merged in entities:
                if merged.pk != target.pk:
                    curation.merge(target=target, merged=merged, user=request.user)
            self.message_user(request, f"Merged into {target.name}. Undo it under Merges.", messages.SUCCESS)
            return None
        return TemplateResponse(
            request,
            "admin/articles/merge_confirm.html",
            {
                **self.admin_site.each_context(request),
                "title": "Merge into one",
                "opts": self.model._meta,
                "entities": entities,
                "form": form,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            },
        )


@admin.register(KINDS["source"].model)
class SourceAdmin(EntityAdmin):
    inlines = [alias_inline(KINDS["source"])]
    fields = ["name", "slug", "homepage"]


@admin.register(KINDS["actor"].model)
class ActorAdmin(EntityAdmin):
    inlines = [alias_inline(KINDS["actor"])]
    fields = ["name", "slug", "kind"]
    list_display = [*EntityAdmin.list_display, "kind"]
    list_filter = ["kind"]


@admin.register(KINDS["country"].model)
class CountryAdmin(EntityAdmin):
    inlines = [alias_inline(KINDS["country"])]
    fields = ["name", "slug"]


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
    name = forms.CharField(
        label="Name of the new city",
        max_length=400,
        help_text="e.g. “Santiago de los Caballeros” for the reports about the Dominican Republic",
    )
    countries = forms.MultipleChoiceField(
        label="Move every report about", required=False, widget=forms.CheckboxSelectMultiple
    )
    articles = forms.MultipleChoiceField(
        label="and these reports", required=False, widget=forms.CheckboxSelectMultiple
    )


@admin.register(KINDS["city"].model)
class CityAdmin(EntityAdmin):
    inlines = [alias_inline(KINDS["city"])]
    fields = ["name", "slug"]
    list_display = [*EntityAdmin.list_display, "country_list"]
    list_filter = [SeveralCountriesFilter]
    actions = [*EntityAdmin.actions, "split"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related(
                models.Prefetch(
                    "articles",
                    Article.objects.only("pk").prefetch_related("countries"),
                    to_attr="country_articles",
                )
            )
        )

    @admin.display(description="Countries of its reports")
    def country_list(self, obj):
        names = {c.name for a in obj.country_articles for c in a.countries.all()}
        text = ", ".join(sorted(names, key=str.casefold))
        return (
            format_html("{} <strong>(several: a homonym or a changed border?)</strong>", text)
            if len(names) > 1
            else text
        )

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
            (
                str(a.pk),
                f"{a.title} ({', '.join(c.name for c in a.countries.all()) or 'no country'}"
                f"{', ' + a.published.isoformat() if a.published else ''})",
            )
            for a in reports
        ]
        if form.is_bound and form.is_valid():
            chosen = set(form.cleaned_data["articles"])
            wanted = set(form.cleaned_data["countries"])
            moving = [
                a for a in reports if str(a.pk) in chosen or wanted & {c.name for c in a.countries.all()}
            ]
            try:
                new_city = curation.split_city(
                    city, articles=moving, name=form.cleaned_data["name"], user=request.user
                )
            except curation.MergeError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(
                    request,
                    f"{len(moving)} report(s) moved from {city.name} to {new_city.name}.",
                    messages.SUCCESS,
                )
                return None
        return TemplateResponse(
            request,
            "admin/articles/split_confirm.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Split {city.name}",
                "opts": self.model._meta,
                "city": city,
                "form": form,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            },
        )
