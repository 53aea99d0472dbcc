"""The archive's data. Import models from here (`from articles.models import Article`)."""

from .article import Article, ArticleQuerySet, Origin
from .entities import (
    Actor,
    ActorAlias,
    Alias,
    City,
    CityAlias,
    Country,
    CountryAlias,
    Entity,
    EntityQuerySet,
    Source,
    SourceAlias,
    unique_slug,
)
from .workflow import AliasCandidate, GenericName, IndexQueue, LinkSuggestion, Merge, NamesVersion

__all__ = [
    "Actor",
    "ActorAlias",
    "Alias",
    "AliasCandidate",
    "Article",
    "ArticleQuerySet",
    "City",
    "CityAlias",
    "Country",
    "CountryAlias",
    "Entity",
    "EntityQuerySet",
    "GenericName",
    "IndexQueue",
    "LinkSuggestion",
    "Merge",
    "NamesVersion",
    "Origin",
    "Source",
    "SourceAlias",
    "unique_slug",
]
