"""A large segment's long posting lists, decoded once into flat arrays on disk.

Whoosh stores a posting list as blocks of 128 postings, each a zlib-compressed pickle read
with a header of its own: about 30-50 microseconds a block in Python. A word most reports
hold has hundreds of blocks in a segment of 50,000, so a 20-word claim read 20-60 ms of
blocks per word and field in a worker that had not read them yet (every worker after a
start, a rebuild or a merge). Here, when the archive writes a segment of at least
MIN_SEGMENT_DOCS documents (a rebuild's, a large import's), it writes beside it the posting
lists of the scored fields holding at least MIN_DOCS documents, and of every entity, as
three files named after the segment (`articles_v7_<id>.arrays.*`: the pattern of Whoosh's
own segment files, so that Whoosh deletes them with their segment when it cleans up after a
commit):

- `.arrays.ids.npy`: document numbers (int32), list after list;
- `.arrays.tf.npy`: the term's frequency in each (uint16, whole numbers);
- `.arrays.pos.npy`: for the fields that keep positions (title, body, the names), each
  posting's positions of the term, ascending, list after list (uint16, or uint32 for a
  segment holding a position past 65,535): the phrases' positions (columns.py), which
  Whoosh would decode posting by posting and compare span by span in Python;
- `.arrays.terms.json`: version, the segment's document count and, per field and term,
  where its list starts, how long it is and, for a field with positions, where its
  positions start (a posting's count of them is its tf). Written last: a segment without
  it (a process killed half-way) is read from Whoosh's blocks, and its arrays are written
  again.

Every web worker maps the same files: no decoding, one copy in the page cache (and
`storage.trim()` lets a worker's read pages go past its budget). The arrays are derived
data like the rest of the index: dropped with their segment, rewritten by `rebuild_index`,
never needed for a correct answer. A segment's deletions are not in them; readers apply the
generation's live mask as they do to Whoosh's own lists.
"""

import contextlib
import json
import logging
import mmap
import os
from pathlib import Path

import numpy as np

from . import storage

logger = logging.getLogger(__name__)

VERSION = 2
#: Versions still read. The next bulk write or rebuild writes older ones again as VERSION.
READABLE = (1, 2)
#: Segments smaller than this keep Whoosh's blocks alone (a save's, a tier's merge).
MIN_SEGMENT_DOCS = 5_000
#: Lists shorter than this are a block or two of Whoosh's: cheap enough to read there.
MIN_DOCS = 256
MARK = ".arrays."
TF_MAX = np.iinfo(np.uint16).max


def _base(folder: Path, segment_id: str) -> Path:
    """`segment_id` is Whoosh's, which starts with the index's name."""
    return Path(folder) / f"{segment_id}.arrays"


