"""A search over the Whoosh index as masks over its documents.

Matching and filtering are boolean arrays (`columns.py`): the text query's documents come
from its terms' posting lists, filters from the columns; counting the selection or a facet
is a sum or a `bincount`, never a database query and never a scored search. Only the page
shown is ranked: Whoosh's top-k collector scores the page's candidates (skipping blocks
that cannot reach it) among the allowed documents; dates order the rest.
"""

import datetime as dt
import time
from collections import Counter

import numpy as np
from whoosh import query as wq
from whoosh.collectors import FilterCollector, TimeLimit, TopCollector
from whoosh.idsets import DocIdSet

from .. import query as q
from ..base import QueryError, Selection
from ..criteria import Criteria
from ..schema import EPOCH, PREFIX_FIELD, QUERY_FIELDS
from .ranking import top, tree_scores, word_leaves, word_scores


class MaskSet(DocIdSet):
    """A boolean array as the allowed documents of a Whoosh collector."""

    def __init__(self, mask: np.ndarray):
        self.mask = mask

    def __contains__(self, docnum) -> bool:
        return bool(self.mask[docnum])

    def __bool__(self) -> bool:
        return True  # Whoosh skips filtering for a falsy filter, even an empty one

    def __len__(self) -> int:
        return int(self.mask.sum())

    def __iter__(self):
        return iter(np.flatnonzero(self.mask).tolist())


class Top(TopCollector):
    """Whoosh's top-N collector, telling its matcher the lowest score still in the running
    as soon as N documents are in (whoosh-reloaded 2.7.5 only does once a document pushes
    another out, so a page whose best documents come first scored every match)."""

    def _collect(self, global_docnum, score):
        key = super()._collect(global_docnum, score)
        if len(self.items) >= self.limit:
            self.minscore = self.items[0][0]
        return key


class AllowedWithin(FilterCollector):
    """Whoosh's FilterCollector with a deadline: only allowed documents are collected, and the
    search stops with TimeLimit once the budget is spent. (Whoosh's TimeLimitCollector and
    FilterCollector each act only in their own collect loop, so they do not compose.)"""

    def __init__(self, child, allow: MaskSet, budget: float | None):
        super().__init__(child, allow=allow)
        self.deadline = None if budget is None else time.monotonic() + budget

    def collect_matches(self):
        child, mask, offset, deadline = self.child, self.allow.mask, self.offset, self.deadline
        for seen, sub_docnum in enumerate(child.matches()):
            if deadline is not None and not seen & 255 and time.monotonic() > deadline:
                raise TimeLimit
            if mask[offset + sub_docnum]:
                child.collect(sub_docnum)


def _has_not(node) -> bool:
    if isinstance(node, wq.Not):
        return True
    return any(_has_not(child) for child in getattr(node, "subqueries", ()) or ())


