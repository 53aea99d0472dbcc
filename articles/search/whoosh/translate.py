"""A query plan (`articles.search.query`) in Whoosh's terms.

Words are analysed as the index analyses them (stemmed, stop words dropped). Prefixes,
wildcards and fuzzy terms are expanded here against the index's vocabulary, keeping the
terms most documents hold, within the plan's limits, so that no query can ask Whoosh to
score thousands of terms.
"""

import fnmatch
import heapq
import itertools

from whoosh import query as wq

from .. import query as q
from ..schema import NAME_FIELDS, PREFIX_BOOST, PREFIX_FIELD, PREFIX_LENGTH, QUERY_FIELDS, TEXT_FIELD
from . import vocabulary

#: Where a prefix, wildcard or fuzzy term without a field is expanded and searched.
EXPANDED_FIELDS = {"title": QUERY_FIELDS["title"], "body": QUERY_FIELDS["body"]}
#: Vocabulary entries read at most per prefix, wildcard or fuzzy term.
SCAN_LIMIT = 20_000


class Translator:
    def __init__(self, schema, reader):
        self.analyzer = schema["body"].analyzer
        self.reader = reader
        self.expanded = 0
        self.notices: list[str] = []

    # ------------------------------------------------------------------ words

    def terms_of(self, text: str) -> list[str]:
        """`text` analysed as the text fields analyse it (stemmed, stop words removed)."""
        return [t.text for t in self.analyzer(text, mode="query")]

    @staticmethod
    def fields(fieldname):
        return {fieldname: QUERY_FIELDS[fieldname]} if fieldname else QUERY_FIELDS

    @staticmethod
    def word(term: str, fieldname=None):
        """One analysed word. Named fields search that field; otherwise the word is scored
        on the combined title-and-body field, its prefix and the curated names."""
        if fieldname:
            return wq.Term(fieldname, term, boost=QUERY_FIELDS[fieldname])
        return wq.Or(
            [
                wq.Term(TEXT_FIELD, term),
                wq.Term(PREFIX_FIELD, term[:PREFIX_LENGTH], boost=PREFIX_BOOST),
                *(wq.Term(f, term, boost=QUERY_FIELDS[f]) for f in NAME_FIELDS),
            ]
        )

    def term(self, text: str, fieldname=None):
        terms = self.terms_of(text)
        if not terms:
            return None  # a stop word
        if len(terms) > 1:  # "U.S.-backed": its words in order
            return self.phrase(terms, fieldname, analysed=True)
        return self.word(terms[0], fieldname)

    def phrase(self, words, fieldname=None, *, slop=0, analysed=False):
        terms = list(words) if analysed else [t for w in words for t in self.terms_of(w)]
        if not terms:
            return None
        if len(terms) == 1:
            return self.word(terms[0], fieldname)
        # Whoosh's slop 1 is "adjacent"; the plan's slop counts the words allowed between.
        return wq.Or([wq.Phrase(f, terms, slop=1 + slop, boost=w) for f, w in self.fields(fieldname).items()])

    # ------------------------------------------------------------ expansions

    def _budget(self, limit: int) -> int:
        return max(0, min(limit, q.MAX_TOTAL_EXPANSIONS - self.expanded))

    def _expand(
        self, label: str, fieldname, candidates_for, *, limit=q.MAX_EXPANSIONS, closeness=lambda term: 0
    ):
        """The words of the vocabulary that `candidates_for(field)` yields, the closest then
        the most common first, within `limit` and the query's budget of distinct words;
        each searched in the fields that hold it (a word counts once against the budget,
        whatever the number of fields)."""
        budget = self._budget(limit)
        # Without a field, the words of the text: every name is also in the text it names,
        # and each field more is one matcher more per word to score.
        fields = self.fields(fieldname) if fieldname else EXPANDED_FIELDS
        frequency: dict[str, dict[str, int]] = {}
        for f in fields:
            for term in itertools.islice(candidates_for(f), SCAN_LIMIT):
                frequency.setdefault(term, {})[f] = self.reader.doc_frequency(f, term)
        best = heapq.nlargest(budget, frequency, key=lambda t: (closeness(t), sum(frequency[t].values())))
        self.expanded += len(best)
        if len(best) < len(frequency) and self.expanded >= q.MAX_TOTAL_EXPANSIONS:
            self.notices.append(
                f"“{label}” matches many words; only the most common "
                f"{q.MAX_TOTAL_EXPANSIONS} of all expansions were searched."
            )
        clauses = [
            wq.Term(f, term, boost=fields[f]) for term in best for f, df in frequency[term].items() if df
        ]
        return wq.Or(clauses) if clauses else wq.NullQuery

    def prefix(self, node: q.Prefix):
        text = node.text.lower()
        return self._expand(
            f"{text}*",
            node.field,
            lambda f: (t.decode() if isinstance(t, bytes) else t for t in self.reader.expand_prefix(f, text)),
        )

    def wildcard(self, node: q.Wildcard):
        pattern = node.pattern.lower()
        literal = pattern.split("*")[0].split("?")[0]

        def candidates(f):
            for t in self.reader.expand_prefix(f, literal):
                t = t.decode() if isinstance(t, bytes) else t
                if fnmatch.fnmatchcase(t, pattern):
                    yield t

        return self._expand(pattern, node.field, candidates)

    def fuzzy(self, node: q.Fuzzy):
        stem = (self.terms_of(node.text) or [node.text.lower()])[0]
        edits: dict[str, int] = {}

        def candidates(f):
            near = vocabulary.within(self.reader, f, stem, node.distance)
            for term, distance in near.items():
                edits[term] = min(distance, edits.get(term, distance))
            return iter(near)

        # The closest words first, the most common among equally close ones, as few as
        # Lucene's fuzzy query keeps by default: a typo means one word, not fifty.
        return self._expand(
            f"{node.text}~{node.distance}",
            node.field,
            candidates,
            limit=q.MAX_FUZZY_EXPANSIONS,
            closeness=lambda t: -edits[t],
        )

    # ------------------------------------------------------------------- trees

    def node(self, node):
        if isinstance(node, q.Term):
            return self.term(node.text, node.field)
        if isinstance(node, q.Phrase):
            return self.phrase(node.words, node.field, slop=node.slop)
        if isinstance(node, q.Prefix):
            return self.prefix(node)
        if isinstance(node, q.Wildcard):
            return self.wildcard(node)
        if isinstance(node, q.Fuzzy):
            return self.fuzzy(node)
        if isinstance(node, q.Not):
            child = self.node(node.child)
            return wq.Not(child) if child is not None else None
        children = [c for c in map(self.node, node.children) if c is not None]
        if not children:
            return None
        if len(children) == 1:
            return children[0]
        return wq.And(children) if isinstance(node, q.And) else wq.Or(children)

    def unit(self, unit: q.Unit):
        alternatives = [self.phrase(a, slop=q.NAME_SLOP) for a in unit.alternatives]
        alternatives = [a for a in alternatives if a is not None]
        if not alternatives:
            return None
        return alternatives[0] if len(alternatives) == 1 else wq.Or(alternatives)

    def units(self, plan: q.Plan) -> list:
        """The plan's units as Whoosh queries: stop words dropped, and a word given twice
        (or two forms of one stem) counted once, as BM25 reads a query's distinct terms."""
        return list(dict.fromkeys(u for u in map(self.unit, plan.units) if u is not None))

    def build(self, plan: q.Plan):
        """(the Whoosh query that ranks, and for plain words (unit queries, how many of them
        a document must match) when that is fewer than all; else None)."""
        if plan.kind == "syntax":
            built = self.node(plan.tree)
            if built is None:  # nothing but stop words and dropped parts
                raise q.nothing_to_search(plan)
            # NullQuery: a prefix, wildcard or fuzzy term that no word of the index
            # matches. The query is fine; it finds nothing.
            return built, None
        units = self.units(plan)
        if not units:
            raise q.nothing_to_search(plan)
        need = q.minimum_should_match(len(units), plan.sentence)
        if need == len(units):
            return (wq.And(units) if len(units) > 1 else units[0]), None
        if need <= 1:
            return wq.Or(units), None
        return wq.Or(units), (units, need)
