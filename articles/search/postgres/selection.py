"""A search over the PostgreSQL document table: matching, filtering, ordering and facet counts
are SQL over one table (`search_postgres_document`), so only published articles (the ones
the sync path wrote) are ever seen.

Every answer is one statement, and `prefetch` answers a whole results page's questions (the
count, every facet, the timeline) in one: the text condition is evaluated once, into a
materialised common table expression, and each facet counts its rows. Filters stay apart so
that a facet counts with every filter but its own; the text condition is the translated plan
(`translate.py`).
"""

import datetime as dt
import math
import time
from collections import Counter

from django.db import DatabaseError, connections, transaction

from archive.routers import read_alias

from .. import query as q
from ..base import QueryError, Selection
from ..criteria import Criteria
from .text import quoted
from .translate import Cond, Rank, Translator

TABLE = "search_postgres_document"
TERMS = "search_postgres_term"


#: The longest a text search may take in all (analysing and expanding its words, the
#: did-you-mean, the counts, the facets and the ranking) before it is given up, and the page
#: lists the reports by date instead and says why: well inside a web worker's timeout
#: (gunicorn's is 30 s), which would otherwise end the request with a server error. The
#: ranking alone has `query.TIME_BUDGET`, as on the Whoosh engine; did-you-mean suggestions
#: are looked for only within that budget's first seconds.
DEADLINE = 10.0


def _too_slow(seconds: float | None = None) -> QueryError:
    return QueryError(
        f"This query takes more than {q.TIME_BUDGET if seconds is None else seconds:g} s to answer: make it "
        "more specific (fewer wildcards or fuzzy terms)."
    )


def _cancelled(exc: DatabaseError) -> bool:
    """Whether `exc` is a statement cancelled by its `statement_timeout`."""
    return type(exc.__cause__).__name__ == "QueryCanceled"


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))  # at least 1 ms: a timeout of 0 means none


class _OutOfTime(Exception):
    pass


class _Timed:
    """A cursor, inside a transaction, whose every statement ends by `until` (a
    `time.monotonic()` time): each is given what is left as its `statement_timeout`, and
    none starts once nothing is (`_OutOfTime`).

    Not Django's `connection.execute_wrapper()`: it wraps every statement of the connection,
    the savepoints of `transaction.atomic` among them, so past the deadline it refused the
    `ROLLBACK TO SAVEPOINT` after a cancelled did-you-mean and left the transaction aborted
    (tests/test_postgres_engine.py::test_did_you_mean_is_given_up_past_its_time_not_the_search).
    This cursor times only the search's own statements."""

    def __init__(self, cursor, until: float):
        self.cursor, self.until = cursor, until

    def execute(self, sql, params=None):
        left = self.until - time.monotonic()
        if left <= 0:
            raise _OutOfTime
        self.cursor.execute(f"SET LOCAL statement_timeout = {_ms(left)}")
        return self.cursor.execute(sql, params)

    def __getattr__(self, name):
        return getattr(self.cursor, name)


#: ts_rank's weights for D (body), C (source), B (city, actor, country), A (title); tuned on
#: SciFact's train split (body 0.5: nDCG@10 0.688, 0.25: 0.612, 0.75: 0.705, 1.0: 0.692)
WEIGHTS = "{0.75, 0.75, 1.0, 1.0}"
#: The tiers of a one-word query (`PostgresSelection._tiers`): the floors of its ts_rank (with
#: `WEIGHTS`, `NORMALIZATION`) that each write records in a document's `impact`, for each of
#: its lexemes, as "lexeme|tier" (the database's `search_postgres_impact`, migration 0004).
#: At 100,000 reports, "police" is held by 97,964 reports, 11% of them score 0.77 or more,
#: 2.4% 0.85 or more, 0.05% 0.9 or more; "protest" 47%, 33% and 5%. Changing them, or the
#: weights, takes a rebuild of the index (`rebuild_index`) for the stored tiers to follow.
IMPACT = (0.9, 0.85, 0.77)
#: ts_rank normalisation: none (tests: the more often a report names a word, the higher)
NORMALIZATION = 0
#: How many of a query's best matches by one `ts_rank` over all its words are ranked again
#: with each word weighted by its idf (`PostgresSelection._ranked`). ts_rank weighs every word
#: of a query alike, but weighing each word apart reads a match's document vector once per
#: word: at 100,000 reports a 20-word query took 1.7-2.1 s instead of 0.7-0.9 s. Reranking
#: the first 1,000 costs nothing measurable and keeps SciFact's nDCG@10 (0.705 against
#: 0.705 for every match; 200: 0.700).
RERANK = 1000


