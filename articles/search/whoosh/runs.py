"""Whoosh's posting runs, compressed.

A writer sorts its postings (field, word, document, weight, positions) in memory up to its
`limitmb`, writes each sorted batch to a temporary "run" file of pickled tuples, and merges
the runs into the segment when it commits. Uncompressed, the runs of a rebuild at 100,000
reports filled 13 GB of the index directory for an index of 718 MB. Sorted postings repeat
themselves (the same field and word, nearby document numbers, the same few weights): zlib
at level 1 writes a run in about a eighteenth of the space at 180 MB/s (measured on one of
those runs: 77 MB to 4 MB), and reading it back costs less than reading 18 times the bytes.

`install()` makes every Whoosh writer of the process (and of the processes it forks)
use `CompressedPool`.
"""

import gzip
import io
import os

import whoosh.writing as writing
from whoosh.util import random_name

#: zlib level of the runs: 1 is the fastest, and the runs compress nearly as well as at 6.
LEVEL = 1
BUFFER = 1 << 20


class CompressedPool(writing.PostingPool):
    """Whoosh's PostingPool, with its runs written and read through gzip."""

    def _path(self, name: str) -> str:
        return os.path.join(self.tempstore.folder, name)

    # Pickle writes and reads each posting in a few small calls: a buffer in C between it
    # and gzip's Python methods. Reading, pickle peeks at what the buffer holds for every
    # posting (a copy): a small buffer there, as an ordinary file has.
    def _new_run(self):
        name = f"{random_name()}.run"
        return name, io.BufferedWriter(gzip.open(self._path(name), "wb", compresslevel=LEVEL), BUFFER)

    def _open_run(self, name):
        return io.BufferedReader(gzip.open(self._path(name), "rb"), io.DEFAULT_BUFFER_SIZE)


def install() -> None:
    """Make Whoosh's writers build their pools as `CompressedPool`s (SegmentWriter looks the
    class up by this module-level name)."""
    writing.PostingPool = CompressedPool
