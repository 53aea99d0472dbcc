"""Curated entities: sources, cities, actors and countries, each with aliases.

Names and aliases are compared through `key` (see `text.normalize_name`): a key belongs to one
entity of its kind, whether as its canonical name or as an alias. The database enforces the
uniqueness within each table; `save()` and `clean()` check across the name and alias tables.

An entity is *public* while at least one published article names it: the public never sees
a name that only drafts mention (`Entity.objects.public()`).
"""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, models
from django.db.models import Exists, OuterRef, Subquery
from django.urls import reverse
from simple_history.models import HistoricalRecords

from articles.text import make_slug, normalize_name


class EntityQuerySet(models.QuerySet):
    def public(self):
        """Entities named by at least one published article."""
        return self.filter(Exists(self.published_articles(OuterRef("pk"))))

    def public_in(self, pks):
        """Those of `pks` named by at least one published article, each found by looking up
        its links until the first published article (a correlated subquery with LIMIT 1,
        which neither database turns into a join). `public().filter(pk__in=...)` gives the
        same, but PostgreSQL plans its EXISTS by hashing every link of every article (a
        facet's 50 actors at 100,000 reports: 125 ms); and reading every link of the
        entities at once costs SQLite 70-110 ms for a facet's 50 most named (they name most
        of the archive). This way, about a millisecond on SQLite there."""
        first = self.published_articles(OuterRef("pk")).order_by().values("pk")[:1]
        return (
            self.filter(pk__in=list(pks))
            .alias(first_published=Subquery(first))
            .filter(first_published__isnull=False)
        )

    def published_articles(self, entity):
        """The published articles that name `entity` (a pk or an OuterRef)."""
        relation = self.model._meta.get_field("articles")
        articles = relation.related_model.objects.published()
        return articles.filter(**{relation.field.name: entity})


class Entity(models.Model):
    name = models.CharField(max_length=400)
    slug = models.SlugField(max_length=100, unique=True)
    key = models.CharField(max_length=400, unique=True, editable=False)
    history = HistoricalRecords(inherit=True)

    objects = EntityQuerySet.as_manager()

    alias_model: type["Alias"]
    url_name: str

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.name = " ".join(self.name.split())
        self.key = normalize_name(self.name)
        if not self.slug:
            self.slug = unique_slug(type(self), self.name)
        # The key's uniqueness across names and aliases spans two tables: checked on every
        # save, not only in forms (each table's own unique index holds the rest).
        if self.alias_model.objects.filter(key=self.key).exclude(entity_id=self.pk).exists():
            raise IntegrityError(f"{self.name!r} is already an alias of another {self._meta.verbose_name}")
        super().save(*args, **kwargs)

    def clean(self):
        super().clean()
        key = normalize_name(self.name)
        if not key:
            raise ValidationError({"name": "A name is required."})
        clash = self.alias_model.objects.filter(key=key).exclude(entity_id=self.pk).first()
        if clash:
            raise ValidationError({"name": f"“{self.name}” is already an alias of {clash.entity.name}."})

    def get_absolute_url(self):
        return reverse(self.url_name, args=[self.slug])

    @property
    def all_names(self) -> list[str]:
        return [self.name, *(a.name for a in self.aliases.all())]

    @property
    def is_public(self) -> bool:
        return type(self).objects.published_articles(self.pk).exists()

    @classmethod
    def resolve(cls, name: str):
        """The entity whose name or alias matches `name`, or None."""
        key = normalize_name(name)
        if not key:
            return None
        return cls.objects.filter(key=key).first() or cls.objects.filter(aliases__key=key).first()


