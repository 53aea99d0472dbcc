"""A query plan (`articles.search.query`) as SQL conditions over the document table's tsvectors.

Each word is analysed by PostgreSQL with every text search configuration the archive's
documents use (an English and a Russian report stem differently), and matches any of the
lexemes it gives. A word searches the `document` column, which holds every field (and whose
GIN index answers it); phrases and named fields also check the field's own column, so a
phrase never runs from a title into a body and `city:` finds only cities. Prefixes are
expanded here, as wildcards and fuzzy terms are, against the lexemes of the archive
(`search_postgres_term`), within the plan's limits.
"""

import fnmatch
import itertools
from dataclasses import dataclass, field
from typing import NamedTuple

from rapidfuzz.distance import DamerauLevenshtein

from .. import query as q
from ..schema import QUERY_FIELDS
from .text import prepared, quoted

#: Fields a phrase, prefix, wildcard or fuzzy term without a field is searched in (as the
#: Whoosh engine: phrases in every field, expansions in the title and the body).
PHRASE_FIELDS = tuple(QUERY_FIELDS)
EXPANDED_FIELDS = ("title", "body")
DEFAULT_CONFIGS = ("archive_english",)
#: Vocabulary entries read at most per prefix or wildcard.
SCAN_LIMIT = 20_000
#: Gap combinations a phrase with slop is written out as, at most.
MAX_GAP_COMBINATIONS = 64


class Rank(NamedTuple):
    """A tsquery a match is scored by, with the lexemes it is written with (whose document
    counts give it its idf, `selection.idfs`)."""

    tsquery: str
    lexemes: tuple[str, ...]


@dataclass
class Cond:
    """An SQL boolean over a row of the document table, with its parameters; `ranks` are the
    `Rank`s a match is scored by (positive leaves only)."""

    sql: str
    params: list = field(default_factory=list)
    ranks: list = field(default_factory=list)


FALSE = Cond("FALSE")


def _join(op: str, conds: list[Cond]) -> Cond:
    if len(conds) == 1:
        return conds[0]
    return Cond(
        "(" + f" {op} ".join(c.sql for c in conds) + ")",
        [p for c in conds for p in c.params],
        [r for c in conds for r in c.ranks],
    )


def _matches(rank: Rank, fields) -> Cond:
    """The documents matching `rank`'s tsquery in any of `fields` (None: anywhere)."""
    if fields is None:
        return Cond("document @@ %s::tsquery", [rank.tsquery], [rank])
    inner = " OR ".join(f"{f} @@ %s::tsquery" for f in fields)
    return Cond(f"(document @@ %s::tsquery AND ({inner}))", [rank.tsquery] * (len(fields) + 1), [rank])


