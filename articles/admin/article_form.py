"""The article's edit form and the article list's filters.

The form says, in words, what the database would refuse: a language code from a list with
names, a date in the future only when confirmed, a text within the import's limit (the
request itself may be larger, so the curator keeps the form and sees why), and the
suggested links as choices inside the form, so deciding them never loses an unsaved edit.
"""

import datetime as dt

from django import forms
from django.conf.locale import LANG_INFO
from django.contrib import admin
from django.db.models import Q
from django.utils import timezone

from articles.curation import suggestions
from articles.ingest.records import MAX
from articles.models import Article

from .base import formfield

#: ISO 639-1 (and -3) codes with their English names, for the language field.
LANGUAGES = sorted(
    (
        (code, info["name"])
        for code, info in LANG_INFO.items()
        if "name" in info and code.isalpha() and 2 <= len(code) <= 3 and code.islower()
    ),
    key=lambda item: item[1],
)
BODY_LIMIT = MAX["body"]


class ArticleForm(forms.ModelForm):
    confirm_future_date = forms.BooleanField(
        required=False,
        label="The publication date is in the future, and it is right",
        help_text="Reports are dated when they were published; tick this only for a date you have checked.",
    )
    accept_suggestions = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Link these",
        help_text="Each is named in the text (the sentence is shown); saving links the ones ticked.",
    )
    reject_suggestions = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Never suggest these again here"
    )

    class Meta:
        model = Article
        fields = [
            "title",
            "slug",
            "status",
            "published",
            "source",
            "language",
            "cities",
            "countries",
            "actors",
            "body",
            "original_url",
            "possible_duplicates",
        ]
        widgets = {"body": forms.Textarea(attrs={"maxlength": BODY_LIMIT, "rows": 20})}
        formfield_callback = formfield

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "language" in self.fields:
            current = self.instance.language
            choices = list(LANGUAGES)
            if current and current not in dict(choices):
                choices.insert(0, (current, current))
            self.fields["language"] = forms.ChoiceField(
                choices=choices,
                initial=current or "en",
                label="Language",
                help_text="The language of the text (ISO 639-1).",
            )
        pending = suggestions.pending(self.instance) if self.instance.pk else []
        choices = [(s.value, f"{s.label} — “{s.evidence[:200]}”") for s in pending]
        self.fields["accept_suggestions"].choices = choices
        self.fields["reject_suggestions"].choices = choices

    def clean_body(self):
        body = self.cleaned_data.get("body") or ""
        if len(body) > BODY_LIMIT:
            raise forms.ValidationError(
                f"The text has {len(body):,} characters; a report holds at most {BODY_LIMIT:,}. "
                "Shorten it or split the report in two."
            )
        return body

    def clean(self):
        cleaned = super().clean()
        published = cleaned.get("published")
        if published and published > timezone.localdate() and not cleaned.get("confirm_future_date"):
            self.add_error(
                "published",
                f"{published:%-d %B %Y} is in the future: tick “the "
                "publication date is in the future, and it is right” below "
                "to keep it.",
            )
        both = set(cleaned.get("accept_suggestions") or ()) & set(cleaned.get("reject_suggestions") or ())
        if both:
            self.add_error("reject_suggestions", "A suggestion cannot be both linked and rejected.")
        return cleaned


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
        "countries": ("No country", Q(countries=None)),
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
        value = self.value() or ""
        if value.isascii() and value.isdigit() and 1 <= int(value) <= 9999:
            return queryset.filter(published__range=(dt.date(int(value), 1, 1), dt.date(int(value), 12, 31)))
        return queryset


class EntityChoiceForm(forms.Form):
    name = forms.CharField(label="Name or other spelling", max_length=400)