class Alias(models.Model):
    """Another spelling of an entity's name: transliteration, former name, abbreviation."""

    name = models.CharField(max_length=400)
    key = models.CharField(max_length=400, unique=True, editable=False)
    history = HistoricalRecords(inherit=True)

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.name = " ".join(self.name.split())
        self.key = normalize_name(self.name)
        entity_model = type(self)._meta.get_field("entity").related_model
        if entity_model.objects.filter(key=self.key).exists():
            raise IntegrityError(f"{self.name!r} is the name of a {entity_model._meta.verbose_name}")
        super().save(*args, **kwargs)

    def clean(self):
        super().clean()
        key = normalize_name(self.name)
        if not key:
            raise ValidationError({"name": "An alias cannot be empty."})
        entity_model = type(self)._meta.get_field("entity").related_model
        owner = entity_model.objects.filter(key=key).first()
        if owner and owner.pk != self.entity_id:
            raise ValidationError({"name": f"“{self.name}” is the name of {owner.name}."})
        if owner and owner.pk == self.entity_id:
            raise ValidationError({"name": "This is already the canonical name."})
        other = type(self).objects.filter(key=key).exclude(pk=self.pk).first()
        if other:
            raise ValidationError({"name": f"“{self.name}” is already an alias of {other.entity.name}."})


def unique_slug(model, text: str, *, field: str = "slug", max_length: int = 80) -> str:
    base = make_slug(text, max_length)
    if not model._default_manager.filter(**{field: base}).exists():
        return base
    return f"{base}-{next_number(taken_numbers(model, base, field=field))}"


def taken_numbers(model, base: str, *, field: str = "slug") -> set[int]:
    """The numbers n of the slugs `base-n` in `model`'s table, read in one query through the
    column's index (a headline reported a thousand times has a thousand of them)."""
    prefix = f"{base}-"
    if connection.vendor == "sqlite":
        # SQLite's LIKE cannot use the column's index; in its binary order these are the
        # same rows (every text that begins with `base-`, and nothing else).
        rows = model._default_manager.filter(**{f"{field}__gte": prefix, f"{field}__lt": f"{base}."})
    else:
        rows = model._default_manager.filter(**{f"{field}__startswith": prefix})
    tails = (slug[len(prefix) :] for slug in rows.order_by().values_list(field, flat=True).iterator(5000))
    return {int(tail) for tail in tails if tail.isdigit() and tail.isascii()}


def next_number(taken: set[int], start: int = 2) -> int:
    """The lowest n from `start` whose `base-n` is not taken."""
    n = start
    while n in taken:
        n += 1
    return n


class Source(Entity):
    """A news outlet."""

    homepage = models.URLField(blank=True)
    url_name = "source-detail"

    class Meta(Entity.Meta):
        pass


class SourceAlias(Alias):
    entity = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="aliases")

    class Meta(Alias.Meta):
        verbose_name_plural = "source aliases"


class City(Entity):
    """A place reports are about: usually a city, sometimes a region.

    A city has no country of its own: each report records the countries it is about, and
    the countries of a city are those of its reports (one name may stand for places in
    several countries, and borders change: Moscow in the USSR, then in Russia).
    """

    url_name = "city-detail"

    class Meta(Entity.Meta):
        verbose_name_plural = "cities"


class CityAlias(Alias):
    entity = models.ForeignKey(City, on_delete=models.CASCADE, related_name="aliases")

    class Meta(Alias.Meta):
        verbose_name_plural = "city aliases"


class Actor(Entity):
    """A person or an organisation named in reports."""

    class Kind(models.TextChoices):
        PERSON = "person", "Person"
        ORGANISATION = "organisation", "Organisation"
        GROUP = "group", "Group"
        INSTITUTION = "institution", "Institution"

    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.GROUP)
    url_name = "actor-detail"

    class Meta(Entity.Meta):
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["person", "organisation", "group", "institution"]),
                name="actor_kind_valid",
            )
        ]


class ActorAlias(Alias):
    entity = models.ForeignKey(Actor, on_delete=models.CASCADE, related_name="aliases")

    class Meta(Alias.Meta):
        verbose_name_plural = "actor aliases"


class Country(Entity):
    """A country as records name it, the names of their time included (USSR, Yugoslavia)."""

    url_name = "country-detail"

    class Meta(Entity.Meta):
        verbose_name_plural = "countries"


class CountryAlias(Alias):
    entity = models.ForeignKey(Country, on_delete=models.CASCADE, related_name="aliases")

    class Meta(Alias.Meta):
        verbose_name_plural = "country aliases"


Source.alias_model = SourceAlias
City.alias_model = CityAlias
Actor.alias_model = ActorAlias
Country.alias_model = CountryAlias