class WhooshSelection(Selection):
    """Whoosh's readers share file handles: everything that reads the index runs under the
    backend's lock (`self.io`); counting and ordering are numpy and need no lock."""

    def __init__(self, backend, searcher, columns, criteria: Criteria, names=None):
        self.criteria, self.searcher, self.columns = criteria, searcher, columns
        self.io = backend.io_lock
        self.corrected, self.notices, self.built = None, [], None
        with self.io:
            base = columns.live.copy()
            if criteria.exclude:
                base[np.isin(columns.pk, np.asarray(criteria.exclude, dtype=np.int64))] = False
            if criteria.q:
                base &= self._match(backend, names)
            self.base = base
            self.filters = self._filters()
        self.mask = self._combined(None)

    # ------------------------------------------------------------------ text

    def _match(self, backend, names) -> np.ndarray:
        plan = q.parse(self.criteria.q, names)
        translator = backend.translator(self.searcher)
        mask = self._plan_mask(translator, plan)
        if not (mask & self.columns.live).any() and plan.fallback is not None:
            # A pasted sentence that merely contained quotes or a colon: its words, once.
            plan = plan.fallback
            translator = backend.translator(self.searcher)
            mask = self._plan_mask(translator, plan)
        self.notices = [*plan.notices, *translator.notices]
        self.corrected = backend.suggest(self.searcher, self.criteria.q, plan.words, names)
        return mask

    def _plan_mask(self, translator, plan) -> np.ndarray:
        built, minimum = translator.build(plan)
        self.built = built
        if minimum is None:
            return self._mask_of(built)
        units, need = minimum
        matched = np.zeros(self.columns.n, dtype=np.int16)
        for unit in units:
            matched += self._mask_of(unit)
        return matched >= need

    def _mask_of(self, node) -> np.ndarray:
        columns = self.columns
        if isinstance(node, wq.Term):
            if node.fieldname == PREFIX_FIELD:
                # Prefixes only rank: "protest" must not list every report of a protein.
                return np.zeros(columns.n, dtype=bool)
            return columns.mask_of(node.fieldname, [node.text])
        if isinstance(node, wq.Or):
            mask = np.zeros(columns.n, dtype=bool)
            for child in node.subqueries:
                mask |= self._mask_of(child)
            return mask
        if isinstance(node, wq.And):
            mask = columns.live.copy()
            for child in node.subqueries:
                mask &= self._mask_of(child)
            return mask
        if isinstance(node, wq.Not):
            return columns.live & ~self._mask_of(node.query)
        if node is wq.NullQuery or isinstance(node, type(wq.NullQuery)):
            return np.zeros(columns.n, dtype=bool)
        if type(node) is wq.Phrase and node.fieldname in QUERY_FIELDS:
            mask = np.zeros(columns.n, dtype=bool)
            mask[columns.phrase(node.fieldname, node.words, node.slop)] = True
            return mask
        # Anything else: Whoosh's own matching, unscored.
        mask = np.zeros(columns.n, dtype=bool)
        found = np.fromiter(self.searcher.docs_for_query(node), dtype=np.int64)
        mask[found] = True
        return mask

    # --------------------------------------------------------------- filters

    def _filters(self) -> dict[str, np.ndarray]:
        criteria, columns = self.criteria, self.columns
        filters = {kind: columns.entity_mask(kind, ids) for kind, ids in criteria.entities}
        if criteria.languages:
            codes = [columns.languages.index(c) for c in criteria.languages if c in columns.languages]
            filters["language"] = np.isin(columns.language, codes)
        if criteria.years:
            filters["year"] = columns.dated & np.isin(columns.year, criteria.years)
        if criteria.date_from or criteria.date_to:
            low = (criteria.date_from - EPOCH).days if criteria.date_from else -(2**40)
            high = (criteria.date_to - EPOCH).days if criteria.date_to else 2**40
            filters["dates"] = columns.dated & (columns.date >= low) & (columns.date <= high)
        return filters

    def _combined(self, leave_out: str | None) -> np.ndarray:
        mask = self.base.copy()
        for name, filtering in self.filters.items():
            if name != leave_out:
                mask &= filtering
        return mask

    # ------------------------------------------------------------- answers

    def count(self) -> int:
        return int(self.mask.sum())

    def _by_date(self, docs: np.ndarray) -> np.ndarray:
        """`docs` in the search's date order: newest (or oldest) first, undated last, ties by
        pk the same way."""
        columns = self.columns
        undated, date, pk = ~columns.dated[docs], columns.date[docs], columns.pk[docs]
        if self.criteria.sort == "oldest":
            return docs[np.lexsort((pk, date, undated))]
        return docs[np.lexsort((-pk, -date, undated))]

    def _ranked(self, limit: int | None) -> list[int]:
        """The top `limit` documents by score (every one when None: exports, which have no
        time budget but the query's own bounds)."""
        budget = q.TIME_BUDGET if limit is not None else None
        leaves = word_leaves(self.built)
        if not limit:
            ranking = self.searcher.collector(limit=None)
        elif _has_not(self.built):
            # Whoosh replaces a matcher tree by a leaner one as the page's lowest score rises,
            # judging each branch by its best possible score; a NOT's branch reports its
            # excluded words' (not the constant it scores), and whole branches of matches
            # were dropped from the page ("court OR (election NOT police)").
            ranking = Top(limit=limit, replace=0)
        else:
            ranking = Top(limit=limit)
        collector = AllowedWithin(ranking, MaskSet(self.mask), budget=budget)
        try:
            with self.io:
                if leaves is not None:
                    scores = word_scores(self.searcher, self.columns, leaves, deadline=collector.deadline)
                    return top(scores, np.flatnonzero(self.mask), limit)
                if _has_not(self.built):
                    scores = tree_scores(self.searcher, self.columns, self.built, deadline=collector.deadline)
                    if scores is not None:
                        return top(scores, np.flatnonzero(self.mask), limit)
                self.searcher.search_with_collector(self.built, collector)
        except TimeLimit:
            raise QueryError(
                f"This query takes more than {q.TIME_BUDGET:g} s to answer: make it "
                "more specific (fewer wildcards or fuzzy terms)."
            ) from None
        return [docnum for _score, docnum in collector.results().top_n]

    def _ordered_docs(self, offset: int, limit: int | None) -> list[int]:
        end = None if limit is None else offset + limit
        if self.criteria.sort == "relevance" and self.built is not None:
            return self._ranked(end)[offset:]
        return self._by_date(np.flatnonzero(self.mask))[offset:end].tolist()

    def pks(self, offset: int, limit: int) -> list[int]:
        if offset >= self.count():
            return []
        return [int(self.columns.pk[d]) for d in self._ordered_docs(offset, limit)]

    def iter_pks(self, chunk: int = 500):
        for docnum in self._ordered_docs(0, None):
            yield int(self.columns.pk[docnum])

    def counts(self, facet: str, *, own_filter: bool = False) -> Counter:
        mask = self.mask if own_filter else self._combined(facet)
        columns = self.columns
        if facet == "year":
            tally = np.bincount(columns.year[mask & columns.dated], minlength=1)
            return Counter({int(y): int(n) for y, n in enumerate(tally) if n})
        if facet == "language":
            tally = np.bincount(columns.language[mask], minlength=len(columns.languages))
            return Counter({columns.languages[c]: int(n) for c, n in enumerate(tally) if n})
        return columns.entity_counts(facet, mask)

    def dates(self, unit: str) -> Counter:
        columns = self.columns
        chosen = self.mask & columns.dated
        if unit == "day":
            days, tally = np.unique(columns.date[chosen], return_counts=True)
            return Counter(
                {EPOCH + dt.timedelta(days=int(d)): int(n) for d, n in zip(days, tally, strict=True)}
            )
        if unit == "year":
            tally = np.bincount(columns.year[chosen], minlength=1)
            return Counter({dt.date(y, 1, 1): int(n) for y, n in enumerate(tally) if n})
        months = columns.month[chosen]
        if not len(months):
            return Counter()
        low = int(months.min())
        tally = np.bincount(months - low)
        return Counter(
            {dt.date(1970 + (low + m) // 12, (low + m) % 12 + 1, 1): int(n) for m, n in enumerate(tally) if n}
        )

    def date_span(self):
        chosen = self.mask & self.columns.dated
        if not chosen.any():
            return None, None
        days = self.columns.date[chosen]
        return EPOCH + dt.timedelta(days=int(days.min())), EPOCH + dt.timedelta(days=int(days.max()))
