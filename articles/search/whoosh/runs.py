"""How a Whoosh writer's postings reach its segment, made cheaper.

A writer sorts its postings (field, word, document, weight, positions) in memory up to its
`limitmb`, writes each sorted batch to a temporary "run" file, and merges the runs into the
segment when it commits, asking for each posting the length of its document's field.

- Runs are compressed. Uncompressed, the runs of a rebuild at 100,000 reports filled 13 GB
  of the index directory for an index of 718 MB. Sorted postings repeat themselves (the same
  field and word, nearby document numbers, the same few weights): zlib at level 1 writes a
  run in about a eighteenth of the space at 180 MB/s (measured on one of those runs: 77 MB
  to 4 MB), and reading it back costs less than reading 18 times the bytes.
- Runs are pickled in batches of postings, not posting by posting: Whoosh calls pickle once
  per posting each way (a quarter of a rebuild's commit, profiled on 1,500 reports).
- Field lengths are read once per field and segment as one slice, where Whoosh read them
  from the segment's file once per posting (another fifth of the commit).
- A word's postings fill the posting writer's blocks a slice at a time (`add_postings`),
  where Whoosh called the posting writer once per posting; the blocks are byte for byte
  Whoosh's (whoosh-reloaded is pinned to the version whose writer this follows).

`install()` makes every Whoosh writer of the process (and of the processes it forks) do so.
"""

import gzip
import io
import itertools
import operator
import os
import pickle

import whoosh.writing as writing
from whoosh.codec.base import OutOfOrderError
from whoosh.codec.whoosh3 import W3FieldWriter, W3PostingsWriter
from whoosh.util import random_name
from whoosh.util.numeric import byte_to_length

from .columns import length_codes

#: zlib level of the runs: 1 is the fastest, and the runs compress nearly as well as at 6.
LEVEL = 1
BUFFER = 1 << 20
#: Postings pickled together in a run.
BATCH = 4096

_LENGTH_OF_BYTE = [None] + [byte_to_length(code) for code in range(1, 256)]


class CompressedPool(writing.PostingPool):
    """Whoosh's PostingPool, with its runs written and read through gzip, in batches."""

    def _path(self, name: str) -> str:
        return os.path.join(self.tempstore.folder, name)

    def _new_run(self):
        name = f"{random_name()}.run"
        return name, io.BufferedWriter(gzip.open(self._path(name), "wb", compresslevel=LEVEL), BUFFER)

    def _open_run(self, name):
        return io.BufferedReader(gzip.open(self._path(name), "rb"), BUFFER)

    def _write_run(self, f, items):
        items = iter(items)
        try:
            while batch := list(itertools.islice(items, BATCH)):
                pickle.dump(batch, f, pickle.HIGHEST_PROTOCOL)
        finally:
            f.close()

    def _read_run(self, path):
        f = self._open_run(path)
        try:
            while True:
                try:
                    batch = pickle.load(f)
                except EOFError:
                    return
                yield from batch
        finally:
            f.close()
            self._remove_run(path)


class SliceLengths:
    """A per-document reader's `doc_field_length`, answered from each field's lengths read
    once as one slice (columns.length_codes), or by the reader itself where it cannot."""

    def __init__(self, lengths):
        self._lengths = lengths
        self._codes = {}

    def doc_field_length(self, docnum, fieldname, default=0):
        codes = self._codes.get(fieldname)
        if codes is None:
            codes = self._codes[fieldname] = length_codes(self._lengths, fieldname)
            if codes is None:
                codes = self._codes[fieldname] = False
        if codes is False:
            return self._lengths.doc_field_length(docnum, fieldname, default)
        # As the W3 codec answers: None for a document without a length in the field.
        return _LENGTH_OF_BYTE[codes[docnum]] if docnum < len(codes) else None


#: Whoosh's own (the tests compare with it).
_add_postings = W3FieldWriter.add_postings


