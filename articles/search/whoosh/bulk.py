"""A bulk writer that gathers the postings of the large word fields as arrays.

Whoosh's writer handles a document's postings one at a time, in Python, four times over:
its field formats build a tuple for each word (word, frequency, weight, value bytes), its
pool adds each one to a list and sorts them, writes them to runs and merges the runs
back posting by posting, and its field writer fills the posting blocks a posting at a time.
A report of 500 words gives about 1,100 postings (the text, prefix, spelling, body and
title fields), so a rebuild of 100,000 reports moved 110 million of them through those steps:
most of a rebuild's time (profiled on 3,000 reports: `PostingPool.add`, the field formats,
the runs' heap merge).

`BulkSegmentWriter` takes the scored word fields (the text, prefix and spelling fields,
which count words, and the body, title and names, which keep their places too: all but
the ids, the date and the pk) out of that path. For each document it numbers the field's
words and appends, for each distinct word, its number, the document, its count and its
places to arrays (`collections.Counter`, or a stable numpy sort of the words for the
places); every RUN_POSTINGS postings the arrays are sorted by word (numpy, stable:
documents stay in order) and written to run files. When the segment is written, each
word's postings are read from the runs as array slices and handed to Whoosh's posting
writer a block at a time, the weights, values and lengths computed as arrays. The ids,
the date and the pk still go through Whoosh's own path (and runs.py's). The segment is
the one Whoosh writes, byte for byte: the same blocks, term table and lengths
(tests/test_whoosh_analysis.py).

Used by the bulk writes (a rebuild, an import's drain: `WhooshBackend._writer`), in each
process of the parallel writer (parallel.py); a save's one-document segment uses Whoosh's
writer.
"""

import functools
import itertools
import os
from array import array
from collections import Counter
from operator import itemgetter
from pickle import dumps
from struct import Struct

import numpy as np
from whoosh.formats import Frequency, Positions
from whoosh.system import pack_uint
from whoosh.util import random_name
from whoosh.writing import SegmentWriter

from . import arrays as segment_arrays
from .columns import length_codes
from .runs import _LENGTH_OF_BYTE, add_postings

#: Postings of one field held in memory before they are sorted into a run on disk: three
#: 4-byte numbers each (word, document, frequency), 24 MB, and 16 MB more to sort them;
#: for a field with places, a 4-byte number per place too (about 1.8 a posting in the body).
RUN_POSTINGS = 2_000_000


#: A field's words of a document grouped in Python up to this many, with numpy past it.
SMALL = 24

#: Each length byte's length, 0 for none (Whoosh's reader answers None and the writer skips it).
_LENGTHS = np.array([length or 0 for length in _LENGTH_OF_BYTE], dtype=np.int64)


def array_fields(schema) -> list[str]:
    """The schema's scored word fields, with or without positions (not vectors)."""
    return sorted(
        name
        for name, field in schema.items()
        if field.indexed
        and field.scorable
        and type(field.format) in (Frequency, Positions)
        and not field.vector
        and not field.separate_spelling()
    )


