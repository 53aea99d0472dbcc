"""Articles (the reports) and the imported records behind them."""

from django.db import models
from django.db.models.functions import ExtractYear
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

from articles.text import fingerprint, simhash

from .entities import Actor, City, Country, Source, unique_slug


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
        return self.select_related("source").prefetch_related("cities", "actors", "countries")

    def with_year(self):
        return self.annotate(year=ExtractYear("published"))


class Article(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        REVIEW = "review", "Ready for review"
        PUBLISHED = "published", "Published"

    title = models.CharField(max_length=500)
    slug = models.SlugField(max_length=100, unique=True)
    body = models.TextField()
    published = models.DateField(
        "publication date",
        null=True,
        blank=True,
        db_index=True,
        help_text="The date the report was published, when it is known.",
    )
    source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.PROTECT, related_name="articles"
    )
    cities = models.ManyToManyField(City, blank=True, related_name="articles")
    actors = models.ManyToManyField(Actor, blank=True, related_name="articles")
    countries = models.ManyToManyField(
        Country,
        blank=True,
        related_name="articles",
        help_text="The countries the report is about, as its records give them.",
    )
    original_url = models.URLField("original URL", max_length=2000, blank=True)
    language = models.CharField(max_length=8, default="en", help_text="ISO 639-1 code")
    record_id = models.CharField(
        max_length=200,
        null=True,
        blank=True,
        unique=True,
        help_text="The identifier of the first record this article was imported from; every "
        "record behind it is listed under Origins.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True)
    fingerprint = models.CharField(max_length=64, editable=False, db_index=True)
    simhash = models.BigIntegerField(null=True, blank=True, editable=False)
    possible_duplicates = models.ManyToManyField(
        "self",
        blank=True,
        symmetrical=True,
        help_text="Reports with nearly the same text (a wire story republished, say), found on "
        "import for a curator to review.",
    )
    created = models.DateTimeField(default=timezone.now, editable=False)
    updated = models.DateTimeField(auto_now=True)

    objects = ArticleQuerySet.as_manager()
    # Who changed what and when, links to cities, actors and countries included; reverted
    # from the admin.
    history = HistoricalRecords(m2m_fields=[cities, actors, countries], excluded_fields=["simhash"])

    class Meta:
        ordering = ["-published", "-pk"]
        permissions = [("publish_article", "Can publish and unpublish articles")]
        indexes = [models.Index(fields=["status", "published"], name="article_status_published")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["draft", "review", "published"]),
                name="article_status_valid",
            ),
            models.CheckConstraint(condition=~models.Q(title=""), name="article_title_not_empty"),
            models.CheckConstraint(condition=~models.Q(body=""), name="article_body_not_empty"),
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

    @property
    def country_names(self) -> str | None:
        """The countries as one text, the record format's `country` ("Chile; Peru"), or None."""
        names = sorted((c.name for c in self.countries.all()), key=str.casefold)
        return "; ".join(names) or None


class Origin(models.Model):
    """One imported record behind an article, with the metadata it gave.

    An article has several when one report came in as several records with the same
    title, text and date (the Mass Mobilization data describes one news article once per
    protest event): its cities, actors and countries are the union of its records', and
    every record id finds it again on re-import.
    """

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="origins")
    record_id = models.CharField(max_length=200, unique=True)
    #: of the record's title, text and date: tells whether they changed since the import
    fingerprint = models.CharField(max_length=64, blank=True)
    source = models.CharField(max_length=400, blank=True)
    cities = models.JSONField(default=list, blank=True)
    actors = models.JSONField(default=list, blank=True)
    countries = models.JSONField(default=list, blank=True)
    url = models.CharField(max_length=2000, blank=True)
    language = models.CharField(max_length=8, blank=True)
    where = models.CharField(max_length=1000, blank=True, help_text="file and line last imported from")
    imported = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return self.record_id
