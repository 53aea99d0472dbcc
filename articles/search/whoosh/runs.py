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

`install()` makes every Whoosh writer of the process (and of the processes it forks) do so.
"""

import gzip
import io
import itertools
import os
import pickle

import whoosh.writing as writing
from whoosh.codec.whoosh3 import W3FieldWriter
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


_add_postings = W3FieldWriter.add_postings


def _add_postings_with_sliced_lengths(self, schema, lengths, items):
    return _add_postings(self, schema, SliceLengths(lengths) if lengths else lengths, items)


def install() -> None:
    """Make Whoosh's writers build their pools as `CompressedPool`s (SegmentWriter looks the
    class up by this module-level name) and read field lengths by slices."""
    writing.PostingPool = CompressedPool
    W3FieldWriter.add_postings = _add_postings_with_sliced_lengths
