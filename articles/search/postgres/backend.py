"""The PostgreSQL engine: the index is a table of the archive's own database.

No file, no writer lock: a write is one transaction of `INSERT ... ON CONFLICT` statements,
and any number of web workers and commands write at once. Writers of the same articles take
turns on transaction-level advisory locks (one per bucket of pks, taken in order, so two
writers never deadlock), which keeps the vocabulary's document counts exact; a rebuild holds
off writers (not readers) until it commits. Readers see the last committed state, never a
half-written one.
"""

import contextlib
import logging
from collections.abc import Callable, Iterable

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection, connections, transaction
from rapidfuzz.distance import DamerauLevenshtein

from archive.routers import read_alias

from .. import query as q
from ..base import IndexUnavailable, SearchBackend
from ..passages import snippets, words_of
from ..schema import NAME_SEPARATOR, QUERY_FIELDS, SCHEMA_VERSION, id_field
from .configs import config_for
from .selection import IMPACT, TABLE, TERMS, WEIGHTS, PostgresSelection
from .text import initial, plain, prepared, quoted, spelling_words
from .translate import DEFAULT_CONFIGS, Translator

logger = logging.getLogger("articles")

STATE = "search_postgres_state"
#: Advisory lock keys (PostgreSQL's two-integer form): (LOCKS, bucket) for writers of the
#: articles in a bucket, (LOCKS, REBUILD) shared by writers and held alone by a rebuild.
LOCKS = 0x5EA2C4
BUCKETS = 256
REBUILD = BUCKETS
BATCH = 500
#: Key terms of a report that find its related reports (as Whoosh's more_like_this).
RELATED_TERMS = 12
#: The related reports are found among the `RELATED_CANDIDATES` reports holding the most of
#: those terms (each weighed by its weight in the report: tf x idf), read from the GIN index
#: alone, and ranked by that sum times the sum of each term's weight x `ts_rank` in their body
#: (normalised by the log of its length). Ranking every report holding any of the terms read
#: each one's vector: at 100,000 reports a list took p50 / p95 / max 137 / 353 / 594 ms, now
#: 40 / 71 / 107 (bench/related.py, README). Measured with bench/related.py on the Mass
#: Mobilization corpus (the share of related reports about the report's own country, out of
#: 500 reports): ts_rank of the terms ORed over every report holding one (before) 0.435; the
#: weighed sum alone 0.492 (200 or 100,000 candidates alike), normalised 0.525, times the
#: weights held 0.550 (200 or 1,000 candidates alike); the Whoosh engine's 0.600.
RELATED_CANDIDATES = 200
RELATED_NORMALIZATION = 1

#: One batch of documents written, and every count of the vocabulary moved by what the
#: batch removed and added, in one statement (its CTEs read the rows as they were before it).
WRITE = f"""
WITH input AS (
    SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],
                         %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],
                         %s::text[])
        AS t(article_id, stamp, language, config, published, entities,
             title, body, source, city, actor, country, spell)
), analysed AS (
    SELECT article_id, stamp, language, config, NULLIF(published, '')::date AS published,
           COALESCE(string_to_array(NULLIF(entities, ''), ' '), '{{}}') AS entities,
           to_tsvector(config::regconfig, title) AS title,
           to_tsvector(config::regconfig, body) AS body,
           to_tsvector(config::regconfig, source) AS source,
           to_tsvector(config::regconfig, city) AS city,
           to_tsvector(config::regconfig, actor) AS actor,
           to_tsvector(config::regconfig, country) AS country,
           array_to_tsvector(ARRAY(
               SELECT DISTINCT w FROM unnest(string_to_array(spell, ' ')) AS w
               WHERE w <> '' AND ts_lexize('english_stem', w) <> '{{}}'
                 AND ts_lexize('russian_stem', w) <> '{{}}'
           )) AS spell
    FROM input
), weighted AS (
    SELECT *, setweight(title, 'A') || setweight(city, 'B') || setweight(actor, 'B')
              || setweight(country, 'B') || setweight(source, 'C') || setweight(body, 'D') AS document
    FROM analysed
), old AS (
    SELECT document, spell, config, language, entities, published
    FROM {TABLE} WHERE article_id = ANY(%s) FOR UPDATE
), removed AS (
    DELETE FROM {TABLE} WHERE article_id = ANY(%s)
), written AS (
    INSERT INTO {TABLE} (article_id, stamp, language, config, published, entities, document,
                         title, body, source, city, actor, country, spell, impact)
    SELECT article_id, stamp, language, config, published, entities, document,
           title, body, source, city, actor, country, spell,
           search_postgres_impact(document, %s::real[], %s::real[])
    FROM weighted
    ON CONFLICT (article_id) DO UPDATE SET
        stamp = excluded.stamp, language = excluded.language, config = excluded.config,
        published = excluded.published, entities = excluded.entities,
        document = excluded.document, title = excluded.title, body = excluded.body,
        source = excluded.source, city = excluded.city, actor = excluded.actor,
        country = excluded.country, spell = excluded.spell, impact = excluded.impact
    RETURNING document, spell, config, language, entities, published
), changes AS (
    SELECT 'l' AS kind, unnest(tsvector_to_array(document)) AS word, -1 AS n FROM old
    UNION ALL SELECT 's', unnest(tsvector_to_array(spell)), -1 FROM old
    UNION ALL SELECT 'c', config, -1 FROM old
    UNION ALL SELECT 'g', language, -1 FROM old
    UNION ALL SELECT 'e', unnest(entities), -1 FROM old
    UNION ALL SELECT 'd', to_char(published, 'YYYY-MM-DD'), -1 FROM old WHERE published IS NOT NULL
    UNION ALL SELECT 'l', unnest(tsvector_to_array(document)), 1 FROM written
    UNION ALL SELECT 's', unnest(tsvector_to_array(spell)), 1 FROM written
    UNION ALL SELECT 'c', config, 1 FROM written
    UNION ALL SELECT 'g', language, 1 FROM written
    UNION ALL SELECT 'e', unnest(entities), 1 FROM written
    UNION ALL SELECT 'd', to_char(published, 'YYYY-MM-DD'), 1 FROM written WHERE published IS NOT NULL
)
INSERT INTO {TERMS} (kind, word, ndoc)
SELECT kind, word, sum(n) FROM changes GROUP BY kind, word HAVING sum(n) <> 0 ORDER BY kind, word
ON CONFLICT (kind, word) DO UPDATE SET ndoc = {TERMS}.ndoc + excluded.ndoc
"""