def add_postings(self, schema, lengths, items):
    """W3FieldWriter.add_postings (whoosh.codec.base.FieldWriter's), a term's postings at a
    time: its postings fill the writer's block buffers by slices, where Whoosh called the
    posting writer once per posting (type checks, three appends, the block's bounds). The
    blocks, their bounds and the term table are the same, byte for byte
    (tests/test_whoosh_analysis.py)."""
    dfl = SliceLengths(lengths).doc_field_length if lengths else None
    last_field = last_word = field_dfl = None
    for (fieldname, btext), group in itertools.groupby(items, key=_field_and_word):
        if fieldname != last_field:
            if last_field is not None:
                if fieldname < last_field:
                    raise OutOfOrderError(f"Field {last_field!r} .. {fieldname!r}")
                self.finish_field()
            self.start_field(fieldname, schema[fieldname])
            last_field, last_word = fieldname, None
            # Whoosh keeps lengths for scored fields only: asking for an unscored field's
            # (the ids, the date, the pk) looked for its missing file once a posting.
            field_dfl = dfl if schema[fieldname].scorable else None
        elif btext < last_word:
            raise OutOfOrderError(f"Term {fieldname}:{last_word!r} .. {fieldname}:{btext!r}")
        last_word = btext
        postings = [posting for posting in group if posting[2] != -1]  # -1: Whoosh's spelling hack
        if postings:
            self.start_term(btext)
            _add_term_postings(self._postwriter, fieldname, postings, field_dfl)
            self.finish_term()
    if last_field is not None:
        self.finish_field()


def _field_and_word(posting):
    return posting[0], posting[1]


def _add_term_postings(writer, fieldname, postings, dfl):
    """What W3PostingsWriter.add_posting does for each of `postings`, a block at a time."""
    limit = writer._blocklimit
    for start in range(0, len(postings), limit):
        if len(writer._ids) >= limit:
            writer._write_block()
        block = postings[start : start + limit - len(writer._ids)]
        docs = [posting[2] for posting in block]
        weights = [posting[3] for posting in block]
        writer._ids.extend(docs)
        writer._weights.extend(weights)
        writer._maxweight = max(writer._maxweight, *weights)
        writer._values.extend(value for *_, value in block if value)
        if dfl is not None:
            found = [length for length in (dfl(doc, fieldname) for doc in docs) if length]
            if found:
                low, high = min(found), max(found)
                if writer._minlength is None or low < writer._minlength:
                    writer._minlength = low
                writer._maxlength = max(writer._maxlength, high)


#: Whoosh's own (the tests compare with them).
_whooshs_mini_ids, _whooshs_mini_weights = W3PostingsWriter._mini_ids, W3PostingsWriter._mini_weights


def _mini_ids(self):
    """W3PostingsWriter._mini_ids: a block's documents as gaps, by C loops (`map`), where
    Whoosh's generator yielded them one by one (with `_mini_weights`, a sixth of the blocks'
    writing in a rebuild)."""
    ids = self._ids
    if self._byteids:
        return tuple(ids)
    return tuple(map(operator.sub, ids, itertools.chain((0,), ids)))


def _mini_weights(self):
    """W3PostingsWriter._mini_weights: None when every weight is 1, the one weight when all
    are the same, else all of them; counted in C rather than by a generator."""
    weights = self._weights
    n = len(weights)
    if weights.count(1.0) == n:
        return None
    if weights.count(weights[0]) == n:
        return weights[0]
    return tuple(weights)


def install() -> None:
    """Make Whoosh's writers build their pools as `CompressedPool`s (SegmentWriter looks the
    class up by this module-level name) and fill their posting blocks with `add_postings`
    and the quicker `_mini_ids` and `_mini_weights`."""
    writing.PostingPool = CompressedPool
    W3FieldWriter.add_postings = add_postings
    W3PostingsWriter._mini_ids = _mini_ids
    W3PostingsWriter._mini_weights = _mini_weights
