"""The one factory module: small helpers that create real rows through the models."""

import datetime as dt
import itertools

from articles.models import (
    Actor,
    ActorAlias,
    Article,
    City,
    CityAlias,
    Country,
    CountryAlias,
    Source,
    SourceAlias,
)

_seq = itertools.count(1)


def source(name="Test Outlet", aliases=(), **kw) -> Source:
    obj = Source.objects.create(name=name, **kw)
    for alias in aliases:
        SourceAlias.objects.create(entity=obj, name=alias)
    return obj


def city(name="Almaty", aliases=(), **kw) -> City:
    obj = City.objects.create(name=name, **kw)
    for alias in aliases:
        CityAlias.objects.create(entity=obj, name=alias)
    return obj


def actor(name="Mukhtar Ablyazov", aliases=(), kind="person", **kw) -> Actor:
    obj = Actor.objects.create(name=name, kind=kind, **kw)
    for alias in aliases:
        ActorAlias.objects.create(entity=obj, name=alias)
    return obj


def country(name="Kazakhstan", aliases=(), **kw) -> Country:
    obj = Country.objects.create(name=name, **kw)
    for alias in aliases:
        CountryAlias.objects.create(entity=obj, name=alias)
    return obj


def article(
    title=None,
    body="Protesters gathered in the square.",
    *,
    published=dt.date(2020, 6, 10),
    status="published",
    source=None,
    cities=(),
    actors=(),
    countries=(),
    **kw,
) -> Article:
    obj = Article.objects.create(
        title=title or f"Report {next(_seq)}",
        body=body,
        published=published,
        status=status,
        source=source,
        **kw,
    )
    if cities:
        obj.cities.set(cities)
    if actors:
        obj.actors.set(actors)
    if countries:
        obj.countries.set(countries)
    return obj
