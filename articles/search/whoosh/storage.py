"""Compound segments read in place, through their memory map.

whoosh-reloaded 2.7.5 opens each file inside a compound segment (the term table, the
postings, the columns) as a `BufferFile`, whose `BytesIO` copies the bytes out of the
segment's memory map: every process holding a searcher kept a private copy of the whole
index (at 100,000 reports, opening one searcher took a process from 22 MB to 1,411 MB, and
each web worker held 1.8 GB). `MappedFile` reads the same bytes through the map, so they stay
in the page cache, shared by every process, and are read only where a search needs them.

A mapped page a process has read counts in its resident set until the map is closed, and
the kernel's out-of-memory killer counts it as the process's own. At 100,000 reports each web
worker showed 750-800 MB after a minute of load, 150 MB of it its own memory: the rest were
pages of the index it had once read (every article page's related reports look up its 300
words in each segment's term table). `trim()`, called after each request, lets a process's
mapped index pages go once its mapped files pass `MAPPED_BUDGET_MB` (`madvise(MADV_DONTNEED)`:
the pages stay in the page cache for every process, and the next read of one maps it again
without touching the disk).
"""

import mmap
import os
import threading
import weakref

import whoosh.filedb.compound as compound
from whoosh.filedb.structfile import BufferFile

#: Pages of mapped files (the index's and the libraries') a process keeps before it lets the
#: index's go: a web worker's resident set is its own memory plus at most this, plus what
#: the request in hand reads.
MAPPED_BUDGET_MB = 96

#: The memory maps of every index file this process has open (segments, posting arrays).
_maps: "weakref.WeakSet[mmap.mmap]" = weakref.WeakSet()
_maps_lock = threading.Lock()
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_HAS_MADVISE = hasattr(mmap, "MADV_DONTNEED") and hasattr(mmap.mmap, "madvise")


def track(source) -> None:
    """Let `trim()` release this map's pages: a read-only map of a file (MADV_DONTNEED on a
    private or anonymous map would throw its contents away)."""
    if isinstance(source, mmap.mmap):
        with _maps_lock:
            _maps.add(source)


def mapped_mb() -> float | None:
    """This process's resident pages of mapped files and shared memory (MB), from
    /proc/self/statm; None where there is no such file."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            shared = int(statm.read().split()[2])
    except (OSError, ValueError, IndexError):
        return None
    return shared * _PAGE / (1 << 20)


def trim(budget_mb: float | None = None) -> bool:
    """Release the index's mapped pages from this process when its mapped files hold more
    than `budget_mb` (default MAPPED_BUDGET_MB). Whether it did."""
    if not _HAS_MADVISE or not _maps:
        return False
    found = mapped_mb()
    if found is None or found <= (MAPPED_BUDGET_MB if budget_mb is None else budget_mb):
        return False
    with _maps_lock:
        sources = list(_maps)
    for source in sources:
        try:
            source.madvise(mmap.MADV_DONTNEED)
        except (ValueError, OSError):
            pass  # closed meanwhile: its pages went with it
    return True


class _View:
    """The file interface `StructFile` and `pickle` use, over a memoryview, without copying it."""

    def __init__(self, view: memoryview):
        self.view, self.pos, self.size = view, 0, len(view)

    def read(self, n: int = -1) -> bytes:
        end = self.size if n is None or n < 0 else min(self.pos + n, self.size)
        data = self.view[self.pos : end].tobytes()
        self.pos = end
        return data

    def peek(self, n: int = 0) -> memoryview:
        """Up to `n` bytes ahead, not consumed, as a view of the map (no copy). `pickle.load`
        looks ahead with it and then reads only what it used: without it, it read a few
        bytes at a time, about 19 reads per posting block's header."""
        return self.view[self.pos : min(self.pos + max(n, 1), self.size)]

    def readline(self, limit: int = -1) -> bytes:
        start = self.pos
        end = self.size if limit is None or limit < 0 else min(self.pos + limit, self.size)
        while self.pos < end:
            chunk = self.view[self.pos : min(self.pos + 256, end)].tobytes()
            newline = chunk.find(b"\n")
            if newline >= 0:
                self.pos += newline + 1
                break
            self.pos += len(chunk)
        return self.view[start : self.pos].tobytes()

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = offset if whence == 0 else self.pos + offset if whence == 1 else self.size + offset
        return self.pos

    def tell(self) -> int:
        return self.pos

    def close(self) -> None:
        pass  # the map belongs to the segment's CompoundStorage


class MappedFile(BufferFile):
    """A file of a compound segment, read from the segment's memory map."""

    def __init__(self, buf, name=None, onclose=None):
        super().__init__(b"", name=name, onclose=onclose)
        self._buf = buf
        view = memoryview(buf)
        track(view.obj)  # the segment's map
        self.file = _View(view)


def install() -> None:
    """Make compound segments open their files as `MappedFile`s (Whoosh's CompoundStorage
    builds them by this module-level name)."""
    compound.BufferFile = MappedFile