#: A query of several words whose rarest words are held by few reports ranks those reports
#: first, the others after them (`PostgresSelection._tiers`): the rarest words are taken,
#: rarest first, while the reports holding them number at most `CANDIDATES` (by the
#: vocabulary's counts). Ranking reads each ranked report's document vector back from TOAST
#: (4-5 microseconds a report): a 20-word query matches nearly every report, and ranking
#: them all took 0.8-2 s at 100,000 reports; these few are ranked in a few milliseconds. A
#: report holding none of the rare words scores at most the idf of the words it does hold,
#: all of them common ones, which is seldom enough to pass one holding a rare word.
CANDIDATES = 5000


def rarest(cursor, ranks: list[Rank]) -> tuple[int, list[tuple[int, str | None]]]:
    """The documents of the index, and each of `ranks`' rarest lexeme (None for a rank
    without any) with the documents holding it (an upper bound of the rank's own: exact
    for a word, more than a phrase's); one statement for all."""
    lexemes = [r.lexemes for r in ranks]
    cursor.execute(
        """SELECT (SELECT GREATEST(sum(ndoc), 1) FROM search_postgres_term WHERE kind = 'c'),
                  (SELECT json_object_agg(word, ndoc) FROM search_postgres_term
                   WHERE kind = 'l' AND word = ANY(%s))""",
        [sorted({w for words in lexemes for w in words})],
    )
    total, ndoc = cursor.fetchone()
    ndoc = ndoc or {}
    return total, [min(((ndoc.get(w, 0), w) for w in words), default=(0, None)) for words in lexemes]


def idf(total: int, n: int) -> float:
    """BM25's inverse document frequency: ln(1 + (N - n + 0.5) / (n + 0.5))."""
    return math.log(1 + (total - n + 0.5) / (n + 0.5))


def idfs(cursor, ranks: list[Rank]) -> list[float]:
    """Each of `ranks`' idf, n the documents holding its rarest lexeme (`rarest`)."""
    total, rare = rarest(cursor, ranks)
    return [idf(total, n) for n, _ in rare]


def held_by_few(rare: list[tuple[int, str | None]]) -> str | None:
    """The tsquery of the reports a query's ranking takes first (`CANDIDATES`): any of the
    rarest lexemes of its rarest ranks, as long as at most `CANDIDATES` reports hold them
    together; None when even the rarest is held by more, or when every rank's is taken (the
    reports holding them all are no fewer than the matches)."""
    taken, held = [], 0
    for n, lexeme in sorted(r for r in rare if r[1] is not None):
        if held + n > CANDIDATES:
            break
        taken.append(lexeme)
        held += n
    if not taken or len(taken) == len(rare):
        return None
    return " | ".join(quoted(lexeme) for lexeme in dict.fromkeys(taken))


