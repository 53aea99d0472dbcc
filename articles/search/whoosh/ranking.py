"""How Whoosh scores the archive's documents: BM25F with Lucene's idf, and the same scores
computed over whole posting lists in numpy for queries made only of words and phrases.

Whoosh scores a document at a time in Python: a pasted 20-word claim, each word searched in
the text, its prefix and the names, took 130-300 ms at 5,000 documents. Such a query's score
is a plain sum over its words, so `word_scores` adds up each word's BM25 over its posting list
as arrays (a few milliseconds) and ranks the allowed documents by it; a phrase's score is its
words' in the documents holding it, matched over arrays of positions (columns.py). Queries
with NOT or expansions keep Whoosh's own collector.
"""

import time
from math import log

import numpy as np
from whoosh import query as wq
from whoosh import scoring
from whoosh.searching import TimeLimit

from ..schema import BM25_B, BM25_K1, QUERY_FIELDS


class LuceneBM25F(scoring.BM25F):
    """Whoosh's BM25F with the idf of Lucene and Anserini, log(1 + (N - df + 0.5) / (df +
    0.5)), instead of Whoosh's log(N / (df + 1)) + 1. Whoosh's idf keeps a floor of 1 for a
    word in every document, so common words of a long query (patients, study, effect) add
    almost as much as rare ones; Lucene's falls towards 0 for them."""

    def idf(self, searcher, fieldname, text):
        parent = searcher.get_parent()
        df = parent.doc_frequency(fieldname, text)
        n = parent.doc_count_all()
        return log(1 + (n - df + 0.5) / (df + 0.5))


def weighting():
    return LuceneBM25F(B=BM25_B, K1=BM25_K1)


def word_leaves(node, boost: float = 1.0, *, root: bool = True) -> list[tuple] | None:
    """The leaves of a query made only of words and phrases joined by AND and OR, whose
    Whoosh score is the sum of its matching leaves' scores: (field, term, boost) for a
    word, (field, words, boost, slop) for a phrase (Whoosh scores a phrase as the sum of
    its words' scores in the documents where they form it); None for any other query.

    A NOT that is the query, or a part of an AND that every match matches (the query, or
    an AND of such ANDs), excludes documents (the selection's mask drops them) and adds
    nothing to the order: Whoosh matches what it excludes in a boolean context, so it adds
    the same constant to every document it keeps. A NOT under an OR does not (only the
    documents matching its side get the constant): None. `root`: every match matches
    `node`."""
    if isinstance(node, wq.Not):
        return [] if root else None
    if isinstance(node, wq.Term):
        return [(node.fieldname, node.text, boost * node.boost)]
    if type(node) is wq.Phrase and node.fieldname in QUERY_FIELDS:  # fields with positions
        return [(node.fieldname, tuple(node.words), boost * node.boost, node.slop)]
    if (
        isinstance(node, wq.And | wq.Or)
        and type(node) in (wq.And, wq.Or)
        and not getattr(node, "scale", None)
    ):
        leaves = []
        for child in node.subqueries:
            if isinstance(child, wq.Not) and type(node) is wq.And and root:
                continue
            found = word_leaves(child, boost * node.boost, root=root and type(node) is wq.And)
            if found is None:
                return None
            leaves += found
        return leaves
    return None


def word_scores(searcher, columns, leaves, *, deadline: float | None = None) -> np.ndarray:
    """Each document's BM25F score for `leaves` (from `word_leaves`), as Whoosh's scorer
    computes it: idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / average length)),
    a phrase's words counted in the documents holding the phrase only (columns.phrase).
    Raises Whoosh's TimeLimit once `deadline` (time.monotonic()) has passed, as the
    collectors do."""
    weighting = searcher.weighting
    k1 = weighting.K1
    scores = np.zeros(columns.n, dtype=np.float64)
    for leaf in leaves:
        field, boost = leaf[0], leaf[2]
        if deadline is not None and time.monotonic() > deadline:
            raise TimeLimit
        if not searcher.schema[field].scorable:
            continue
        if len(leaf) == 4:
            words, within = leaf[1], columns.phrase(field, leaf[1], leaf[3])
        else:
            words, within = (leaf[1],), None
        for term in words:
            docs, tf, length = columns.weighted(field, term)
            if within is not None:
                keep = np.isin(docs, within, assume_unique=True)
                docs, tf, length = docs[keep], tf[keep], length[keep]
            if not len(docs):
                continue
            b = weighting._field_B.get(field, weighting.B)
            idf = searcher.idf(field, term)
            average = searcher.avg_field_length(field) or 1
            scores[docs] += boost * idf * tf * (k1 + 1) / (tf + k1 * ((1 - b) + b * length / average))
    return scores


def tree_scores(searcher, columns, node, *, deadline: float | None = None) -> np.ndarray | None:
    """Each document's Whoosh score for a query of words and phrases joined by AND, OR and
    NOT, in any nesting (None for any other query), evaluated branch by branch as Whoosh's
    matchers do: an OR sums its matching parts' scores, an AND its parts' where all match,
    a NOT matches the live documents its part does not and scores them a constant (what it
    excludes is matched in a boolean context, scoring 1), and each node's boost multiplies
    its score. For the queries `word_leaves` cannot flatten (a NOT under an OR), which
    otherwise go through Whoosh's collector."""
    found = _scored(searcher, columns, node, deadline)
    return None if found is None else found[0]


def _scored(searcher, columns, node, deadline) -> tuple[np.ndarray, np.ndarray] | None:
    """(scores, matches) of `node` over every document."""
    if deadline is not None and time.monotonic() > deadline:
        raise TimeLimit
    matched = np.zeros(columns.n, dtype=bool)
    if isinstance(node, wq.Term) or (type(node) is wq.Phrase and node.fieldname in QUERY_FIELDS):
        if not searcher.schema[node.fieldname].scorable:
            return None
        leaves = word_leaves(node)
        if isinstance(node, wq.Term):
            matched[columns.weighted(node.fieldname, node.text)[0]] = True
        else:
            matched[columns.phrase(node.fieldname, node.words, node.slop)] = True
        return word_scores(searcher, columns, leaves, deadline=deadline), matched & columns.live
    if isinstance(node, wq.Not):
        found = _scored(searcher, columns, node.query, deadline)
        if found is None:
            return None
        kept = columns.live & ~found[1]
        return kept.astype(np.float64), kept
    if type(node) in (wq.And, wq.Or) and not getattr(node, "scale", None) and node.subqueries:
        parts = [_scored(searcher, columns, child, deadline) for child in node.subqueries]
        if any(part is None for part in parts):
            return None
        scores = np.zeros(columns.n, dtype=np.float64)
        matched = columns.live.copy() if type(node) is wq.And else matched
        for part_scores, part_matched in parts:
            scores += np.where(part_matched, part_scores, 0.0)
            if type(node) is wq.And:
                matched &= part_matched
            else:
                matched |= part_matched
        return np.where(matched, scores * node.boost, 0.0), matched
    return None


def top(scores: np.ndarray, docs: np.ndarray, limit: int | None) -> list[int]:
    """`docs` by score, best first, ties in document order (as Whoosh's collector orders
    them); only the first `limit` are sorted."""
    if limit is not None and len(docs) > limit:
        keep = np.argpartition(-scores[docs], limit - 1)[:limit]
        # Documents tied with the last one kept may have been left out: take them all.
        floor = scores[docs[keep]].min()
        docs = docs[scores[docs] >= floor]
    order = np.lexsort((docs, -scores[docs]))
    return docs[order][:limit].tolist()
