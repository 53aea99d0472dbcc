"""Compound segments read in place, through their memory map.

whoosh-reloaded 2.7.5 opens each file inside a compound segment (the term table, the
postings, the columns) as a `BufferFile`, whose `BytesIO` copies the bytes out of the
segment's memory map: every process holding a searcher kept a private copy of the whole
index (at 100,000 reports, opening one searcher took a process from 22 MB to 1,411 MB, and
each web worker held 1.8 GB). `MappedFile` reads the same bytes through the map, so they stay
in the page cache, shared by every process, and are read only where a search needs them.
"""

import whoosh.filedb.compound as compound
from whoosh.filedb.structfile import BufferFile


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
        self.file = _View(memoryview(buf))


def install() -> None:
    """Make compound segments open their files as `MappedFile`s (Whoosh's CompoundStorage
    builds them by this module-level name)."""
    compound.BufferFile = MappedFile
