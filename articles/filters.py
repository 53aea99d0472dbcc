"""The one FilterSet behind every search URL (`/search/`, its feed and exports, `/api/search/`).

It declares and validates every search parameter. Database filters (source, city, actor,
year, dates) are applied here; the text query `q` is validated here and matched by the
search package in `selectors.article_search`, which intersects the two, so text search,
filters and facet counts always agree.
"""

import datetime as dt
import re

import django_filters
from django import forms
from django.core.validators import ProhibitNullCharactersValidator
from django.db.models import Q

from .models import Actor, Article, City, Country, Source

SLUG_RE = re.compile(r"^[-a-zA-Z0-9_]{1,100}$")
MAX_QUERY_LENGTH = 1000
MAX_VALUES = 50
SORTS = [("relevance", "Relevance"), ("newest", "Newest first"), ("oldest", "Oldest first")]
#: Parameters every search URL understands besides the filters.
PAGING_PARAMS = ("page", "per_page")


class MultiValueField(forms.Field):
    """A repeatable parameter (`?city=a&city=b`), each value checked by `clean_value`."""

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
    def __init__(self, *, model, label_noun, **kwargs):
        self.model, self.label_noun = model, label_noun
        super().__init__(**kwargs)

    def clean(self, value):
        slugs = super().clean(value)
        for slug in slugs:
            if not SLUG_RE.match(slug):
                raise forms.ValidationError(f"“{slug[:60]}” is not a valid {self.label_noun} slug.")
        # Only names that published reports give: a draft's new city is no city at all here.
        found = {e.slug: e for e in self.model.objects.public().filter(slug__in=slugs)}
        unknown = [s for s in slugs if s not in found]
        if unknown:
            raise forms.ValidationError(
                f"There is no {self.label_noun} “{unknown[0]}”.", code="invalid_choice"
            )
        return [found[s] for s in slugs]


MIN_YEAR, MAX_YEAR = 1, 9999


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


class LanguageFilter(django_filters.Filter):
    field_class = LanguagesField

    def filter(self, qs, value):
        return qs.filter(language__in=value) if value else qs


class EntityFilter(django_filters.Filter):
    field_class = EntitySlugField

    def __init__(self, *, through_field, **kwargs):
        self.through_field = through_field
        super().__init__(**kwargs)

    def filter(self, qs, value):
        if not value:
            return qs
        if self.through_field is None:  # a foreign key on Article
            return qs.filter(**{f"{self.field_name}__in": value})
        # Values of one parameter are ORed; a subquery keeps each article once.
        through = getattr(Article, self.field_name).through
        linked = through.objects.filter(**{f"{self.through_field}__in": value})
        return qs.filter(pk__in=linked.values("article_id"))


class YearFilter(django_filters.Filter):
    field_class = YearsField

    def filter(self, qs, value):
        if not value:
            return qs
        spans = Q()
        for year in value:
            spans |= Q(published__range=(dt.date(year, 1, 1), dt.date(year, 12, 31)))
        return qs.filter(spans)


class SearchForm(forms.Form):
    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        return cleaned


DATE_ERRORS = {"invalid": "Enter a real date as YYYY-MM-DD."}


class ArticleFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="filter_text", max_length=MAX_QUERY_LENGTH, label="Search", strip=True,
        error_messages={"max_length": "The query is too long: at most %(limit_value)d "
                        "characters (it has %(show_value)d)."},
    )
    source = EntityFilter(field_name="source", through_field=None, model=Source,
                          label_noun="source", label="Source")
    city = EntityFilter(field_name="cities", through_field="city", model=City,
                        label_noun="city", label="City")
    actor = EntityFilter(field_name="actors", through_field="actor", model=Actor,
                         label_noun="actor", label="Actor")
    country = EntityFilter(field_name="countries", through_field="country", model=Country,
                           label_noun="country", label="Country")
    year = YearFilter(label="Year")
    language = LanguageFilter(label="Language")
    date_from = django_filters.DateFilter(
        field_name="published", lookup_expr="gte", input_formats=["%Y-%m-%d"],
        label="From", error_messages=DATE_ERRORS,
    )
    date_to = django_filters.DateFilter(
        field_name="published", lookup_expr="lte", input_formats=["%Y-%m-%d"],
        label="To", error_messages=DATE_ERRORS,
    )
    sort = django_filters.ChoiceFilter(
        choices=SORTS, method="filter_sort", empty_label=None, label="Sort",
        error_messages={"invalid_choice": "Sort by relevance, newest or oldest."},
    )

    class Meta:
        model = Article
        fields = []
        form = SearchForm

    def filter_text(self, queryset, name, value):
        # Matched by the search package (see module docstring).
        return queryset

    def filter_sort(self, queryset, name, value):
        # Ordering is the selector's: it depends on whether the text query ranks results.
        return queryset


FACET_PARAMS = ("source", "city", "actor", "country", "year", "language")
#: Text typed into a facet's own filter box: narrows that facet's list, not the results.
FACET_FILTER_PARAMS = ("facet_source", "facet_city", "facet_actor", "facet_country")
FILTER_PARAMS = tuple(ArticleFilter.base_filters)
PARAM_ORDER = FILTER_PARAMS + PAGING_PARAMS + FACET_FILTER_PARAMS
KNOWN_PARAMS = frozenset(PARAM_ORDER)


class PageForm(forms.Form):
    facet_source = forms.CharField(max_length=100, required=False, strip=True)
    facet_city = forms.CharField(max_length=100, required=False, strip=True)
    facet_actor = forms.CharField(max_length=100, required=False, strip=True)
    facet_country = forms.CharField(max_length=100, required=False, strip=True)
    page = forms.IntegerField(
        min_value=1, max_value=10**6, required=False,
        error_messages={"invalid": "The page is a whole number from 1.",
                        "min_value": "Pages are numbered from 1."},
    )
    per_page = forms.IntegerField(
        min_value=1, max_value=100, required=False,
        error_messages={"invalid": "Give per_page as a number from 1 to 100.",
                        "min_value": "Give per_page as a number from 1 to 100.",
                        "max_value": "Give per_page as a number from 1 to 100."},
    )