class FieldPostings:
    """One field's postings (word number, document, frequency, and its positions for a
    field that keeps them), sorted by word into runs on disk."""

    def __init__(self, folder: str, name: str, positions: bool, run_postings: int):
        self.folder, self.name, self.run_postings = folder, name, run_postings
        self.positions = positions
        self.numbers: dict[str, int] = _Numbers()
        self.runs: list[tuple[str, str | None]] = []
        self._start()

    def _start(self):
        self._words, self._docs, self._tf, self._positions = array("I"), array("I"), array("I"), array("I")

    def add(self, docnum: int, words, places=None) -> int:
        """A document's words (and, for a text the analyzer gave, each one's place; a list's
        words are at 0, 1, 2...); returns the document's length in the field."""
        if not words:
            return 0
        numbers = self.numbers
        if self.positions and len(words) <= SMALL:
            # A title or a name: grouped in Python (numpy's cost per call outweighs a few words).
            found: dict[int, list] = {}
            for place, number in zip(
                places if places is not None else range(len(words)),
                map(numbers.__getitem__, words),
                strict=True,
            ):
                found.setdefault(number, []).append(place)
            # In any order of the words: a run is sorted by word (`_spill`).
            self._words.extend(found)
            self._tf.extend(map(len, found.values()))
            self._docs.extend(itertools.repeat(docnum, len(found)))
            for where in found.values():
                self._positions.extend(where)
        elif self.positions:
            found = np.fromiter(map(numbers.__getitem__, words), dtype=np.uint32, count=len(words))
            order = np.argsort(found, kind="stable")  # each word's places, ascending
            grouped = found[order]
            starts = np.flatnonzero(np.concatenate(([True], grouped[1:] != grouped[:-1])))
            self._words.frombytes(grouped[starts].tobytes())
            self._tf.frombytes(np.diff(np.append(starts, len(grouped))).astype(np.uint32).tobytes())
            self._docs.extend(itertools.repeat(docnum, len(starts)))
            if places is not None:
                order = np.asarray(places, dtype=np.uint32)[order]
            self._positions.frombytes(order.astype(np.uint32).tobytes())
        else:
            counts = Counter(words)
            self._words.extend(map(numbers.__getitem__, counts))
            self._tf.extend(counts.values())
            self._docs.extend(itertools.repeat(docnum, len(counts)))
        if len(self._words) >= self.run_postings:
            self._spill()
        return len(words)

    def _spill(self):
        if not self._words:
            return
        words = np.frombuffer(self._words, dtype=np.uint32)
        order = np.argsort(words, kind="stable")  # a word's documents stay in order
        tf = np.frombuffer(self._tf, dtype=np.uint32)
        run = np.empty((3, len(words)), dtype=np.uint32)
        run[0], run[1], run[2] = words[order], np.frombuffer(self._docs, dtype=np.uint32)[order], tf[order]
        base = os.path.join(self.folder, f"{self.name}.{random_name()}")
        np.save(f"{base}.postings.npy", run)
        places = None
        if self.positions:
            # Each posting's places follow it to its place in the run.
            sizes = run[2].astype(np.int64)
            was = (np.cumsum(tf, dtype=np.int64) - tf)[order]
            now = np.cumsum(sizes) - sizes
            gather = np.arange(int(sizes.sum()), dtype=np.int64) + np.repeat(was - now, sizes)
            places = f"{base}.positions.npy"
            np.save(places, np.frombuffer(self._positions, dtype=np.uint32)[gather])
            del sizes, was, now, gather
        self.runs.append((f"{base}.postings.npy", places))
        del words, order, run, tf
        self._start()

    def terms(self):
        """(word as UTF-8, documents, frequencies, the postings' places one after the other
        or None) for each word, in the order of the bytes."""
        self._spill()
        # Plain arrays over the maps: slicing a numpy.memmap costs several times more.
        runs = [np.asarray(np.load(path, mmap_mode="r")) for path, _ in self.runs]
        places = [np.asarray(np.load(path, mmap_mode="r")) if path else None for _, path in self.runs]
        starts = [
            np.concatenate(([0], np.cumsum(run[2], dtype=np.int64))) if self.positions else None
            for run in runs
        ]
        # UTF-8 orders as the code points do: sorting the words sorts their bytes.
        words = sorted(self.numbers.items())
        numbers = np.fromiter((number for _, number in words), dtype=np.uint32, count=len(words))
        bounds = [
            (
                np.searchsorted(run[0], numbers, "left").tolist(),
                np.searchsorted(run[0], numbers, "right").tolist(),
            )
            for run in runs
        ]
        everything = list(zip(runs, bounds, places, starts, strict=True))
        for k, (word, _) in enumerate(words):
            parts = [
                (run, low[k], high[k], where, first)
                for run, (low, high), where, first in everything
                if high[k] > low[k]
            ]
            docs = _joined([run[1, low:high] for run, low, high, _, _ in parts])
            tf = _joined([run[2, low:high] for run, low, high, _, _ in parts])
            found = None
            if self.positions:
                found = _joined([where[first[low] : first[high]] for _, low, high, where, first in parts])
            yield word.encode("utf-8"), docs, tf, found

    def remove(self):
        for run in self.runs:
            for path in run:
                if path:
                    try:
                        os.remove(path)
                    except FileNotFoundError:
                        pass
        self.runs = []