def _columns(docs: list[dict]) -> list[list]:
    """The WRITE statement's input arrays for `docs`."""
    from articles.kinds import KINDS

    columns = [[] for _ in range(13)]
    for doc in docs:
        names = {name: doc.get(name, "") or "" for name in QUERY_FIELDS}
        entities = " ".join(f"{kind}:{int(i)}" for kind in KINDS for i in doc.get(id_field(kind), ()))
        values = [
            int(doc["pk"]),
            doc["stamp"],
            doc.get("language") or "",
            config_for(doc.get("language") or ""),
            doc.get("published") or "",
            entities,
            *(prepared(names[f]) for f in ("title", "body", "source", "city", "actor", "country")),
            spelling_words(doc.get("spell") or NAME_SEPARATOR.join(names.values())),
        ]
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    return columns


class PostgresBackend(SearchBackend):
    def __init__(self):
        if connection.vendor != "postgresql":
            raise ImproperlyConfigured(
                "ARCHIVE_SEARCH_ENGINE=postgres needs a PostgreSQL database (DATABASE_URL=postgres://...)"
            )

    @classmethod
    def from_settings(cls, settings) -> "PostgresBackend":
        return cls()

    def close(self):
        pass  # Django owns the connections

    # ---------------------------------------------------------------- reading

    def exists(self) -> bool:
        db = read_alias()
        try:
            with transaction.atomic(using=db), connections[db].cursor() as cursor:
                cursor.execute(f"SELECT schema_version FROM {STATE} ORDER BY id DESC LIMIT 1")
                row = cursor.fetchone()
        except DatabaseError:
            return False  # not migrated
        return row is not None and row[0] == SCHEMA_VERSION

    def _ready(self):
        if not self.exists():
            raise IndexUnavailable("the search index has not been built yet")

    @staticmethod
    def configs(cursor) -> list[str]:
        """The text search configurations the documents were analysed with."""
        cursor.execute(f"SELECT word FROM {TERMS} WHERE kind = 'c' AND ndoc > 0 ORDER BY word")
        return [c for (c,) in cursor.fetchall()] or list(DEFAULT_CONFIGS)

    def select(self, criteria, *, names=None) -> PostgresSelection:
        self._ready()
        return PostgresSelection(self, criteria, names)

    def suggest(self, cursor, translator: Translator, q_text: str, words: list[str], names=None):
        """The query with each word that matches nothing replaced by the closest word of the
        archive's vocabulary (live documents only), or None when every word matches. Three
        statements whatever the query's length: its words analysed, those matching nothing,
        their closest words."""
        correctable = list(q.correctable(words, names))
        translator.analyse(correctable)
        queries = {}
        for word in correctable:
            alternatives = translator.lexemes.get(word)
            if alternatives:
                queries[word] = " | ".join(" <-> ".join(map(quoted, a)) for a in alternatives)
        if not queries:
            return None
        # Which words match nothing: one statement for them all (a query of 50 words asked 50).
        cursor.execute(
            f"""SELECT w FROM unnest(%s::text[], %s::text[]) AS x(w, tsq)
                WHERE NOT EXISTS (SELECT 1 FROM {TABLE} WHERE document @@ x.tsq::tsquery)""",
            [list(queries), list(queries.values())],
        )
        unmatched = [w for (w,) in cursor.fetchall()]
        if not unmatched:
            return None
        closest = self._closest_words(cursor, [w.lower() for w in unmatched])
        replacements = {w: closest[w.lower()] for w in unmatched if closest.get(w.lower())}
        return q.corrected(q_text, replacements)

    @staticmethod
    def _closest_words(cursor, words: list[str]) -> dict[str, str]:
        """For each of `words`, the word of the spelling vocabulary within two edits that
        shares its first letter: the closest, then the most frequent (as the Whoosh engine
        chooses); one statement for them all. A word's candidates are the vocabulary's range
        from its first letter to the next (the prefix index answers it)."""
        words = list(dict.fromkeys(w for w in words if w))
        lows = [w[0] for w in words]
        highs = [chr(ord(w[0]) + 1) if not 0xD7FF <= ord(w[0]) <= 0xDFFF else "\ue000" for w in words]
        cursor.execute(
            f"""SELECT x.w, t.word, t.ndoc
                FROM unnest(%s::text[], %s::text[], %s::text[]) AS x(w, lo, hi)
                JOIN {TERMS} AS t ON t.kind = 's' AND t.word ~>=~ x.lo AND t.word ~<~ x.hi
                WHERE t.ndoc > 0 AND t.word <> x.w AND levenshtein_less_equal(t.word, x.w, 4) <= 4""",
            [words, lows, highs],
        )
        near: dict[str, list] = {}
        for word, candidate, ndoc in cursor.fetchall():
            if (edits := DamerauLevenshtein.distance(candidate, word)) <= 2:
                near.setdefault(word, []).append((edits, -ndoc, candidate))
        return {word: min(found)[2] for word, found in near.items()}

    def highlight(
        self, q_text: str, texts: dict[int, str], *, length: int = 300, names=None
    ) -> dict[int, str]:
        plan = q.parse(q_text, names)
        self._ready()
        with connections[read_alias()].cursor() as cursor:
            translator = Translator(cursor, self.configs(cursor))
            translator.build(plan)
            terms = translator.terms
            if not terms:
                return {}
            # Only words that may stem to a searched lexeme are sent to be analysed (a stem
            # keeps its word's first letter): a page of snippets holds thousands of words.
            firsts = {initial(term) for term in terms}
            words = {w for text in texts.values() for w in words_of(text)}
            translator.analyse(sorted(w for w in words if initial(w) in firsts or not plain(initial(w))))
        lexemes = translator.lexemes

        def is_match(word: str) -> bool:
            for sequence in lexemes.get(word) or ():
                for lexeme in sequence:
                    if lexeme in terms:
                        return True
            return False

        return snippets(texts, is_match, length=length)

    def more_like_this(self, pk: int, *, text: str, limit: int = 5) -> list[int]:
        self._ready()
        alias = read_alias()
        with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
            cursor.execute(
                f"""WITH me AS (SELECT config FROM {TABLE} WHERE article_id = %s),
                         total AS (SELECT GREATEST(sum(ndoc), 1) AS n FROM {TERMS} WHERE kind = 'c'),
                         words AS (SELECT t.lexeme, array_length(t.positions, 1) AS tf
                                   FROM me, unnest(to_tsvector(me.config::regconfig, %s)) AS t),
                         weighed AS (
                             SELECT words.lexeme,
                                    words.tf * ln(1 + (total.n - COALESCE(term.ndoc, 0) + 0.5)
                                                  / (COALESCE(term.ndoc, 0) + 0.5)) AS weight
                             FROM words CROSS JOIN total
                             LEFT JOIN {TERMS} AS term ON term.kind = 'l' AND term.word = words.lexeme)
                    SELECT lexeme, weight FROM weighed ORDER BY weight DESC, lexeme LIMIT %s""",
                [pk, prepared(text), RELATED_TERMS],
            )
            keys = [(quoted(lexeme), weight) for lexeme, weight in cursor.fetchall()]
            if not keys:
                return []
            # The candidates: the reports holding the heaviest key terms (`held`: the sum of
            # the weights of those they hold), found in the GIN index alone: a word's match
            # needs no recheck, so no report's vector is read until the candidates are ranked.
            # The planner does not know that, and scans the table (reading every vector) for
            # a word most reports hold: `protest` on the Mass Mobilization corpus, 45 ms and
            # 27,700 pages against 19 ms and 2,700 from the index's bitmap.
            hits = " UNION ALL ".join(
                [f"SELECT article_id, %s::float8 AS weight FROM {TABLE} WHERE document @@ %s::tsquery"]
                * len(keys)
            )
            score = " + ".join([f"%s * ts_rank(body, %s::tsquery, {RELATED_NORMALIZATION})"] * len(keys))
            weighed = [v for key, weight in keys for v in (weight, key)]
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(
                f"""SELECT article_id FROM (
                        SELECT article_id, sum(weight) AS held FROM ({hits}) AS hit
                        WHERE article_id <> %s
                        GROUP BY article_id ORDER BY held DESC, article_id LIMIT %s) AS candidate
                    JOIN {TABLE} USING (article_id)
                    WHERE body @@ %s::tsquery
                    ORDER BY held * ({score}) DESC, article_id LIMIT %s""",
                [*weighed, pk, RELATED_CANDIDATES, " | ".join(k for k, _ in keys), *weighed, limit],
            )
            related = [found for (found,) in cursor.fetchall()]
            # within a caller's transaction, the setting would outlive this block
            cursor.execute("SET LOCAL enable_seqscan TO DEFAULT")
            return related

    def stamps(self) -> dict[int, str]:
        self._ready()
        with connection.cursor() as cursor:  # the primary's: what check_index compares
            cursor.execute(f"SELECT article_id, stamp FROM {TABLE}")
            return dict(cursor.fetchall())

    # ---------------------------------------------------------------- writing

    @contextlib.contextmanager
    def writer_lock(self):
        # Nothing to hold: every write is a transaction, and writers of the same articles
        # take turns inside it (see the module's docstring).
        yield

    @staticmethod
    def _write_batches(cursor, docs: list[dict], delete: list[int]):
        for start in range(0, max(len(docs), 1), BATCH):
            batch = docs[start : start + BATCH]
            gone = delete if start == 0 else []
            if not (batch or gone):
                continue
            columns = _columns(batch)
            cursor.execute(WRITE, [*columns, [*columns[0], *gone], gone, WEIGHTS, list(IMPACT)])

    def write(self, *, upsert: Iterable[dict], delete: Iterable[int] = (), bulk: bool = False) -> None:
        docs = {int(doc["pk"]): doc for doc in upsert}
        delete = sorted({int(pk) for pk in delete} - set(docs))
        if not (docs or delete):
            return
        buckets = sorted({pk % BUCKETS for pk in [*docs, *delete]})
        with transaction.atomic(), connection.cursor() as cursor:
            if not self.exists():
                # The caller keeps its queued work: `drain` builds the index first.
                raise IndexUnavailable("the search index has not been built yet")
            cursor.execute("SELECT pg_advisory_xact_lock_shared(%s, %s)", [LOCKS, REBUILD])
            cursor.execute(
                "SELECT count(pg_advisory_xact_lock(%s, b)) FROM unnest(%s::int[]) AS b", [LOCKS, buckets]
            )
            self._write_batches(cursor, [docs[pk] for pk in sorted(docs)], delete)
        if bulk:
            # An import's drain (thousands of reports at once): as after a rebuild.
            self._tidy()

    def rebuild(self, documents: Iterable[dict], *, progress: Callable[[int], None] | None = None) -> int:
        count = 0
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCKS, REBUILD])
            cursor.execute(f"DELETE FROM {TABLE}")
            cursor.execute(f"DELETE FROM {TERMS}")
            batch: dict[int, dict] = {}
            for doc in documents:
                batch[int(doc["pk"])] = doc
                count += 1
                if progress:
                    progress(count)
                if len(batch) >= BATCH:
                    self._write_batches(cursor, list(batch.values()), [])
                    batch = {}
            if batch:
                self._write_batches(cursor, list(batch.values()), [])
            cursor.execute(f"DELETE FROM {TERMS} WHERE ndoc <= 0")
            cursor.execute(f"DELETE FROM {STATE}")
            cursor.execute(
                f"INSERT INTO {STATE} (schema_version, built) VALUES (%s, now())", [SCHEMA_VERSION]
            )
        self._tidy()
        return count

    def _tidy(self) -> None:
        """After a rebuild or a bulk write (an import's drain): the old rows' space back (the
        vocabulary's counts are rewritten by every batch: 11 million dead rows for 66,000
        words after a rebuild of 100,000 reports) and the planner's statistics of the new
        ones, without waiting for autovacuum (which may be off, as on the development
        machine). Inside a transaction (tests) the statistics only. Like `dbstats.refresh`,
        it gives up with a warning, never fails the write."""
        tables = f"{TABLE}, {TERMS}, {STATE}"
        try:
            with connection.cursor() as cursor:
                vacuum = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
                cursor.execute(f"{vacuum} {tables}")
        except DatabaseError as exc:
            logger.warning("the index's tables were not vacuumed: %s", exc)


Backend = PostgresBackend
