"""Per-process arrays over an index's documents, for filtering, counting and ordering in
numpy instead of the database or Whoosh's per-document calls.

A searcher is a list of segments. Each segment's arrays are read once (segments never change
except for deletions) and kept while the segment exists; a new index generation only adds
the arrays of its new segments and a fresh live mask. Documents are numbered as the
searcher numbers them (a segment's offset plus its own number).

- `pk`, `date` (day number), `year`, `month` (year * 12 + month - 1), `language` (a code
  into `languages`) per document;
- for each kind of entity, its ids as a compressed list per document (counting a facet is a
  `bincount`) and, through the kind's indexed ids field, the documents of one entity;
- `postings(field, term)`: the documents holding a term, read block by block and cached;
  `weighted(field, term)` adds the term's frequencies and the documents' field lengths, all
  BM25 needs to score the term without Whoosh's per-document matchers (ranking.py);
- `phrase(field, words, slop)`: the documents holding the words in order, each within
  `slop` positions of the one before (Whoosh's ordered SpanNear2), matched over the words'
  positions as sorted arrays instead of span by span.
"""

import contextlib
import itertools
import pickle
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass

import numpy as np
from whoosh.codec.whoosh3 import LENGTHS_COLUMN
from whoosh.columns import NumericColumn
from whoosh.matching.wrappers import FilterMatcher
from whoosh.util.numeric import byte_to_length

from ..schema import NO_DATE, id_field
from . import arrays

_LOCK = threading.Lock()
_SEGMENTS: dict[tuple[str, int], "SegmentColumns"] = {}
POSTINGS_CACHE = 4096  # (segment, field, term) entries per segment
#: Positions decoded from Whoosh's blocks are kept for lists of at most this many.
POSITIONS_KEPT = 1 << 16