class _Numbers(dict):
    """Each word's number, a new word given the next one (looked up by `map` in C)."""

    def __missing__(self, word: str) -> int:
        number = self[word] = len(self)
        return number


def _joined(parts: list) -> np.ndarray:
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


class _LengthsAtFinish:
    """The writer's per-document writer, which adds the lengths of the fields counted as
    arrays to each document before finishing it (as Whoosh adds each field's)."""

    def __init__(self, writer, inner):
        self._writer, self._inner = writer, inner

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def finish_doc(self):
        schema = self._writer.schema
        for fieldname, length in self._writer._lengths_due:
            self._inner.add_field(fieldname, schema[fieldname], None, length)
        self._inner.finish_doc()


class BulkSegmentWriter(SegmentWriter):
    """Whoosh's SegmentWriter, with the word-counting fields gathered as arrays."""

    def __init__(
        self,
        ix,
        *,
        prepare=None,
        written=None,
        arrays: dict[str, int] | None = None,
        run_postings: int | None = None,
        **kwargs,
    ):
        super().__init__(ix, **kwargs)
        #: The posting arrays' fields (arrays.py), each with its lists' least length: those
        #: of them written here go to the segment's arrays as they are written (`arrays_started`,
        #: finished by `written` with the other fields read back from the segment), where
        #: they were all read back, a block at a time, a third of a writing process's time.
        self._arrays_wanted = arrays
        self.arrays_started: segment_arrays.ArraysWriter | None = None
        #: Makes a document's fields of what the writer is given (the backend's analysis),
        #: in the process that writes them: the parallel writer's children analyse their
        #: own documents.
        self._prepare = prepare
        #: Called with the writer and its segment once the segment's files are complete,
        #: before the commit that adds it to the index (the backend's posting arrays, written
        #: by each of the parallel writer's children for its own segment).
        self._written = written
        folder = self.temp_storage().folder
        run_postings = run_postings or RUN_POSTINGS
        self._arrays = {
            name: FieldPostings(folder, name, type(self.schema[name].format) is Positions, run_postings)
            for name in array_fields(self.schema)
        }
        self._lengths_due = ()
        self.perdocwriter = _LengthsAtFinish(self, self.perdocwriter)

    def add_document(self, **fields):
        if self._prepare is not None:
            fields = self._prepare(fields)
        if any(name.startswith("_") for name in fields):
            # Whoosh's boosts and custom stored values: not used by the archive, and a field
            # must not reach the segment both from the arrays and from Whoosh's pool.
            raise TypeError("BulkSegmentWriter takes no _boost or _stored_ fields")
        docnum = self.docnum
        due = []
        for name, postings in self._arrays.items():
            value = fields.pop(name, None)
            if value is None:
                continue
            places = None
            if not isinstance(value, (list, tuple)):  # a text: the field's analyzer, as Whoosh would
                analyzer = self.schema[name].analyzer
                if postings.positions:
                    tokens = [
                        (t.text, t.pos)
                        for t in analyzer(value, mode="index", positions=True)
                        if not t.stopped
                    ]
                    value, places = [text for text, _ in tokens], [place for _, place in tokens]
                else:
                    value = [t.text for t in analyzer(value, mode="index") if not t.stopped]
            self.pool.fieldnames.add(name)
            length = postings.add(docnum, value, places)
            if length:
                due.append((name, length))
        self._lengths_due = due
        try:
            super().add_document(**fields)
        finally:
            self._lengths_due = ()

    def _flush_segment(self):
        if self._arrays_wanted is not None and self.docnum >= segment_arrays.MIN_SEGMENT_DOCS:
            self.arrays_started = segment_arrays.ArraysWriter(
                self.storage.folder, self.newsegment.segment_id(), self.temp_storage().folder
            )
        self.perdocwriter.close()
        lengths = self.per_document_reader() if self.codec.length_stats else None
        writer = self.fieldwriter
        waiting = sorted(name for name, postings in self._arrays.items() if postings.numbers)
        # The pool's postings come sorted by field, then word: the array fields go in
        # between, in the order of their names, as Whoosh's pool would have sorted them.
        for fieldname, postings in itertools.groupby(self.pool.iter_postings(), key=itemgetter(0)):
            while waiting and waiting[0] < fieldname:
                self._write_field(waiting.pop(0), lengths)
            add_postings(writer, self.schema, lengths, postings)
        for name in waiting:
            self._write_field(name, lengths)
        writer.close()
        if lengths:
            lengths.close()
        for postings in self._arrays.values():
            postings.remove()

    def _finalize_segment(self):
        try:
            segment = super()._finalize_segment()
            if self._written is not None:
                self._written(self, segment)
        finally:
            if self.arrays_started is not None:
                self.arrays_started.drop()  # finished by `written`, or left unfinished
        return segment

    def cancel(self):
        if self.arrays_started is not None:
            self.arrays_started.drop()
        super().cancel()

    def _close_segment(self):
        for postings in self._arrays.values():
            postings.remove()
        super()._close_segment()

    def _write_field(self, fieldname: str, perdoc):
        field = self.schema[fieldname]
        writer = self.fieldwriter
        lengths = None
        if perdoc is not None:  # each document's length in the field, as the reader answers it
            codes = length_codes(perdoc, fieldname)
            if codes is not None:
                lengths = np.zeros(self.docnum + 1, dtype=np.int64)
                lengths[: len(codes)] = _LENGTHS[np.frombuffer(codes, dtype=np.uint8)]
            else:
                lengths = np.array(
                    [perdoc.doc_field_length(d, fieldname) or 0 for d in range(self.docnum + 1)],
                    dtype=np.int64,
                )
        boost = field.format.field_boost
        each = lengths.tolist() if lengths is not None else None
        out, least = self.arrays_started, None
        if out is not None and self._arrays_wanted.get(fieldname) is not None:
            least = self._arrays_wanted[fieldname]
            out.table.setdefault(fieldname, {})
        writer.start_field(fieldname, field)
        postwriter = writer._postwriter
        for btext, docs, tf, places in self._arrays[fieldname].terms():
            writer.start_term(btext)
            if len(docs) <= postwriter._blocklimit:
                _add_short_term(postwriter, docs.tolist(), tf.tolist(), places, boost, each)
            else:
                _add_term_arrays(postwriter, docs, tf, places, boost, lengths)
            writer.finish_term()
            if least is not None and len(docs) >= least:
                # As the segment's reader gives the list: weights are float32 in the blocks.
                weights = tf if places is not None else (tf * boost).astype(np.float32)
                out.add(fieldname, btext.decode("utf-8"), docs, weights, places)
        writer.finish_field()
        if least is not None:
            out.done.add(fieldname)


