"""The one FilterSet behind every search URL (`/search/`, its feed and exports, `/api/search/`).

It declares and validates every search parameter and turns them into `Criteria`, which
decide what is listed, counted and faceted by whichever engine answers (the FilterSet's own
queryset is the database's answer). One filter per kind of entity, from `kinds.py`.
"""

import re

import django_filters
from django import forms
from django.core.validators import ProhibitNullCharactersValidator

from articles.kinds import KINDS
from articles.models import Article
from articles.search.criteria import SORTS, Criteria
from articles.search.database import filtered

SLUG_RE = re.compile(r"^[-a-zA-Z0-9_]{1,100}$")
MAX_QUERY_LENGTH = 1000
MAX_VALUES = 50
MIN_YEAR, MAX_YEAR = 1, 9999
SORT_CHOICES = [("relevance", "Relevance"), ("newest", "Newest first"), ("oldest", "Oldest first")]
DATE_ERRORS = {"invalid": "Enter a real date as YYYY-MM-DD."}
assert [value for value, _ in SORT_CHOICES] == list(SORTS)


class MultiValueField(forms.Field):
    """A repeatable parameter (`?city=a&city=b`), each value checked by `clean`."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        if not value:
            return []
        if isinstance(value, str):
            value = [value]
        values = [v.strip() for v in value if v is not None and v.strip()]
        if len(values) > MAX_VALUES:
            raise forms.ValidationError(f"Give at most {MAX_VALUES} values.")
        return list(dict.fromkeys(values))

    def validate(self, value):
        for v in value:
            ProhibitNullCharactersValidator()(v)


class EntitySlugField(MultiValueField):
    def __init__(self, *, kind, **kwargs):
        self.kind = kind
        super().__init__(**kwargs)

    def clean(self, value):
        slugs = super().clean(value)
        if not slugs:
            return []  # no filter of this kind: nothing to look up (a page asks for each kind)
        for slug in slugs:
            if not SLUG_RE.match(slug):
                raise forms.ValidationError(f"“{slug[:60]}” is not a valid {self.kind.name} slug.")
        # Only names that published reports give: a draft's new city is no city at all here.
        named = self.kind.model.objects.filter(slug__in=slugs).values_list("pk", flat=True)
        found = {e.slug: e for e in self.kind.model.objects.public_in(named)}
        unknown = [s for s in slugs if s not in found]
        if unknown:
            raise forms.ValidationError(
                f"There is no {self.kind.name} “{unknown[0]}”.", code="invalid_choice"
            )
        return [found[s] for s in slugs]


class YearsField(MultiValueField):
    def clean(self, value):
        years = []
        for v in super().clean(value):
            if not re.fullmatch(r"\d{4}", v):
                raise forms.ValidationError(f"“{v[:20]}” is not a year (use YYYY).")
            if not MIN_YEAR <= int(v) <= MAX_YEAR:
                raise forms.ValidationError(f"There is no year {v}: years run from 0001 to 9999.")
            years.append(int(v))
        return years


class LanguagesField(MultiValueField):
    def clean(self, value):
        codes = [v.lower() for v in super().clean(value)]
        for code in codes:
            if not re.fullmatch(r"[a-z]{2,3}", code):
                raise forms.ValidationError(f"“{code[:20]}” is not a language code (use ISO 639-1, e.g. en).")
        return codes


class Declared(django_filters.Filter):
    """A parameter the FilterSet validates; `ArticleFilter.criteria` applies it."""

    def filter(self, qs, value):
        return qs


class EntityFilter(Declared):
    field_class = EntitySlugField


class YearFilter(Declared):
    field_class = YearsField


class LanguageFilter(Declared):
    field_class = LanguagesField


class SearchForm(forms.Form):
    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        return cleaned


#: Control characters but NUL (which Django's own validator refuses with a message), tab and
#: line breaks.
CONTROL = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class QueryField(forms.CharField):
    """The text query, with control characters read as the spaces they stand between (a
    pasted escape sequence): they are no part of any word."""

    def to_python(self, value):
        value = super().to_python(value)
        return " ".join(CONTROL.sub(" ", value).split()) if CONTROL.search(value) else value


class QueryFilter(django_filters.CharFilter):
    field_class = QueryField


class ArticleFilter(django_filters.FilterSet):
    q = QueryFilter(
        method="declared",
        max_length=MAX_QUERY_LENGTH,
        label="Search",
        strip=True,
        error_messages={
            "max_length": "The query is too long: at most %(limit_value)d characters (it has %(show_value)d)."
        },
    )
    year = YearFilter(label="Year")
    language = LanguageFilter(label="Language")
    date_from = django_filters.DateFilter(
        method="declared", input_formats=["%Y-%m-%d"], label="From", error_messages=DATE_ERRORS
    )
    date_to = django_filters.DateFilter(
        method="declared", input_formats=["%Y-%m-%d"], label="To", error_messages=DATE_ERRORS
    )
    sort = django_filters.ChoiceFilter(
        choices=SORT_CHOICES,
        method="declared",
        empty_label=None,
        label="Sort",
        error_messages={"invalid_choice": "Sort by relevance, newest or oldest."},
    )

    class Meta:
        model = Article
        fields = []
        form = SearchForm

    def declared(self, queryset, name, value):
        return queryset

    def criteria(self, *, text: bool = True) -> Criteria:
        """What the valid parameters ask for (invalid ones left out)."""
        cleaned = self.form.cleaned_data
        q = (cleaned.get("q") or "") if text else ""
        return Criteria(
            q=q,
            entities=tuple(
                (kind, tuple(e.pk for e in cleaned.get(kind) or ())) for kind in KINDS if cleaned.get(kind)
            ),
            years=tuple(cleaned.get("year") or ()),
            languages=tuple(cleaned.get("language") or ()),
            date_from=cleaned.get("date_from"),
            date_to=cleaned.get("date_to"),
            sort=cleaned.get("sort") or ("relevance" if q else "newest"),
        )

    def filter_queryset(self, queryset):
        # The filters are declared for validation; what they select is one rule for all.
        return filtered(self.criteria(text=False), queryset)


# One filter per kind of entity, in the kinds' order, after the text query.
for _kind in KINDS.values():
    ArticleFilter.base_filters[_kind.name] = EntityFilter(kind=_kind, label=_kind.label)
ArticleFilter.base_filters = {
    name: ArticleFilter.base_filters[name]
    for name in ("q", *KINDS, "year", "language", "date_from", "date_to", "sort")
}

FACET_FILTER_PARAMS = tuple(f"facet_{kind}" for kind in KINDS)
FILTER_PARAMS = tuple(ArticleFilter.base_filters)
PARAM_ORDER = (*FILTER_PARAMS, "page", "per_page", *FACET_FILTER_PARAMS)
KNOWN_PARAMS = frozenset(PARAM_ORDER)


class PageForm(forms.Form):
    page = forms.IntegerField(
        min_value=1,
        max_value=10**6,
        required=False,
        error_messages={
            "invalid": "The page is a whole number from 1.",
            "min_value": "Pages are numbered from 1.",
            "max_value": "Pages are numbered from 1 to 1000000.",
        },
    )
    per_page = forms.IntegerField(
        min_value=1,
        max_value=100,
        required=False,
        error_messages={
            "invalid": "Give per_page as a number from 1 to 100.",
            "min_value": "Give per_page as a number from 1 to 100.",
            "max_value": "Give per_page as a number from 1 to 100.",
        },
    )


for _kind in KINDS.values():
    PageForm.base_fields[f"facet_{_kind.name}"] = forms.CharField(max_length=100, required=False, strip=True)
