"""The archive's data: curated entities (sources, cities, actors) with aliases, and articles.

Names and aliases are compared through `key` (see `text.normalize_name`): a key belongs to one
entity of its kind, whether as its canonical name or as an alias. The database enforces the
uniqueness within each table; `clean()` checks across the name and alias tables.
"""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models
from django.db.models.functions import ExtractYear
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

from .text import fingerprint, make_slug, normalize_name, simhash


class Entity(models.Model):
    name = models.CharField(max_length=400)
    slug = models.SlugField(max_length=100, unique=True)
    key = models.CharField(max_length=400, unique=True, editable=False)
    history = HistoricalRecords(inherit=True)

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
            raise ValidationError(
                {"name": f"“{self.name}” is already an alias of {clash.entity.name}."}
            )

    def get_absolute_url(self):
        return reverse(self.url_name, args=[self.slug])

    @property
    def all_names(self) -> list[str]:
        return [self.name, *(a.name for a in self.aliases.all())]

    @classmethod
    def resolve(cls, name: str):
        """The entity whose name or alias matches `name`, or None."""
        key = normalize_name(name)
        if not key:
            return None
        return (
            cls.objects.filter(key=key).first()
            or cls.objects.filter(aliases__key=key).first()
        )


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
            raise ValidationError(
                {"name": f"“{self.name}” is already an alias of {other.entity.name}."}
            )


def unique_slug(model, text: str, *, field: str = "slug", max_length: int = 80) -> str:
    base = make_slug(text, max_length)
    slug, n = base, 1
    while model._default_manager.filter(**{field: slug}).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


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
    """A place reports are about: usually a city, sometimes a region."""

    country = models.CharField(max_length=100, blank=True)
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


Source.alias_model = SourceAlias
City.alias_model = CityAlias
Actor.alias_model = ActorAlias


class ArticleQuerySet(models.QuerySet):
    def published(self):
        return self.filter(status=Article.Status.PUBLISHED)

    def visible_to(self, user):
        """Everything for staff; published articles for everyone else."""
        if user is not None and user.is_active and user.is_staff:
            return self
        return self.published()

    def newest_first(self):
        return self.order_by(models.F("published").desc(nulls_last=True), "-pk")

    def with_metadata(self):
        return self.select_related("source").prefetch_related("cities", "actors")

    def with_year(self):
        return self.annotate(year=ExtractYear("published"))


class Article(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"

    title = models.CharField(max_length=500)
    slug = models.SlugField(max_length=100, unique=True)
    body = models.TextField()
    published = models.DateField(
        "publication date", null=True, blank=True, db_index=True,
        help_text="The date the report was published, when it is known.",
    )
    source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.PROTECT, related_name="articles"
    )
    cities = models.ManyToManyField(City, blank=True, related_name="articles")
    actors = models.ManyToManyField(Actor, blank=True, related_name="articles")
    original_url = models.URLField("original URL", max_length=2000, blank=True)
    language = models.CharField(max_length=8, default="en", help_text="ISO 639-1 code")
    record_id = models.CharField(
        max_length=200, null=True, blank=True, unique=True,
        help_text="The record's stable identifier at its origin, if it was imported.",
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    fingerprint = models.CharField(max_length=64, editable=False, db_index=True)
    simhash = models.BigIntegerField(null=True, blank=True, editable=False)
    possible_duplicates = models.ManyToManyField(
        "self", blank=True, symmetrical=True,
        help_text="Reports with nearly the same text (a wire story republished, say), found on "
                  "import for a curator to review.",
    )
    created = models.DateTimeField(default=timezone.now, editable=False)
    updated = models.DateTimeField(auto_now=True)

    objects = ArticleQuerySet.as_manager()
    # Who changed what and when, links to cities and actors included; reverted from the admin.
    history = HistoricalRecords(m2m_fields=[cities, actors], excluded_fields=["simhash"])

    class Meta:
        ordering = ["-published", "-pk"]
        permissions = [("publish_article", "Can publish and unpublish articles")]
        indexes = [models.Index(fields=["status", "published"], name="article_status_published")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["draft", "published"]),
                name="article_status_valid",
            ),
            models.CheckConstraint(
                condition=~models.Q(title=""), name="article_title_not_empty"
            ),
            models.CheckConstraint(
                condition=~models.Q(body=""), name="article_body_not_empty"
            ),
            models.CheckConstraint(
                condition=models.Q(language__regex=r"^[a-z]{2,3}$"),
                name="article_language_iso639",
            ),
        ]

    def __str__(self):
        return self.title

    def save(self, *args, **kwargs):
        if not self.slug:
            self.slug = unique_slug(Article, self.title)
        if self.record_id == "":
            self.record_id = None
        self.fingerprint = fingerprint(self.title, self.body, self.published)
        self.simhash = simhash(self.body)
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("article-detail", args=[self.slug])

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED


class IndexQueue(models.Model):
    """Articles whose index document must be brought up to date (a transactional outbox).

    Rows are written in the same transaction as the change, so a committed change always
    leaves a row and a rolled-back one never does. The search package drains the queue
    after commit; rows left by a process that died are drained by the next writer,
    `check_index --repair` or `rebuild_index`.
    """

    article_id = models.BigIntegerField(db_index=True)
    queued = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return f"reindex article {self.article_id}"


class NamesVersion(models.Model):
    """A counter bumped whenever a curated name or alias changes, so that every process
    refreshes its cached table of name spellings (used to expand queries) on its next search.
    """

    value = models.PositiveBigIntegerField(default=0)

    def __str__(self):
        return f"names version {self.value}"

    @classmethod
    def bump(cls):
        updated = cls.objects.filter(pk=1).update(value=models.F("value") + 1)
        if not updated:
            cls.objects.get_or_create(pk=1)
            cls.objects.filter(pk=1).update(value=models.F("value") + 1)

    @classmethod
    def current(cls) -> int:
        return cls.objects.filter(pk=1).values_list("value", flat=True).first() or 0


class AliasCandidate(models.Model):
    """Two entities of one kind whose names differ only by transliteration (Toqaev /
    Tokayev): proposed by `find_alias_candidates`, decided by a curator."""

    class Kind(models.TextChoices):
        SOURCE = "source", "Source"
        CITY = "city", "City"
        ACTOR = "actor", "Actor"

    class Decision(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        MERGED = "merged", "Merged"
        REJECTED = "rejected", "Rejected"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    first_id = models.BigIntegerField(help_text="the entity to keep")
    second_id = models.BigIntegerField(help_text="the entity proposed as its other spelling")
    first_name = models.CharField(max_length=400)
    second_name = models.CharField(max_length=400)
    decision = models.CharField(max_length=10, choices=Decision.choices, default=Decision.PROPOSED,
                                db_index=True)
    created = models.DateTimeField(default=timezone.now)
    decided = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["decision", "kind", "first_name"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "first_id", "second_id"],
                                    name="alias_candidate_unique_pair"),
        ]

    def __str__(self):
        return f"{self.first_name} / {self.second_name}"


class Merge(models.Model):
    """One entity merged into another, recorded with everything needed to undo it."""

    kind = models.CharField(max_length=10, choices=AliasCandidate.Kind.choices)
    target_id = models.BigIntegerField()
    target_name = models.CharField(max_length=400)
    merged_name = models.CharField(max_length=400)
    #: the merged entity's fields, aliases, the article links moved and the aliases added
    snapshot = models.JSONField()
    created = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    undone = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self):
        return f"{self.merged_name} → {self.target_name}"


class LinkSuggestion(models.Model):
    """A curated city or actor that an article's text names (under any spelling) but that
    is not linked to it yet, with the sentence that names it. A curator accepts (links it)
    or rejects it; a rejected suggestion is never proposed again."""

    class Kind(models.TextChoices):
        CITY = "city", "City"
        ACTOR = "actor", "Actor"

    class Decision(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="suggestions")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    entity_id = models.BigIntegerField()
    entity_name = models.CharField(max_length=400)
    matched = models.CharField(max_length=400, help_text="the spelling found in the text")
    evidence = models.TextField(help_text="the sentence that names it")
    decision = models.CharField(max_length=10, choices=Decision.choices,
                                default=Decision.PROPOSED, db_index=True)
    decided_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decided = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["kind", "entity_name"]
        constraints = [
            models.UniqueConstraint(fields=["article", "kind", "entity_id"],
                                    name="link_suggestion_unique"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.entity_name} for {self.article}"
