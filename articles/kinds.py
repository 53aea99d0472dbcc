"""The one description of each kind of curated entity: source, city, actor and country.

Filters, facets, chips, feeds, pages, the admin, import, export, merges and index sync read
these descriptions instead of restating them. Adding a kind is one entry here (plus its
model and migration).
"""

from dataclasses import dataclass

from django.urls import reverse

from .models import Actor, Article, City, Country, Source


@dataclass(frozen=True)
class Kind:
    #: the search parameter, facet name, query-syntax field and record field ("city")
    name: str
    model: type
    #: the Article attribute that links to it: a foreign key ("source") or many-to-many
    relation: str
    #: the record field that names it on import and export ("cities")
    record_field: str
    label: str
    plural: str
    #: the public pages: /<path>/ and /<path>/<slug>/
    path: str

    @property
    def many(self) -> bool:
        return self.relation != self.name

    @property
    def alias_model(self):
        return self.model.alias_model

    @property
    def through(self):
        """The link table of a many-to-many kind (None for the source)."""
        return getattr(Article, self.relation).through if self.many else None

    @property
    def through_column(self) -> str:
        """The link table's column holding the entity's id ("city_id"), or Article's column."""
        return f"{self.model._meta.model_name}_id" if self.many else f"{self.relation}_id"

    @property
    def article_lookup(self) -> str:
        """The queryset lookup from Article to this kind ("cities", "source")."""
        return self.relation

    @property
    def noun(self) -> str:
        """ "a city", "an actor"."""
        return f"{'an' if self.name[0] in 'aeiou' else 'a'} {self.name}"

    @property
    def list_url_name(self) -> str:
        return f"{self.name}-list"

    @property
    def detail_url_name(self) -> str:
        return f"{self.name}-detail"

    def list_url(self) -> str:
        return reverse(self.list_url_name)

    def entities_of(self, article) -> list:
        """The article's entities of this kind (prefetched where the caller prefetched)."""
        if self.many:
            return list(getattr(article, self.relation).all())
        value = getattr(article, self.relation)
        return [value] if value is not None else []


SOURCE = Kind("source", Source, "source", "source", "Source", "Sources", "sources")
CITY = Kind("city", City, "cities", "cities", "City", "Cities", "cities")
ACTOR = Kind("actor", Actor, "actors", "actors", "Actor", "Actors", "actors")
COUNTRY = Kind("country", Country, "countries", "country", "Country", "Countries", "countries")

#: In the order pages show them.
KINDS: dict[str, Kind] = {kind.name: kind for kind in (SOURCE, CITY, ACTOR, COUNTRY)}
#: The kinds an article links to many of.
LINKED: tuple[Kind, ...] = tuple(kind for kind in KINDS.values() if kind.many)


def kind_of(model_or_obj) -> Kind:
    model = model_or_obj if isinstance(model_or_obj, type) else type(model_or_obj)
    for kind in KINDS.values():
        if kind.model is model:
            return kind
    raise LookupError(f"{model.__name__} is not a kind of entity")