def _add_short_term(writer, docs: list, tf: list, places, boost, lengths: list | None):
    """`_add_term_arrays` for a word of one block or less (most words: most are rare), with
    lists: numpy's cost per call outweighs a few postings' work."""
    weights = [count * boost for count in tf]
    writer._ids.extend(docs)
    writer._weights.extend(weights)
    writer._maxweight = max(writer._maxweight, max(weights))
    if places is None:
        writer._values.append(_frequencies(len(tf)).pack(*tf))
    else:
        writer._values.extend(_position_values(np.asarray(tf, dtype=np.int64), places))
    if lengths is not None:
        found = [length for length in (lengths[doc] for doc in docs) if length > 0]
        if found:
            low, high = min(found), max(found)
            if writer._minlength is None or low < writer._minlength:
                writer._minlength = low
            writer._maxlength = max(writer._maxlength, high)


def _add_term_arrays(writer, docs, tf, places, boost, lengths):
    """What W3PostingsWriter.add_posting does for each posting of a word, a block at a time:
    the documents, weights (the frequency times the field's boost), values and the block's
    bounds of length. A value is the frequency, 4 bytes big-endian (`Frequency`), or the
    count and the pickled gaps between the places (`Positions.encode`)."""
    limit = writer._blocklimit
    weights = tf * boost  # float64, as Whoosh computes each posting's weight
    values = None if places is None else _position_values(tf, places)
    start, n = 0, len(docs)
    while start < n:
        if len(writer._ids) >= limit:
            writer._write_block()
        end = min(n, start + limit - len(writer._ids))
        writer._ids.frombytes(np.ascontiguousarray(docs[start:end], dtype=np.uint32).tobytes())
        block_weights = weights[start:end]
        writer._weights.frombytes(block_weights.astype(np.float32).tobytes())
        writer._maxweight = max(writer._maxweight, float(block_weights.max()))
        if values is None:
            writer._values.append(np.ascontiguousarray(tf[start:end], dtype=">u4").tobytes())
        else:
            writer._values.extend(values[start:end])
        if lengths is not None:
            found = lengths[docs[start:end]]
            found = found[found > 0]
            if found.size:
                low, high = int(found.min()), int(found.max())
                if writer._minlength is None or low < writer._minlength:
                    writer._minlength = low
                writer._maxlength = max(writer._maxlength, high)
        start = end


