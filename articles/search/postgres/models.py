"""The PostgreSQL engine's tables. They exist only on PostgreSQL (the migration creates them
there and nothing elsewhere); Django knows them so that test flushes empty them too.

`Document` is the index: one row per published article, keyed by the article's pk but with
no foreign key (the index holds what the sync path wrote, as Whoosh's files do). `Term`
counts the documents holding each word of the spelling vocabulary ("did you mean"), each
stemmed lexeme (fuzzy terms, wildcards, idf for related reports), each text search
configuration in use, each language, each entity and each day (the whole archive's facets
and timeline without a scan).
`State` says which schema version the rows were written under.
"""

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.search import SearchVectorField
from django.db import models


class Document(models.Model):
    article_id = models.BigIntegerField(primary_key=True)
    stamp = models.TextField()
    language = models.TextField()
    #: the text search configuration the text was analysed with (from the language)
    config = models.TextField()
    published = models.DateField(null=True)
    #: "kind:id" of every linked entity ("city:3"), for filters and facet counts
    entities = ArrayField(models.TextField(), default=list)
    #: every field with its weight (title A, city/actor/country B, source C, body D)
    document = SearchVectorField()
    title = SearchVectorField()
    body = SearchVectorField()
    source = SearchVectorField()
    city = SearchVectorField()
    actor = SearchVectorField()
    country = SearchVectorField()
    #: the document's words, unstemmed, for the spelling vocabulary
    spell = SearchVectorField()
    #: "lexeme|tier" for each lexeme that ranks the document in one of the first tiers of a
    #: one-word query (`selection.IMPACT`), for the first page of a common word
    impact = SearchVectorField(default="")

    class Meta:
        db_table = "search_postgres_document"

    def __str__(self):
        return f"document of article {self.article_id}"


class Term(models.Model):
    #: "s" a spelling word, "l" a stemmed lexeme, "c" a text search configuration, "g" a language,
    #: "e" an entity ("city:3", as `Document.entities`), "d" a day (ISO date)
    kind = models.CharField(max_length=1)
    word = models.TextField()
    ndoc = models.IntegerField()

    class Meta:
        db_table = "search_postgres_term"
        constraints = [models.UniqueConstraint(fields=["kind", "word"], name="search_postgres_term_key")]

    def __str__(self):
        return f"{self.kind}:{self.word} ({self.ndoc})"


class State(models.Model):
    schema_version = models.IntegerField()
    built = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "search_postgres_state"

    def __str__(self):
        return f"schema {self.schema_version}, built {self.built}"
