"""Records of the archive's own work: index sync (the outbox and the names version) and
curation (alias candidates, merges, link suggestions)."""

import secrets

from django.db import models
from django.utils import timezone

from .article import Article


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
    """A version stamp renewed whenever a curated name or alias changes, so that every process
    refreshes its cached table of name spellings (query expansion, link suggestions) on its
    next use. A random stamp rather than a counter: a database restored from a backup, or
    emptied and filled again, can never present a stamp a process has cached already.
    """

    value = models.PositiveBigIntegerField(default=0)

    def __str__(self):
        return f"names version {self.value}"

    @classmethod
    def bump(cls):
        stamp = secrets.randbits(62) + 1
        if not cls.objects.filter(pk=1).update(value=stamp):
            cls.objects.update_or_create(pk=1, defaults={"value": stamp})

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
        COUNTRY = "country", "Country"

    class Decision(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        MERGED = "merged", "Merged"
        REJECTED = "rejected", "Rejected"
        SEPARATED = "separated", "Separated by a curator (a merge undone)"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    first_id = models.BigIntegerField(help_text="the entity to keep")
    second_id = models.BigIntegerField(help_text="the entity proposed as its other spelling")
    first_name = models.CharField(max_length=400)
    second_name = models.CharField(max_length=400)
    decision = models.CharField(
        max_length=10, choices=Decision.choices, default=Decision.PROPOSED, db_index=True
    )
    created = models.DateTimeField(default=timezone.now)
    decided = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["decision", "kind", "first_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "first_id", "second_id"], name="alias_candidate_unique_pair"
            ),
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
    created_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
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
    decision = models.CharField(
        max_length=10, choices=Decision.choices, default=Decision.PROPOSED, db_index=True
    )
    decided_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["kind", "entity_name"]
        constraints = [
            models.UniqueConstraint(fields=["article", "kind", "entity_id"], name="link_suggestion_unique"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.entity_name} for {self.article}"


class GenericName(models.Model):
    """A name too generic to suggest as a link ("people", "police", "residents"): the texts
    name them everywhere. Curators keep this list; an actor or city whose name or alias is on
    it is never proposed under Suggested links."""

    name = models.CharField(max_length=400)
    key = models.CharField(max_length=400, unique=True, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = "generic name (never suggested)"
        verbose_name_plural = "generic names (never suggested)"

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        from articles.text import normalize_name

        self.name = " ".join(self.name.split())
        self.key = normalize_name(self.name)
        super().save(*args, **kwargs)