def _keys(ids: np.ndarray, counts: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Postings' positions as sorted int64 keys: document * 2**32 + position."""
    docs = np.repeat(ids.astype(np.int64), counts.astype(np.int64))
    return (docs << 32) | positions.astype(np.int64)


def _ids_of(matcher) -> np.ndarray:
    """Every document number of a posting list."""
    return _postings_of(matcher)[0]


def _listed_filter(matcher) -> bool:
    """Whether `matcher` is Whoosh's FilterMatcher over a W3 matcher, dropping (or keeping)
    a listed set of documents (a segment's deletions) and nothing more."""
    return (
        isinstance(matcher, FilterMatcher)
        and matcher.boost == 1
        and hasattr(matcher.child, "_read_ids")
        and isinstance(matcher._ids, set | frozenset)
    )


def _kept(matcher, ids: np.ndarray) -> np.ndarray:
    """Which of `ids` a `_listed_filter` matcher lets through."""
    listed = np.fromiter(matcher._ids, dtype=np.int64, count=len(matcher._ids))
    return np.isin(ids, listed, invert=matcher._exclude)


def _postings_of(matcher) -> tuple[np.ndarray, np.ndarray]:
    """Every document number of a posting list and its weight (the term's frequency in the
    document), a block at a time (whoosh-reloaded 2.7.5's W3 matcher), falling back on the
    public one-by-one iteration for other codecs.

    A segment with deletions (any segment a save has touched) wraps its matchers in a
    FilterMatcher that steps over the deleted documents one posting at a time in Python:
    its child's blocks are read instead and the deleted documents dropped with numpy (a
    20-word query at 100,000 reports stepped through 440,000 postings that way)."""
    if _listed_filter(matcher):
        # The filter has only moved its child past listed documents: every block the child
        # still holds is read whole, and the list applied to all of it.
        ids, weights = _postings_of(matcher.child)
        keep = _kept(matcher, ids)
        return ids[keep], weights[keep]
    if not hasattr(matcher, "_read_ids"):
        ids, weights = [], []
        while matcher.is_active():
            ids.append(matcher.id())
            weights.append(matcher.weight())
            matcher.next()
        return np.asarray(ids, dtype=np.int64), np.asarray(weights, dtype=np.float64)
    blocks, weights = [], []
    while matcher.is_active():
        ids, block_weights = _block_of(matcher)
        blocks.append(ids)
        weights.append(block_weights)
        matcher._next_block()
    if not blocks:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    return np.concatenate(blocks), np.concatenate(weights)


def _positions_of(matcher) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every document number of a posting list of a field with positions, each one's count
    of positions, and the positions, list after list (int64), read a block at a time as
    `_postings_of` reads the documents."""
    if _listed_filter(matcher):  # as in _postings_of
        ids, counts, positions = _positions_of(matcher.child)
        keep = _kept(matcher, ids)
        return ids[keep], counts[keep], positions[np.repeat(keep, counts)]
    parts = []
    while matcher.is_active():
        if hasattr(matcher, "_read_ids") and not matcher._byteids:
            ids, weights = _block_of(matcher)
            matcher._read_values()
            counts, positions = _decoded_positions(matcher._values, weights)
            matcher._next_block()
        else:
            found = matcher.value_as("positions")
            ids, counts = np.array([matcher.id()]), np.array([len(found)])
            positions = np.asarray(found, dtype=np.int64)
            matcher.next()
        parts.append((ids, counts, positions))
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    return tuple(np.concatenate(p) for p in zip(*parts, strict=True))


#: How Whoosh's Positions format encodes a posting's positions: the count as 4 bytes, then
#: the list of deltas pickled with protocol 2 (whoosh/formats.py, `Positions.encode`).
_PICKLE_2 = b"\x80\x02"


def _decoded_positions(values, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The positions of a block's postings: (each one's count, all of them in order). The
    pickles of the block's delta lists are joined into one pickle of a list of them and
    loaded in one call, where Whoosh unpickles each posting's on its own. Their counts
    are the postings' weights (a word's weight is its count of positions, at the schema's
    boosts of 1): a block whose lists do not come out so is decoded value by value, as
    Whoosh decodes them."""
    counts = weights.astype(np.int64)
    lists = None
    if len(values) and values[0][4:6] == _PICKLE_2:
        with contextlib.suppress(pickle.UnpicklingError, ValueError, EOFError, IndexError):
            lists = pickle.loads(b"\x80\x02](" + b"".join([v[6:-1] for v in values]) + b"e.")
    if lists is None or len(lists) != len(counts) or not np.array_equal(counts, weights):
        lists = None
    else:
        found = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
        if not np.array_equal(found, counts):
            lists = None
    if lists is None:
        lists = [pickle.loads(v[4:] if v.endswith(b".") else v[4:] + b".") for v in values]
        counts = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    deltas = np.fromiter(itertools.chain.from_iterable(lists), dtype=np.int64, count=int(counts.sum()))
    running = np.cumsum(deltas)
    starts = np.cumsum(counts) - counts
    # Each list's deltas start again from 0: take away what the lists before it added.
    return counts, running - np.repeat(running[starts] - deltas[starts], counts)


def _block_of(matcher) -> tuple[np.ndarray, np.ndarray]:
    """The current block's document numbers and weights, decoded as Whoosh's
    `_read_ids`/`_read_weights` decode them (ids stored as deltas; weights stored as None
    when all 1, as one float when all equal), with numpy instead of a generator per id."""
    if matcher._byteids:  # ids that are strings: not the archive's fields
        matcher._read_ids()
        matcher._read_weights()
        return np.asarray(matcher._ids, dtype=np.int64), np.asarray(matcher._weights, dtype=np.float64)
    if matcher._data is None:
        matcher._read_data()
    stored_ids, stored_weights = matcher._data[0], matcher._data[1]
    ids = np.cumsum(np.asarray(stored_ids, dtype=np.int64))
    if stored_weights is None:
        weights = np.ones(len(ids))
    elif isinstance(stored_weights, float):
        weights = np.full(len(ids), stored_weights)
    else:
        weights = np.asarray(stored_weights, dtype=np.float64)
    return ids, weights


#: Whoosh's one-byte field lengths, decoded.
_LENGTH_OF_BYTE = np.array([0.0] + [float(byte_to_length(b)) for b in range(1, 256)])


def length_codes(perdoc, field: str) -> bytes | None:
    """The one-byte field lengths of a segment's per-document reader (W3 codec), as one slice
    of its file: one byte per document up to the last document that has one (0: none).
    None when the segment keeps them some other way."""
    column = None
    if perdoc is not None and hasattr(perdoc, "_cached_reader"):
        column = perdoc._cached_reader(f"_{field}_len", LENGTHS_COLUMN)
    if isinstance(column, NumericColumn.Reader) and column._typecode == "B" and not column._reverse:
        return bytes(column._dbfile.get(column._basepos, column._count)) if column._count else b""
    return None


def _field_lengths(reader, field: str, n: int) -> np.ndarray:
    """Each document's length in `field`. Whoosh's W3 codec keeps them as one byte per
    document, written up to the last document that has one: read as one slice of the
    file and decoded with a table, where asking Whoosh document by document took about a
    second per field for a segment of 50,000 documents, on the first search of a worker."""
    stored = length_codes(getattr(reader, "_perdoc", None), field)
    if stored is not None:
        codes = np.zeros(n, dtype=np.uint8)
        count = min(len(stored), n)
        codes[:count] = np.frombuffer(stored, dtype=np.uint8, count=count)
        return _LENGTH_OF_BYTE[codes]
    return np.fromiter((reader.doc_field_length(d, field) or 0 for d in range(n)), dtype=np.float64, count=n)


def _integer_column(reader, field: str, n: int) -> np.ndarray | None:
    """A 64-bit integer NUMERIC field's column (pk_number, date) as one slice of the
    segment's file: big-endian sortable values (signed ones offset by 2**63), the column's
    default after the last document written. Iterating Whoosh's column reader took a second
    and a half per 100,000 documents, on a worker's first search. None for any other column
    (read the slow way)."""
    perdoc = getattr(reader, "_perdoc", None)
    fieldobj = reader.schema[field]
    column_type = getattr(fieldobj, "column_type", None)
    if (
        perdoc is None
        or not isinstance(column_type, NumericColumn)
        or column_type._typecode != "Q"
        or getattr(fieldobj, "numtype", None) is not int
        or getattr(fieldobj, "decimal_places", 0)
        or not perdoc.has_column(field)
    ):
        return None
    column = perdoc.column_reader(field, column_type)
    if not isinstance(column, NumericColumn.Reader) or column._reverse or column._typecode != "Q":
        return None
    stored = min(column._count, n)
    raw = np.full(n, column._default, dtype=np.uint64)
    if stored:
        raw[:stored] = np.frombuffer(column._dbfile.get(column._basepos, stored * 8), dtype=">u8")
    if fieldobj.signed:
        return (raw ^ np.uint64(1 << 63)).view(np.int64)
    return raw.astype(np.int64)


@dataclass
class Multi:
    """One kind's entity ids per document: entries in document order, as dense codes."""

    doc: np.ndarray  # document of each entry
    code: np.ndarray  # code of the entry's entity
    ids: np.ndarray  # code -> entity id


class SegmentColumns:
    def __init__(self, reader, kinds: list[str], languages: list[str], found_arrays=None):
        # No reference to `reader` is kept: readers close with their searcher's generation.
        self.language_names = list(languages)
        n = reader.doc_count_all()
        self.n = n
        #: the segment's posting arrays on disk (arrays.py), when it has them
        self.arrays = found_arrays
        self.pk = self._numbers(reader, "pk_number", n, 0)
        self.date = self._numbers(reader, "date", n, NO_DATE)
        self.multi = {kind: self._multi(reader, id_field(kind), found_arrays) for kind in kinds}
        self.language = np.zeros(n, dtype=np.int16)
        for code, language in enumerate(languages):
            if ("language", language) in reader:
                self.language[_ids_of(reader.postings("language", language))] = code
        self._postings: OrderedDict = OrderedDict()
        self._lengths: dict[str, np.ndarray] = {}
        self._plock = threading.Lock()

    @staticmethod
    def _numbers(reader, field: str, n: int, default: int) -> np.ndarray:
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        found = _integer_column(reader, field, n)
        if found is not None:
            return found
        return np.fromiter(reader.column_reader(field), dtype=np.int64, count=n)

    @staticmethod
    def _multi(reader, field: str, found_arrays) -> Multi:
        if found_arrays is not None and found_arrays.covers(field):
            terms = found_arrays.field_terms(field)
            lists = (found_arrays.get(field, term)[0] for term in terms)
        else:
            terms = [t.decode() if isinstance(t, bytes) else t for t in reader.lexicon(field)]
            lists = (_ids_of(reader.postings(field, term)) for term in terms)
        docs = list(lists)
        ids = [int(term) for term in terms]
        if not docs:
            empty = np.zeros(0, dtype=np.int64)
            return Multi(empty, empty.astype(np.int32), empty)
        doc = np.concatenate(docs)
        code = np.repeat(np.arange(len(docs), dtype=np.int32), [len(d) for d in docs])
        order = np.argsort(doc, kind="stable")
        return Multi(doc[order], code[order], np.asarray(ids, dtype=np.int64))

    def postings(self, reader, field: str, term: str) -> np.ndarray:
        """This segment's documents holding `term` (read from `reader`, a reader of it)."""
        return self.weighted(reader, field, term)[0]

    def weighted(self, reader, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        """This segment's documents holding `term`, and the term's frequency in each."""
        if self.arrays is not None:
            found = self.arrays.get(field, term)
            if found is not None:
                return found
        key = (field, term)
        with self._plock:
            found = self._postings.get(key)
            if found is not None:
                self._postings.move_to_end(key)
                return found
        if (field, term) in reader:
            ids, weights = _postings_of(reader.postings(field, term))
        else:
            ids, weights = np.zeros(0), np.zeros(0)
        # Kept as 32 bits, half the memory: document numbers of a segment, and term
        # frequencies (whole numbers, exact in float32; BM25 computes in float64).
        found = (ids.astype(np.int32), weights.astype(np.float32))
        with self._plock:
            self._postings[key] = found
            if len(self._postings) > POSTINGS_CACHE:
                self._postings.popitem(last=False)
        return found

    def positions(self, reader, field: str, term: str) -> np.ndarray:
        """Where `term` is in `field` in this segment's documents, as sorted keys: the
        document number times 2**32 plus the position. From the segment's arrays when they
        hold the term (nothing kept: they are mapped), else decoded from Whoosh's blocks
        and kept with the posting lists when short (a save's segment, a rare word)."""
        found = self.arrays.get_positions(field, term) if self.arrays is not None else None
        if found is not None:
            return _keys(*found)
        key = (field, term, "positions")
        with self._plock:
            keys = self._postings.get(key)
            if keys is not None:
                self._postings.move_to_end(key)
                return keys
        if (field, term) not in reader:
            return np.zeros(0, dtype=np.int64)
        keys = _keys(*_positions_of(reader.postings(field, term)))
        if len(keys) <= POSITIONS_KEPT:
            with self._plock:
                self._postings[key] = keys
                if len(self._postings) > POSTINGS_CACHE:
                    self._postings.popitem(last=False)
        return keys

    def lengths(self, reader, field: str) -> np.ndarray:
        """Each document's length in `field`, as Whoosh stores it (rounded to one byte)."""
        with self._plock:
            found = self._lengths.get(field)
        if found is None:
            found = _field_lengths(reader, field, self.n)
            with self._plock:
                self._lengths[field] = found
        return found


def segment_columns(reader, kinds, languages, folder=None) -> SegmentColumns:
    """A segment's arrays, read once per process and shared by every generation that keeps
    the segment (its deletions live in the generation's live mask, not here). Its posting
    arrays on disk (in `folder`: arrays.py) are looked for again by each new
    generation until they are there (they are written just after the segment), and read
    again once arrays of an older version have been written anew (a stat per generation)."""
    segment_id, n = reader.segment().segment_id(), reader.doc_count_all()
    key = (segment_id, n)
    with _LOCK:
        found = _SEGMENTS.get(key)
    looked_up = None
    if folder is not None and n >= arrays.MIN_SEGMENT_DOCS:
        older = found is not None and found.arrays is not None and found.arrays.version < arrays.VERSION
        if (
            found is None
            or found.arrays is None
            or (older and arrays.renewed(folder, segment_id, found.arrays))
        ):
            looked_up = arrays.load(folder, segment_id, n)
    if (
        found is None
        or found.language_names != list(languages)
        or (looked_up and looked_up is not found.arrays)
    ):
        found = SegmentColumns(reader, kinds, languages, looked_up)
        with _LOCK:
            _SEGMENTS[key] = found
    return found


def forget_segments(keep: set) -> None:
    """Drop the arrays of segments no searcher uses any more."""
    with _LOCK:
        for key in [k for k in _SEGMENTS if k not in keep]:
            del _SEGMENTS[key]


class Columns:
    """The arrays of one searcher (one index generation)."""

    def __init__(self, searcher, kinds: list[str], folder=None):
        reader = searcher.reader()
        languages = (
            sorted({t.decode() if isinstance(t, bytes) else t for t in reader.lexicon("language")})
            if reader.doc_count_all()
            else []
        )
        self.languages = languages
        self.kinds = kinds
        self.segments: list[tuple[SegmentColumns, int]] = []
        self.readers = []  # this generation's segment readers, beside self.segments
        keep = set()
        for sub, offset in searcher.leaf_searchers():
            sub_reader = sub.reader()
            if sub_reader.doc_count_all() == 0:
                continue
            columns = segment_columns(sub_reader, kinds, languages, folder)
            keep.add((sub_reader.segment().segment_id(), sub_reader.doc_count_all()))
            self.segments.append((columns, offset))
            self.readers.append(sub_reader)
        forget_segments(keep)
        self.n = reader.doc_count_all()
        self.live = np.ones(self.n, dtype=bool)
        for (_columns, offset), sub_reader in zip(self.segments, self.readers, strict=True):
            if sub_reader.has_deletions():
                deleted = np.fromiter(sub_reader.segment().deleted_docs(), dtype=np.int64)
                self.live[offset + deleted] = False
        self.pk = self._joined("pk", np.int64)
        self.date = self._joined("date", np.int64)
        self.language = self._joined("language", np.int16)
        dated = self.date != NO_DATE
        days = np.where(dated, self.date, 0).astype("datetime64[D]")
        years = days.astype("datetime64[Y]").astype(np.int64) + 1970
        months = days.astype("datetime64[M]").astype(np.int64)  # months since 1970-01
        self.dated = dated
        self.year = np.where(dated, years, 0)
        self.month = np.where(dated, months, -1)

    def _joined(self, name, dtype) -> np.ndarray:
        parts = [getattr(c, name) for c, _ in self.segments]
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

    def postings(self, field: str, term: str) -> np.ndarray:
        """Global document numbers holding `term` in `field` (deleted ones included)."""
        parts = [
            c.postings(reader, field, term) + offset
            for (c, offset), reader in zip(self.segments, self.readers, strict=True)
        ]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def weighted(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        """Global document numbers holding `term` in `field`, with the term's frequencies and
        the documents' lengths in `field`."""
        ids, weights, lengths = [], [], []
        for (c, offset), reader in zip(self.segments, self.readers, strict=True):
            found, weight = c.weighted(reader, field, term)
            ids.append(found + offset)
            weights.append(weight)
            lengths.append(c.lengths(reader, field)[found])
        if not ids:
            return (np.zeros(0, dtype=np.int64), *(np.zeros(0, dtype=np.float64),) * 2)
        return np.concatenate(ids), np.concatenate(weights).astype(np.float64), np.concatenate(lengths)

    def phrase(self, field: str, words, slop: int) -> np.ndarray:
        """Global document numbers (deleted ones included) holding `words` in `field` in
        order, each word 1 to `slop` positions after the one before, as Whoosh's Phrase
        (an ordered SpanNear2 with mindist 1) matches them: slop 1 is "adjacent"."""
        parts = []
        for (c, offset), reader in zip(self.segments, self.readers, strict=True):
            ends = None
            for word in words:
                keys = c.positions(reader, field, word)
                if ends is not None:
                    # The last place the phrase so far ends before each place of the word:
                    # the word continues the phrase when that is at most `slop` before it
                    # (keys of another document are 2**32 apart at least).
                    before = np.searchsorted(ends, keys, side="left") - 1
                    near = before >= 0
                    near[near] = keys[near] - ends[before[near]] <= slop
                    keys = keys[near]
                ends = keys
                if not len(ends):
                    break
            if ends is not None and len(ends):
                parts.append(np.unique(ends >> 32) + offset)
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def mask_of(self, field: str, terms) -> np.ndarray:
        mask = np.zeros(self.n, dtype=bool)
        for term in terms:
            mask[self.postings(field, term)] = True
        return mask

    def entity_mask(self, kind: str, ids) -> np.ndarray:
        return self.mask_of(id_field(kind), (str(i) for i in ids))

    def entity_counts(self, kind: str, mask: np.ndarray) -> Counter:
        """Entity id -> selected documents naming it."""
        counts: Counter = Counter()
        for columns, offset in self.segments:
            multi = columns.multi[kind]
            if not len(multi.doc):
                continue
            chosen = mask[offset : offset + columns.n][multi.doc]
            tally = np.bincount(multi.code[chosen], minlength=len(multi.ids))
            codes = np.flatnonzero(tally)
            counts.update(dict(zip(multi.ids[codes].tolist(), tally[codes].tolist(), strict=True)))
        return counts