@functools.cache
def _frequencies(n: int) -> Struct:
    """Packs n frequencies as `Frequency` packs each: 4 bytes, big-endian."""
    return Struct(f">{n}I")


def _position_values(tf, places) -> list[bytes]:
    """Each posting's `Positions.encode(places)`: its count, then its gaps pickled."""
    places = places.astype(np.int64)
    ends = np.cumsum(tf, dtype=np.int64)
    starts = ends - tf
    gaps = places.copy()
    gaps[1:] -= places[:-1]
    gaps[starts] = places[starts]  # a posting's first place counts from 0
    if len(tf) >= VECTOR_VALUES and int(tf.max()) <= _PICKLE_BATCH and int(gaps.max()) < 2**31:
        return _pickled_gaps(tf.astype(np.int64), starts, gaps)
    gaps = gaps.tolist()
    return [
        pack_uint(count) + dumps(gaps[start:end], 2)
        for count, start, end in zip(tf.tolist(), starts.tolist(), ends.tolist(), strict=True)
    ]


#: From this many postings of a word, their values are built as one array (`_pickled_gaps`):
#: it costs about 130 microseconds a word, then half what pickle costs a posting.
VECTOR_VALUES = 256
#: pickle writes a list's items in batches of this many (one APPENDS each): longer lists are
#: left to it.
_PICKLE_BATCH = 1000
_HEADER = np.frombuffer(b"\x80\x02]q\x00", dtype=np.uint8)  # protocol 2, a list, memo 0


def _pickled_gaps(tf, starts, gaps) -> list[bytes]:
    """`pack_uint(count) + pickle.dumps(gaps, 2)` for each posting, the bytes of all of them
    laid out with numpy: the count (4 bytes, big-endian), the list's header, a MARK before
    two items or more, each gap as BININT1 (K, under 256), BININT2 (M, under 65,536) or
    BININT (J, 4 bytes), then APPENDS or APPEND, and STOP. tests/test_whoosh_analysis.py
    compares it with pickle."""
    size = np.where(gaps < 256, 2, np.where(gaps < 65536, 3, 5))  # each item's bytes
    several = (tf > 1).astype(np.int64)
    before = np.cumsum(size) - size  # the items' bytes before each item
    items = np.add.reduceat(size, starts) if len(size) else np.zeros(0, dtype=np.int64)
    length = 4 + len(_HEADER) + several + items + 2
    ends = np.cumsum(length)
    at = ends - length  # where each posting's value starts
    out = np.zeros(int(ends[-1]), dtype=np.uint8)
    count = tf.astype(">u4").view(np.uint8).reshape(-1, 4)
    for k in range(4):
        out[at + k] = count[:, k]
    for k, byte in enumerate(_HEADER):
        out[at + 4 + k] = byte
    first_item = at + 4 + len(_HEADER)
    out[first_item[several == 1]] = ord("(")
    where = np.repeat(first_item + several - before[starts], tf) + before
    out[where] = np.where(size == 2, ord("K"), np.where(size == 3, ord("M"), ord("J")))
    value = gaps.astype("<u4").view(np.uint8).reshape(-1, 4)
    out[where + 1] = value[:, 0]
    wide = size >= 3
    out[where[wide] + 2] = value[wide, 1]
    wide = size == 5
    out[where[wide] + 3] = value[wide, 2]
    out[where[wide] + 4] = value[wide, 3]
    out[ends - 2] = np.where(several == 1, ord("e"), ord("a"))
    out[ends - 1] = ord(".")
    data = out.tobytes()
    return list(map(data.__getitem__, map(slice, at.tolist(), ends.tolist())))