class PostgresSelection(Selection):
    def __init__(self, backend, criteria: Criteria, names=None):
        self.backend, self.criteria = backend, criteria
        #: the primary, or the replica this request reads (archive/routers.py)
        self.db = read_alias()
        #: when the search began: a text search has `DEADLINE` seconds from here
        self.started = time.monotonic()
        self.corrected, self.notices = None, []
        self.text: Cond | None = None
        #: the idf of each of the text's distinct ranking tsqueries, when it has several
        self.idfs: list[float] | None = None
        #: the tsquery of the reports ranked before the others (`held_by_few`), or None
        self.rare: str | None = None
        self.translator: Translator | None = None
        if criteria.q:
            self._match(names)
        self.filters = self._filters()
        self._count = None
        #: facet -> counts under every filter but its own, and day -> count, from `prefetch`
        self._facets: dict[str, Counter] = {}
        self._days: Counter | None = None

    # ------------------------------------------------------------------ text

    def _match(self, names):
        plan = q.parse(self.criteria.q, names)
        try:
            with transaction.atomic(using=self.db), connections[self.db].cursor() as raw:
                cursor = _Timed(raw, self.started + DEADLINE)
                configs = self.backend.configs(cursor)
                translator = Translator(cursor, configs)
                built = translator.build(plan)
                if plan.fallback is not None and not self._any(cursor, built):
                    # A pasted sentence that merely contained quotes or a colon: its words, once.
                    plan = plan.fallback
                    translator = Translator(cursor, configs)
                    built = translator.build(plan)
                self.notices = [*plan.notices, *translator.notices]
                self._suggest(cursor, translator, plan, names)
                ranks = list(dict.fromkeys(built.ranks))
                if len(ranks) > 1:
                    total, rare = rarest(cursor, ranks)
                    self.idfs = [idf(total, n) for n, _ in rare]
                    self.rare = held_by_few(rare)
                # within a caller's transaction, the setting would outlive this block
                raw.execute("SET LOCAL statement_timeout TO DEFAULT")
        except _OutOfTime:
            raise _too_slow(DEADLINE) from None
        except DatabaseError as exc:
            if _cancelled(exc):
                raise _too_slow(DEADLINE) from None
            raise
        self.text, self.translator = built, translator

    def _suggest(self, cursor: _Timed, translator, plan, names):
        """Did-you-mean, looked for within the first `query.TIME_BUDGET` seconds of the search
        (a suggestion helps; it is not worth a slow answer): past them, none."""
        deadline, cursor.until = cursor.until, min(cursor.until, self.started + q.TIME_BUDGET)
        try:
            with transaction.atomic(using=self.db):
                self.corrected = self.backend.suggest(cursor, translator, self.criteria.q, plan.words, names)
        except _OutOfTime:
            pass
        except DatabaseError as exc:
            if not _cancelled(exc):
                raise
        finally:
            cursor.until = deadline

    def _left(self) -> float:
        """Seconds left of a text search's `DEADLINE`."""
        return DEADLINE - (time.monotonic() - self.started)

    @staticmethod
    def _any(cursor, cond: Cond) -> bool:
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {TABLE} WHERE {cond.sql})", cond.params)
        return cursor.fetchone()[0]

    # --------------------------------------------------------------- filters

    def _filters(self) -> dict[str, Cond]:
        criteria = self.criteria
        filters = {}
        for kind, ids in criteria.entities:
            filters[kind] = Cond("entities && %s::text[]", [[f"{kind}:{int(i)}" for i in ids]])
        if criteria.languages:
            filters["language"] = Cond("language = ANY(%s)", [list(criteria.languages)])
        if criteria.years:
            # Ranges of dates, which the index on `published` answers.
            years = sorted({int(y) for y in criteria.years})
            filters["year"] = Cond(
                "(" + " OR ".join(["(published BETWEEN %s AND %s)"] * len(years)) + ")",
                [d for y in years for d in (dt.date(y, 1, 1), dt.date(y, 12, 31))],
            )
        if criteria.date_from or criteria.date_to:
            filters["dates"] = Cond(
                "(published IS NOT NULL AND published >= COALESCE(%s, '-infinity'::date) "
                "AND published <= COALESCE(%s, 'infinity'::date))",
                [criteria.date_from, criteria.date_to],
            )
        if criteria.exclude:
            filters["exclude"] = Cond("NOT (article_id = ANY(%s))", [[int(pk) for pk in criteria.exclude]])
        return filters

    def _where(self, leave_out: str | None = None) -> tuple[str, list]:
        conds = [c for name, c in self.filters.items() if name != leave_out]
        if self.text is not None:
            conds.insert(0, self.text)
        if not conds:
            return "TRUE", []
        return " AND ".join(c.sql for c in conds), [p for c in conds for p in c.params]

    def _rows(
        self, sql: str, params: list, *, budget: bool = False, deadline: bool = True, ordered: bool = False
    ) -> list:
        """The rows of one statement. With `budget`, a statement running past the query's time
        budget is cancelled, and one that ended past it is refused all the same (as the
        Whoosh engine's collectors refuse to go on once the budget is spent). Every
        statement of a text search but an export's (`deadline=False`) ends by its
        `DEADLINE`, or is cancelled and refused.

        A text search's statements that count rather than order (`ordered=False`) find the
        matches through the GIN index, never by reading every row: for a word most reports
        hold the planner reckons a sequential scan cheaper, but testing `@@` on a row reads
        its whole document vector back from TOAST (1.2 GB at 100,000 reports), where the
        index's bitmap names the same rows exactly (`protest` at 100,000: the page's counts
        in 312 ms instead of 1,017)."""
        limits = []  # (seconds, what the refusal says)
        if budget:
            limits.append((q.TIME_BUDGET, q.TIME_BUDGET))
        if deadline and self.text is not None:
            left = self._left()
            if left <= 0:
                raise _too_slow(DEADLINE)
            limits.append((left, DEADLINE))
        limit, said = min(limits) if limits else (None, None)
        started = time.monotonic()
        try:
            with transaction.atomic(using=self.db), connections[self.db].cursor() as cursor:
                by_index = self.text is not None and not ordered
                if limit is not None:
                    cursor.execute(f"SET LOCAL statement_timeout = {_ms(limit)}")
                if by_index:
                    cursor.execute("SET LOCAL enable_seqscan = off")
                cursor.execute(sql, params)
                rows = cursor.fetchall()
                # within a caller's transaction, the settings would outlive this block
                if limit is not None:
                    cursor.execute("SET LOCAL statement_timeout TO DEFAULT")
                if by_index:
                    cursor.execute("SET LOCAL enable_seqscan TO DEFAULT")
        except DatabaseError as exc:
            if limit is not None and _cancelled(exc):
                raise _too_slow(said) from None
            raise
        if budget and time.monotonic() - started > q.TIME_BUDGET:
            raise _too_slow()
        return rows

    # ------------------------------------------------------------- answers

    def prefetch(self, facets=(), *, dates: bool = False) -> None:
        facets = [f for f in dict.fromkeys(facets) if f not in self._facets]
        want_days = dates and self._days is None
        if not (facets or want_days or self._count is None):
            return
        ctes, params = [], []
        columns = "article_id, published, language, entities"
        # The matches once (the GIN recheck of each matching document is the costly part),
        # then the selection (every filter) once: the count, the timeline and each facet whose
        # own filter is not set count its rows; a facet with a filter of its own counts the
        # matches under the other filters.
        matches = TABLE
        if self.text is not None:
            ctes.append(f"hits AS MATERIALIZED (SELECT {columns} FROM {TABLE} WHERE {self.text.sql})")
            params += self.text.params
            matches = "hits"
        selected = matches
        if self.filters:
            where, more = self._filtered()
            ctes.append(f"selected AS MATERIALIZED (SELECT {columns} FROM {matches} WHERE {where})")
            params += more
            selected = "selected"

        def everything(facet: str | None) -> bool:
            """Whether `facet` (None: the selection) counts the whole archive: then the
            vocabulary's counts of languages, entities and days, which every write keeps
            with its documents, answer without a scan (the home page, and a facet whose
            filter is the only one)."""
            return self.text is None and not [name for name in self.filters if name != facet]

        def but_text(facet: str | None) -> bool:
            """Whether `facet` counts the text's matches under no other filter: when they are
            most of the archive (a common word, a long query), the whole archive's kept
            counts less the counts of the few reports that do not match answer, instead of
            counting every match's entities (at 100,000 reports, 250 ms for a query matching
            them all)."""
            return self.text is not None and not [name for name in self.filters if name != facet]

        if [f for f in [None, *facets] if but_text(f)]:
            ctes.append(
                f"sizes AS MATERIALIZED (SELECT (SELECT count(*) FROM hits) AS hits, "
                f"(SELECT COALESCE(sum(ndoc), 0) FROM {TERMS} WHERE kind = 'c') AS whole)"
            )
            ctes.append(
                f"rest AS MATERIALIZED (SELECT {columns} FROM {TABLE} AS d "
                "WHERE NOT EXISTS (SELECT 1 FROM hits WHERE hits.article_id = d.article_id))"
            )

        def counted(key: str, facet: str | None, extra: str, cond: str, like: list, source=None) -> str:
            if source is not None:
                where = cond
            elif facet is None or facet not in self.filters:
                source, where = selected, cond
            else:
                source, where = matches, f"{self._filtered(facet, params)} AND {cond}"
            params.extend(like)
            return f"SELECT {key} AS k, count(*) AS n FROM {source}{extra} WHERE {where} GROUP BY 1"

        def kept(key: str, kind: str, cond: str, like: list) -> str:
            params.extend(like)
            return (
                f"SELECT {key} AS k, sum(ndoc) AS n FROM {TERMS} "
                f"WHERE kind = '{kind}' AND ndoc > 0 AND {cond} GROUP BY 1"
            )

        def as_json(rows: str) -> str:
            return f"(SELECT json_object_agg(k, n) FROM ({rows}) AS f)"

        def tally(facet, keep, kind, key, extra="", cond="TRUE", keep_cond="TRUE", like=None) -> str:
            """`facet`'s counts (None: the selection's) as a JSON object: from the
            vocabulary's kept counts (`keep`, of `kind`, where `keep_cond`) when they count
            the same reports; else counted from the selection's rows (`key`, joined to
            `extra`, where `cond`); `like`, a parameter of both conditions."""
            like = [] if like is None else [like]
            if everything(facet):
                return as_json(kept(keep, kind, keep_cond, like))
            if not but_text(facet):
                return as_json(counted(key, facet, extra, cond, like))
            whole = kept(keep, kind, keep_cond, like)
            rest = counted(key, facet, extra, cond, like, source="rest")
            fewer = (
                f"SELECT k, sum(n) AS n FROM ({whole} UNION ALL SELECT k, -n FROM ({rest}) AS r) AS u "
                "GROUP BY k HAVING sum(n) > 0"
            )
            direct = counted(key, facet, extra, cond, like)
            return (
                f"CASE WHEN (SELECT hits * 2 > whole FROM sizes) THEN {as_json(fewer)} "
                f"ELSE {as_json(direct)} END"
            )

        if everything(None):
            sql = [f"(SELECT COALESCE(sum(ndoc), 0) FROM {TERMS} WHERE kind = 'c')"]
        elif but_text(None):
            sql = ["(SELECT hits FROM sizes)"]
        else:
            sql = [f"(SELECT count(*) FROM {selected})"]
        # Kinds of entity without a filter of their own: one pass over the selection's
        # entities counts them all.
        kinds = [f for f in facets if f not in ("year", "language") and f not in self.filters]
        if kinds:
            sql.append(tally(None, "word", "e", "e", ", unnest(entities) AS e"))
        for facet in facets:
            if facet == "year":
                sql.append(
                    tally(
                        facet,
                        "split_part(word, '-', 1)::int",
                        "d",
                        "date_part('year', published)::int",
                        cond="published IS NOT NULL",
                    )
                )
            elif facet == "language":
                sql.append(tally(facet, "word", "g", "language"))
            elif facet not in kinds:
                sql.append(
                    tally(
                        facet,
                        "split_part(word, ':', 2)",
                        "e",
                        "split_part(e, ':', 2)",
                        ", unnest(entities) AS e",
                        cond="e LIKE %s",
                        keep_cond="word LIKE %s",
                        like=f"{facet}:%",
                    )
                )
        if want_days:
            sql.append(
                tally(None, "word", "d", "to_char(published, 'YYYY-MM-DD')", cond="published IS NOT NULL")
            )
        head = f"WITH {', '.join(ctes)} " if ctes else ""
        row = self._rows(f"{head}SELECT {', '.join(sql)}", params)[0]
        self._count, rest = row[0], list(row[1:])
        if kinds:
            self._facets.update({kind: Counter() for kind in kinds})
            for entity, n in (rest.pop(0) or {}).items():
                kind, _, pk = entity.partition(":")
                if kind in kinds:
                    self._facets[kind][int(pk)] = n
        for facet in facets:
            if facet not in kinds:
                keyed = str if facet == "language" else int
                self._facets[facet] = Counter({keyed(k): n for k, n in (rest.pop(0) or {}).items()})
        if want_days:
            self._days = Counter({dt.date.fromisoformat(k): n for k, n in (rest.pop(0) or {}).items()})

    def _filtered(self, leave_out: str | None = None, params: list | None = None):
        """The filters but `leave_out`, ANDed: (sql, params), or with `params` given, the sql
        alone, its parameters appended to `params`."""
        conds = [c for name, c in self.filters.items() if name != leave_out]
        sql = " AND ".join(c.sql for c in conds) or "TRUE"
        values = [v for c in conds for v in c.params]
        if params is None:
            return sql, values
        params.extend(values)
        return sql

    def count(self) -> int:
        if self._count is None:
            where, params = self._where()
            self._count = self._rows(f"SELECT count(*) FROM {TABLE} WHERE {where}", params)[0][0]
        return self._count

    def _first(self) -> tuple[str, list[str]]:
        """The relevance order's first score (one ts_rank over every ranked part of the
        text, its parameters first) and the distinct ranked tsqueries."""
        ranks = [r.tsquery for r in dict.fromkeys(self.text.ranks)]
        return f"ts_rank(%s, document, ({' || '.join(['%s::tsquery'] * len(ranks))}), {NORMALIZATION})", ranks

    def _ordered(self, offset: int | None = None, limit: int | None = None) -> tuple[str, list]:
        """The statement listing the selection's pks in order (from `offset`, `limit` of them,
        when given) and its parameters."""
        where, params = self._where()
        if self._by_relevance():
            return self._relevance(where, params, offset, limit)
        page = [] if offset is None else [int(offset), int(limit)]
        window = "" if offset is None else " OFFSET %s LIMIT %s"
        if self.criteria.sort == "oldest":
            order = "published ASC NULLS LAST, article_id ASC"
        else:
            order = "published DESC NULLS LAST, article_id DESC"
        return f"SELECT article_id FROM {TABLE} WHERE {where} ORDER BY {order}{window}", [*params, *page]

    def _by_relevance(self) -> bool:
        return self.criteria.sort == "relevance" and self.text is not None and bool(self.text.ranks)

    def _relevance(self, where, params, offset, limit, *, held: bool = False) -> tuple[str, list]:
        """The rows `where` selects in the relevance order: by `_first` for a query of one
        ranked part, `_ranked` for several. With `held`, each row also says how many rows
        `where` selects."""
        if self.idfs:
            return self._ranked(where, params, offset, limit, held=held)
        first, ranks = self._first()
        total = ", count(*) OVER () AS held" if held else ""
        page = [] if offset is None else [int(offset), int(limit)]
        window = "" if offset is None else " OFFSET %s LIMIT %s"
        return (
            f"SELECT article_id{total} FROM {TABLE} WHERE {where} ORDER BY {first} DESC, article_id{window}",
            [*params, WEIGHTS, *ranks, *page],
        )

    def _ranked(self, where, params, offset, limit, *, held: bool = False) -> tuple[str, list]:
        """A query of several words: the matches ordered by `first` (one ts_rank over all
        the words), the first `RERANK` of them ranked again by the sum of each word's ts_rank
        times its idf (as BM25 weighs words: a rare word counts more than one most reports
        hold), the rest after them in the first order. With `held`, each row also says how
        many rows `where` selects.

        The reranked rows' document vectors are read once each (`|| ''::tsvector`), not
        once for each word's ts_rank."""
        first, ranks = self._first()
        score = " + ".join([f"%s * ts_rank(%s, document, %s::tsquery, {NORMALIZATION})"] * len(ranks))
        scored = [v for idf, rank in zip(self.idfs, ranks, strict=True) for v in (idf, WEIGHTS, rank)]
        total = ", count(*) OVER () AS held" if held else ""
        shown = ", held" if held else ""
        if offset is not None and offset + limit <= RERANK:
            # A page among the first RERANK: only they are read twice.
            return (
                f"SELECT article_id{shown} FROM (SELECT article_id{shown}, "
                f"document || ''::tsvector AS document FROM (SELECT article_id, document{total} FROM {TABLE} "
                f"WHERE {where} "
                f"ORDER BY {first} DESC, article_id LIMIT %s) AS top OFFSET 0) AS read "
                f"ORDER BY {score} DESC, article_id OFFSET %s LIMIT %s",
                [*params, WEIGHTS, *ranks, RERANK, *scored, int(offset), int(limit)],
            )
        page = [] if offset is None else [int(offset), int(limit)]
        window = "" if offset is None else " OFFSET %s LIMIT %s"
        return (
            f"SELECT article_id{shown} FROM (SELECT article_id, document{total}, "
            f"row_number() OVER (ORDER BY {first} DESC, article_id) AS n FROM {TABLE} WHERE {where}) AS m "
            # (ties within the first RERANK by article_id, as on a page among them)
            f"ORDER BY n > %s, CASE WHEN n <= %s THEN {score} END DESC, "
            f"CASE WHEN n <= %s THEN article_id END, n{window}",
            [WEIGHTS, *ranks, *params, RERANK, RERANK, *scored, RERANK, *page],
        )

    def _tiers(self, *, whole: bool = False) -> list[tuple[str, list]] | None:
        """The relevance order of a search as tiers, each ranked in `_relevance`'s order and
        listed after the tiers before it (conditions and parameters, the last the matches of
        no tier before); None for a search ranked in one piece. Only a page past a tier reads
        the vectors of the next: each but the last is found through a GIN index.

        - A query of one word (one lexeme): its matches by `IMPACT` tier (the `impact`
          column), highest first. Each tier is the matches whose ts_rank for the word reaches
          its floor but not the floor before, so the tiers' order is the ranking's own: the
          list is the one ranking every match gives, and a common word's first page ranks
          the few reports of its first tiers. The `whole` list (an export, a feed) is ranked
          in one piece, in the same order.
        - A query of several words whose rarest words few reports hold (`CANDIDATES`,
          `self.rare`): the reports holding them, then the other matches."""
        if not self._by_relevance():
            return None
        where, params = self._where()
        ranks = list(dict.fromkeys(self.text.ranks))
        one_word = (
            len(ranks) == 1 and len(ranks[0].lexemes) == 1 and ranks[0].tsquery == quoted(ranks[0].lexemes[0])
        )
        if one_word and not whole:
            tiers = [quoted(f"{ranks[0].lexemes[0]}|{n}") for n in range(1, len(IMPACT) + 1)]
            return [
                *((f"impact @@ %s::tsquery AND {where}", [tier, *params]) for tier in tiers),
                (f"NOT (impact @@ %s::tsquery) AND {where}", [" | ".join(tiers), *params]),
            ]
        if self.idfs and self.rare:
            return [
                (f"document @@ %s::tsquery AND {where}", [self.rare, *params]),
                (f"NOT (document @@ %s::tsquery) AND {where}", [self.rare, *params]),
            ]
        return None

    def pks(self, offset: int, limit: int) -> list[int]:
        tiers = self._tiers()
        if tiers is not None:
            return self._tiered_pks(tiers, int(offset), int(limit))
        sql, params = self._ordered(offset, limit)
        # Ranking a text query has a time budget; listing by date has none (it is what a
        # search that ran out of time falls back on).
        ranked = self.criteria.sort == "relevance" and self.text is not None
        rows = self._rows(sql, params, budget=ranked, ordered=True)
        return [pk for (pk,) in rows]

    def _tiered_pks(self, tiers, offset: int, limit: int) -> list[int]:
        found, before = [], 0  # before: the rows of the tiers passed
        for n, (where, params) in enumerate(tiers):
            start = max(0, offset - before)  # the page's first row within this tier
            if n == len(tiers) - 1:
                sql, params = self._relevance(where, params, start, limit - len(found))
                return found + [pk for (pk,) in self._rows(sql, params, budget=True, ordered=True)]
            # A tier but the last is found through its GIN index, never by a scan.
            sql, sql_params = self._relevance(where, params, start, limit - len(found), held=True)
            rows = self._rows(sql, sql_params, budget=True)
            if rows:
                held = rows[0][1]
            elif start == 0:
                held = 0
            else:
                held = self._rows(f"SELECT count(*) FROM {TABLE} WHERE {where}", params)[0][0]
            found += [pk for pk, _ in rows]
            before += held
            if len(found) == limit or offset + limit <= before:
                return found
        return found

    def iter_pks(self, chunk: int = 500):
        tiers = self._tiers(whole=True)
        statements = (
            [self._relevance(where, params, None, None) for where, params in tiers]
            if tiers is not None
            else [self._ordered()]
        )
        # An export's or a feed's every result: no deadline (it has the query's own bounds).
        for sql, params in statements:
            for (pk,) in self._rows(sql, params, deadline=False, ordered=True):
                yield pk

    def counts(self, facet: str, *, own_filter: bool = False) -> Counter:
        if facet in self._facets and not (own_filter and facet in self.filters):
            # (without a filter of its own, a facet counts the same with own_filter)
            return Counter(self._facets[facet])  # a copy: callers add the selected values
        if facet == "language" and self.text is None and not self.filters:
            # The whole archive's languages (every search page asks): the vocabulary counts them.
            rows = self._rows("SELECT word, ndoc FROM search_postgres_term WHERE kind = 'g' AND ndoc > 0", [])
            return Counter(dict(rows))
        where, params = self._where(None if own_filter else facet)
        if facet == "year":
            sql = (
                f"SELECT date_part('year', published)::int, count(*) FROM {TABLE} "
                f"WHERE {where} AND published IS NOT NULL GROUP BY 1"
            )
        elif facet == "language":
            sql = f"SELECT language, count(*) FROM {TABLE} WHERE {where} GROUP BY 1"
        else:
            sql = (
                f"SELECT split_part(e, ':', 2)::bigint, count(*) FROM {TABLE}, unnest(entities) AS e "
                f"WHERE {where} AND e LIKE %s GROUP BY 1"
            )
            params = [*params, f"{facet}:%"]
        return Counter(dict(self._rows(sql, params)))

    def co_counts(self, facet: str, values, other: str) -> dict[int, Counter]:
        # One statement for them all (a page of 100 cities asked one by one took 100).
        values = [int(v) for v in values]
        keys = [f"{facet}:{v}" for v in values]
        where, params = self._where()
        rows = self._rows(
            f"SELECT split_part(c, ':', 2)::bigint, split_part(e, ':', 2)::bigint, count(*) "
            f"FROM {TABLE}, unnest(entities) AS c, unnest(entities) AS e "
            f"WHERE {where} AND entities && %s::text[] AND c = ANY(%s) AND e LIKE %s GROUP BY 1, 2",
            [*params, keys, keys, f"{other}:%"],
        )
        tallies = {v: Counter() for v in values}
        for value, pk, n in rows:
            tallies[value][pk] = n
        return tallies

    def dates(self, unit: str) -> Counter:
        if unit not in ("year", "month", "day"):
            raise ValueError(unit)
        if self._days is not None:
            if unit == "day":
                return Counter(self._days)
            rolled = Counter()
            for day, n in self._days.items():
                rolled[day.year, day.month if unit == "month" else 1] += n
            return Counter({dt.date(year, month, 1): n for (year, month), n in rolled.items()})
        where, params = self._where()
        rows = self._rows(
            f"SELECT date_trunc('{unit}', published)::date, count(*) FROM {TABLE} "
            f"WHERE {where} AND published IS NOT NULL GROUP BY 1",
            params,
        )
        return Counter(dict(rows))

    def date_span(self) -> tuple[dt.date | None, dt.date | None]:
        if self._days is not None:
            return (min(self._days), max(self._days)) if self._days else (None, None)
        where, params = self._where()
        first, last = self._rows(f"SELECT min(published), max(published) FROM {TABLE} WHERE {where}", params)[
            0
        ]
        return first, last