class SegmentArrays:
    """The arrays of one segment, mapped read-only."""

    def __init__(self, ids, tf, terms: dict, positions, version: int, stamp: int = 0):
        # Plain arrays over the mapped files: slicing a numpy.memmap costs 10 us,
        # and a segment's entities alone are thousands of lists.
        self.ids, self.tf, self.terms = np.asarray(ids), np.asarray(tf), terms
        self.positions, self.version = np.asarray(positions), version
        self.stamp = stamp  # the table's modification time (ns) when read

    def get(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        where = self.terms.get(field, {}).get(term)
        if where is None:
            return None
        start, count = where[0], where[1]
        return self.ids[start : start + count], self.tf[start : start + count]

    def get_positions(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(documents, each one's count of positions, the positions list after list), or
        None when the term's positions are not here."""
        where = self.terms.get(field, {}).get(term)
        if where is None or len(where) < 3:
            return None
        start, count, at = where
        tf = self.tf[start : start + count]
        return self.ids[start : start + count], tf, self.positions[at : at + int(tf.sum(dtype=np.int64))]

    def covers(self, field: str) -> bool:
        return field in self.terms

    def field_terms(self, field: str) -> list[str]:
        return list(self.terms.get(field, ()))


def load(folder, segment_id: str, doc_count: int) -> SegmentArrays | None:
    """The segment's arrays, or None when there are none (or none that can be trusted)."""
    base = _base(folder, segment_id)
    try:
        with open(f"{base}.terms.json") as handle:
            stamp = os.fstat(handle.fileno()).st_mtime_ns
            table = json.load(handle)
        version = table.get("version")
        if version not in READABLE or table.get("doc_count") != doc_count:
            return None
        ids = _mapped(f"{base}.ids.npy")
        tf = _mapped(f"{base}.tf.npy")
        # Version 1 has no positions: its phrases are read from Whoosh's blocks.
        positions = _mapped(f"{base}.pos.npy") if version >= 2 else np.zeros(0, dtype=np.uint16)
    except (OSError, ValueError):
        return None
    if (
        len(ids) != table["postings"]
        or len(tf) != table["postings"]
        or len(positions) != table.get("positions", 0)
    ):
        return None
    return SegmentArrays(ids, tf, table["fields"], positions, version, stamp)


def _mapped(path: str) -> np.ndarray:
    """A one-dimensional `.npy` file as an array over a read-only map of it, the map known to
    `storage.trim()` (which lets a worker's read pages go past its budget)."""
    with open(path, "rb") as handle:
        major, _minor = np.lib.format.read_magic(handle)
        formats = np.lib.format
        read_header = formats.read_array_header_1_0 if major == 1 else formats.read_array_header_2_0
        shape, fortran, dtype = read_header(handle)
        offset = handle.tell()
        if len(shape) != 1 or fortran:
            raise ValueError(f"{path}: not a flat array")
        if offset + shape[0] * dtype.itemsize != os.fstat(handle.fileno()).st_size:
            raise ValueError(f"{path}: not a whole array")
        if shape[0] == 0:
            return np.zeros(0, dtype=dtype)
        source = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)  # open after the file closes
    storage.track(source)
    return np.frombuffer(source, dtype=dtype, count=shape[0], offset=offset)


def renewed(folder, segment_id: str, found: SegmentArrays) -> bool:
    """Whether the segment's arrays on disk were written again since `found` was read (a
    bulk write renews arrays of an older version)."""
    try:
        return os.stat(f"{_base(folder, segment_id)}.terms.json").st_mtime_ns != found.stamp
    except OSError:
        return False


def _positional(reader, field: str) -> bool:
    found = reader.schema[field].format
    return bool(found and found.supports("positions"))


class _Spool:
    """An array written a part at a time to a raw temporary file, then saved as `.npy` (its
    header, then the raw bytes a chunk at a time): a segment's arrays are hundreds of MB,
    and holding their parts and then their concatenation took a rebuild past 1.3 GB."""

    CHUNK = 1 << 22  # elements copied at a time

    def __init__(self, path: str, dtype, scratch=None):
        self.path, self.dtype = path, np.dtype(dtype)
        self.raw_path = os.path.join(scratch, os.path.basename(path)) if scratch else path
        self.raw_path += ".raw.tmp"
        self.raw = open(self.raw_path, "wb")  # closed by save() or drop()
        self.count = self.max = 0

    def add(self, array: np.ndarray) -> None:
        if len(array):
            self.max = max(self.max, int(array.max()))
            self.raw.write(np.ascontiguousarray(array, dtype=self.dtype).tobytes())
            self.count += len(array)

    def save(self, dtype=None) -> None:
        """The `.npy` file, in `dtype` (the values must fit it), through a temporary file."""
        dtype = np.dtype(dtype or self.dtype)
        self.raw.close()
        with open(f"{self.path}.tmp", "wb") as out, open(self.raw_path, "rb") as raw:
            header = {
                "descr": np.lib.format.dtype_to_descr(dtype),
                "fortran_order": False,
                "shape": (self.count,),
            }
            np.lib.format.write_array_header_1_0(out, header)
            while chunk := raw.read(self.CHUNK * self.dtype.itemsize):
                out.write(np.frombuffer(chunk, dtype=self.dtype).astype(dtype).tobytes())
            out.flush()
            os.fsync(out.fileno())
        os.replace(f"{self.path}.tmp", self.path)
        self.drop()

    def drop(self) -> None:
        self.raw.close()
        with contextlib.suppress(OSError):
            os.remove(self.raw_path)


class ArraysWriter:
    """A segment's arrays, written a posting list at a time (`add`), then saved (`finish`):
    by `write` from the segment's blocks, or by the bulk writer from the lists it writes
    (bulk.py), which then leaves the rest of the fields to `write`."""

    def __init__(self, folder, segment_id: str, scratch=None):
        """`scratch`: a folder for the parts until `finish` (the index's folder by default;
        a writer's temporary folder while Whoosh still assembles the segment's files, which
        takes every file named after the segment)."""
        self.base = _base(folder, segment_id)
        self.table: dict[str, dict[str, list[int]]] = {}
        self.ids = _Spool(f"{self.base}.ids.npy", np.int32, scratch)
        self.tf = _Spool(f"{self.base}.tf.npy", np.uint16, scratch)
        self.positions = _Spool(f"{self.base}.pos.npy", np.uint32, scratch)
        #: the fields whose lists have all been added
        self.done: set[str] = set()

    def add(self, field: str, term: str, found, weights, where=None) -> None:
        """A list: its documents, their weights (the term's frequency) and, for a field
        with positions, the positions list after list (a posting's count is its weight)."""
        entry = self.table.setdefault(field, {})[term] = [self.ids.count, len(found)]
        if where is not None and len(weights) and weights.max() <= TF_MAX:
            entry.append(self.positions.count)
            self.positions.add(where)
        self.ids.add(found)
        self.tf.add(np.minimum(weights, TF_MAX))

    def finish(self, doc_count: int) -> int:
        """Save the arrays, the table last; returns the number of postings written."""
        try:
            self.ids.save()
            self.tf.save()
            found = self.positions
            found.save(np.uint16 if found.max <= np.iinfo(np.uint16).max else np.uint32)
        finally:
            self.drop()
        header = {
            "version": VERSION,
            "doc_count": doc_count,
            "postings": self.ids.count,
            "positions": self.positions.count,
            "fields": self.table,
        }
        with open(f"{self.base}.terms.json.tmp", "w") as handle:
            json.dump(header, handle, separators=(",", ":"))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(f"{self.base}.terms.json.tmp", f"{self.base}.terms.json")
        return self.ids.count

    def drop(self) -> None:
        for spool in (self.ids, self.tf, self.positions):
            spool.drop()


def write(folder, reader, fields: dict[str, int], postings_of, positions_of, started=None) -> int:
    """Write the arrays of `reader`'s segment (a SegmentReader): for each field, the lists
    of at least `fields[field]` documents, read with `postings_of(matcher)`, and for a field
    with positions, with `positions_of(matcher)` (documents, counts, positions); the fields
    `started` (an ArraysWriter of the segment) has done already are not read again.
    Returns the number of postings written. Temporary files first, the table last."""
    out = started or ArraysWriter(folder, reader.segment().segment_id())
    try:
        for field, min_docs in fields.items():
            if field in out.done or field not in reader.schema or not reader.schema[field].indexed:
                continue
            out.table.setdefault(field, {})
            positional = _positional(reader, field)
            for text, info in reader.iter_field(field):
                if info.doc_frequency() < min_docs:
                    continue
                term = text.decode() if isinstance(text, bytes) else text
                if positional:
                    found, counts, where = positions_of(reader.postings(field, text))
                    out.add(field, term, found, counts, where)
                else:
                    found, weights = postings_of(reader.postings(field, text))
                    out.add(field, term, found, weights)
    except BaseException:
        out.drop()
        raise
    return out.finish(reader.doc_count_all())


def remove_others(folder, keep: set[str]) -> None:
    """Delete the arrays of segments not in `keep` (Whoosh's cleaning may have left them:
    it skips files another process holds open) and temporary files left by a writer that
    died (the writer lock is held)."""
    for name in os.listdir(folder):
        if MARK not in name:
            continue
        segment_id = name.split(MARK)[0]
        if segment_id not in keep or name.endswith(".tmp"):
            with contextlib.suppress(OSError):
                os.remove(Path(folder) / name)