class Translator:
    def __init__(self, cursor, configs: list[str] | None = None):
        self.cursor = cursor
        self.configs = list(configs or DEFAULT_CONFIGS)
        self.expanded = 0
        self.notices: list[str] = []
        #: word -> its distinct lexeme sequences (one per configuration, at most), () for a
        #: stop word; None for a word nothing is indexed for (a single letter)
        self.lexemes: dict[str, tuple | None] = {}
        #: the lexemes the query searches, for highlighting
        self.terms: set[str] = set()

    # ------------------------------------------------------------------ words

    def analyse(self, words) -> None:
        """Analyse every word not analysed yet, in one round trip."""
        todo = [w for w in dict.fromkeys(words) if w not in self.lexemes]
        if not todo:
            return
        typed = [prepared(w) for w in todo]
        self.cursor.execute(
            """SELECT x.w, ARRAY(SELECT lexeme FROM unnest(to_tsvector(c::regconfig, x.p))
                                 ORDER BY positions[1])
               FROM unnest(%s::text[], %s::text[]) AS x(w, p), unnest(%s::text[]) AS c""",
            [todo, typed, self.configs],
        )
        found: dict[str, set] = {w: set() for w in todo}
        for word, lexemes in self.cursor.fetchall():
            if lexemes:
                found[word].add(tuple(lexemes))
        for word, p in zip(todo, typed, strict=True):
            self.lexemes[word] = tuple(sorted(found[word])) if p else None

    def word_query(self, word: str) -> Rank | None:
        """The tsquery of one word: any of its lexemes; None for a stop word."""
        self.analyse([word])
        alternatives = self.lexemes.get(word)
        if not alternatives:
            return None
        parts = []
        for sequence in alternatives:
            self.terms.update(sequence)
            parts.append(" <-> ".join(map(quoted, sequence)))
        lexemes = tuple(lexeme for sequence in alternatives for lexeme in sequence)
        return Rank(parts[0] if len(parts) == 1 else "(" + " | ".join(parts) + ")", lexemes)

    def phrase_query(self, words, slop: int = 0) -> Rank | None:
        """The words in order, each within 1 + `slop` positions of the one before; stop words
        between them count as positions (PostgreSQL keeps their places)."""
        self.analyse(words)
        kept, gaps, gap = [], [], 0
        for word in words:
            found = self.word_query(word)
            if found is None:
                if self.lexemes.get(word) is not None:  # a stop word holds a position
                    gap += 1
                continue
            kept.append(found)
            gaps.append(gap + 1)
            gap = 0
        if not kept:
            return None
        if len(kept) == 1:
            return kept[0]
        choices = [range(g, g + slop + 1) for g in gaps[1:]]
        combinations = list(itertools.islice(itertools.product(*choices), MAX_GAP_COMBINATIONS))
        written = []
        for distances in combinations:
            text = f"({kept[0].tsquery})"
            for distance, part in zip(distances, kept[1:], strict=True):
                text += f" <{distance}> ({part.tsquery})"
            written.append(f"({text})")
        tsquery = " | ".join(written) if len(written) > 1 else written[0]
        return Rank(tsquery, tuple(lexeme for part in kept for lexeme in part.lexemes))

    # ------------------------------------------------------------------ nodes

    @staticmethod
    def _fields(fieldname, default):
        return (fieldname,) if fieldname else default

    def term(self, node: q.Term) -> Cond | None:
        rank = self.word_query(node.text)
        if rank is None:
            return None
        return _matches(rank, (node.field,) if node.field else None)

    def phrase(self, words, fieldname=None, slop=0) -> Cond | None:
        rank = self.phrase_query(words, slop)
        if rank is None:
            return None
        if len(words) == 1 and not fieldname:
            return _matches(rank, None)
        return _matches(rank, self._fields(fieldname, PHRASE_FIELDS))

    def prefix(self, node: q.Prefix) -> Cond:
        text = node.text.lower()
        return self._vocabulary_words(f"{text}*", text, node.field, lambda word: word.startswith(text))

    def _budget(self, limit: int) -> int:
        return max(0, min(limit, q.MAX_TOTAL_EXPANSIONS - self.expanded))

    def _expanded(self, label: str, fieldname, candidates: list[str]) -> Cond:
        """The lexemes chosen for a wildcard or fuzzy term, searched in its fields."""
        self.expanded += len(candidates)
        if not candidates:
            return FALSE
        self.terms.update(candidates)
        tsquery = " | ".join(map(quoted, candidates))
        return _matches(Rank(f"({tsquery})", tuple(candidates)), self._fields(fieldname, EXPANDED_FIELDS))

    def _note_budget(self, label: str, found: int, kept: int):
        if kept < found and self.expanded + kept >= q.MAX_TOTAL_EXPANSIONS:
            self.notices.append(
                f"“{label}” matches many words; only the most common "
                f"{q.MAX_TOTAL_EXPANSIONS} of all expansions were searched."
            )

    def wildcard(self, node: q.Wildcard) -> Cond:
        pattern = node.pattern.lower()
        literal = pattern.split("*")[0].split("?")[0]
        return self._vocabulary_words(
            pattern, literal, node.field, lambda word: fnmatch.fnmatchcase(word, pattern)
        )

    def _vocabulary_words(self, label: str, literal: str, fieldname, accept) -> Cond:
        """The lexemes of the archive beginning with `literal` that `accept` keeps, the most
        common first, within the term's and the query's budgets (as the Whoosh engine expands
        prefixes and wildcards: a prefix is not left to PostgreSQL's `:*`, which would match
        every word it begins)."""
        budget = self._budget(q.MAX_EXPANSIONS)
        like = literal.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        self.cursor.execute(
            """SELECT word FROM search_postgres_term
               WHERE kind = 'l' AND ndoc > 0 AND word LIKE %s ORDER BY ndoc DESC, word LIMIT %s""",
            [like, SCAN_LIMIT],
        )
        words = [w for (w,) in self.cursor.fetchall() if accept(w)]
        self._note_budget(label, len(words), budget)
        return self._expanded(label, fieldname, words[:budget])

    def fuzzy(self, node: q.Fuzzy) -> Cond:
        self.analyse([node.text])
        alternatives = self.lexemes.get(node.text) or ((prepared(node.text) or node.text.lower(),),)
        stem = alternatives[0][0]
        budget = self._budget(q.MAX_FUZZY_EXPANSIONS)
        distance = node.distance
        # Levenshtein counts a transposition as two edits; Damerau-Levenshtein (as the Whoosh
        # engine measures) as one: the database keeps a wider net, Python measures exactly.
        self.cursor.execute(
            """SELECT word, ndoc FROM search_postgres_term
               WHERE kind = 'l' AND ndoc > 0 AND word LIKE %s
                 AND levenshtein_less_equal(word, %s, %s) <= %s""",
            [
                stem[:1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",
                stem,
                2 * distance,
                2 * distance,
            ],
        )
        near = []
        for word, ndoc in self.cursor.fetchall():
            edits = DamerauLevenshtein.distance(word, stem)
            if edits <= distance:
                near.append((edits, -ndoc, word))
        near.sort()
        label = f"{node.text}~{node.distance}"
        self._note_budget(label, len(near), budget)
        return self._expanded(label, node.field, [w for _, _, w in near[:budget]])

    def node(self, node) -> Cond | None:
        if isinstance(node, q.Term):
            return self.term(node)
        if isinstance(node, q.Phrase):
            return self.phrase(node.words, node.field, node.slop)
        if isinstance(node, q.Prefix):
            return self.prefix(node)
        if isinstance(node, q.Wildcard):
            return self.wildcard(node)
        if isinstance(node, q.Fuzzy):
            return self.fuzzy(node)
        if isinstance(node, q.Not):
            child = self.node(node.child)
            return None if child is None else Cond(f"NOT {child.sql}", child.params)
        children = [c for c in map(self.node, node.children) if c is not None]
        if not children:
            return None
        return _join("AND" if isinstance(node, q.And) else "OR", children)

    def unit(self, unit: q.Unit) -> Cond | None:
        alternatives = [self.phrase(a, slop=q.NAME_SLOP) for a in unit.alternatives]
        alternatives = [a for a in alternatives if a is not None]
        return _join("OR", alternatives) if alternatives else None

    def build(self, plan: q.Plan) -> Cond:
        """The plan as one condition; raises QueryError when nothing is left to search."""
        self.analyse(plan.words)
        if plan.kind == "syntax":
            built = self.node(plan.tree)
            if built is None:
                raise q.nothing_to_search(plan)
            return built
        units = {}
        for unit in plan.units:
            cond = self.unit(unit)
            if cond is not None:
                units.setdefault((cond.sql, tuple(cond.params)), cond)  # a word given twice counts once
        units = list(units.values())
        if not units:
            raise q.nothing_to_search(plan)
        need = q.minimum_should_match(len(units), plan.sentence)
        if need == len(units):
            return _join("AND", units)
        if need <= 1:
            return _join("OR", units)
        # Some of the units: the OR lets the GIN index find the candidates.
        anyone = _join("OR", units)
        count = " + ".join(f"({u.sql})::int" for u in units)
        return Cond(
            f"({anyone.sql} AND ({count}) >= {int(need)})",
            [*anyone.params, *(p for u in units for p in u.params)],
            anyone.ranks,
        )
