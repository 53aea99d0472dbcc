"""The Whoosh engine: an index in a directory of files, one writer at a time.

Readers keep one searcher per process and refresh it only when the index has changed,
reopening only the segments that are new (reopening costs far more than a query). A single
save commits its own small segment and is searchable at that commit; a thread then merges
small segments outside the writer lock, so no save waits for a merge (merge_small_segments).
Writers serialise on an OS file lock, so two web workers and an import running at once all
wait their turn instead of failing with Whoosh's LockError; a reader that opens the index
while a writer commits retries instead of failing.
"""

import contextlib
import copy
import fcntl
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from django.core.signals import request_finished
from whoosh import index
from whoosh import query as wq
from whoosh.classify import Bo1Model
from whoosh.reading import EmptyReader, MultiReader, SegmentReader
from whoosh.searching import Searcher
from whoosh.writing import CLEAR, SegmentWriter

from .. import query as q
from ..base import IndexUnavailable, SearchBackend
from ..schema import (
    NO_DATE,
    PREFIX_FIELD,
    PREFIX_LENGTH,
    QUERY_FIELDS,
    SCHEMA_VERSION,
    TEXT_FIELD,
    TITLE_REPEAT,
    id_field,
)
from . import arrays, vocabulary
from .analysis import SPELLING_PATTERN, TOKEN_PATTERN, TokenCache, build_schema
from .bulk import BulkSegmentWriter
from .columns import Columns, _positions_of, _postings_of
from .highlight import snippets
from .parallel import ParallelWriter
from .ranking import top, weighting, word_scores
from .runs import install as compress_posting_runs
from .selection import WhooshSelection
from .storage import install as read_segments_in_place
from .storage import trim
from .translate import Translator

logger = logging.getLogger(__name__)
read_segments_in_place()
compress_posting_runs()


def _let_mapped_pages_go(sender, **kwargs):
    trim()  # a web worker's resident set: its own memory and MAPPED_BUDGET_MB (storage.py)


request_finished.connect(_let_mapped_pages_go, dispatch_uid="whoosh-trim-mapped-pages")

INDEX_NAME = f"articles_v{SCHEMA_VERSION}"
LOCK_FILE = "archive-writer.lock"
LOCK_TIMEOUT = 300.0
OPEN_RETRIES = 8
#: Processes that analyse documents in a rebuild or a large drain (the machine's cores, up to 4).
PROCS = min(4, os.cpu_count() or 1)
#: Memory each writing process may use for its buffers before it writes a run to disk.
LIMIT_MB = 128
#: Saves' small segments merge by tiers (1-3 documents, 4-15, 16-63, ...): MERGE_FACTOR
#: segments of one tier become one of the next, so a saved document is rewritten about
#: once per tier, at most MERGE_FACTOR - 1 segments wait in each tier, and no merge after a
#: save rewrites more than MERGE_FACTOR segments of under MERGE_MAX_DOCS documents each.
MERGE_FACTOR = 4
MERGE_MAX_DOCS = 1024
#: Held by the process that merges saves' segments; one merge at a time over all processes.
MERGE_LOCK_FILE = "archive-merge.lock"
#: A merge writes its segment under this name until it joins the index (see _MergeTarget).
MERGE_PREFIX = "merging_"
#: How long closing a backend waits for its merging thread.
MERGE_JOIN_TIMEOUT = 60.0


def tiered_merge(segments) -> tuple[list, list]:
    """A merge policy for single saves, after Lucene's LogDocMergePolicy: which segments to
    merge into one, and which to drop. The lowest tier holding MERGE_FACTOR segments merges,
    with the tiers below it (fewer than MERGE_FACTOR segments each). Segments whose documents
    are all deleted are dropped; segments of MERGE_MAX_DOCS documents or more (a rebuild's,
    or a tier's end) are left as they are until the next rebuild. Whoosh's MERGE_SMALL
    instead merged everything under a Fibonacci bound and now and then rewrote thousands of
    documents while a curator's next save waited for the writer lock."""
    dropped, tiers = [], {}
    for segment in segments:
        live = segment.doc_count()
        if live == 0:
            dropped.append(segment)  # nothing left to read: dropped without a merge
            continue
        if live >= MERGE_MAX_DOCS:
            continue
        tier = 0
        while live >= MERGE_FACTOR ** (tier + 1):
            tier += 1
        tiers.setdefault(tier, []).append(segment)
    full = [tier for tier, members in tiers.items() if len(members) >= MERGE_FACTOR]
    merged = []
    if full:
        top = min(full)
        merged = [segment for tier in sorted(tiers) if tier <= top for segment in tiers[tier]]
    return merged, dropped


class _MergeTarget:
    """What Whoosh's SegmentWriter reads of an index (its storage, name and table of
    contents), with another name for the files it writes. Every Whoosh commit deletes the
    files named like this index's segments that its table of contents does not list: a
    merge that writes while saves commit must write files no commit will take for its own."""

    def __init__(self, ix, toc):
        self.storage, self.indexname, self._toc = ix.storage, MERGE_PREFIX + INDEX_NAME, toc

    def _read_toc(self):
        return self._toc


def _reader_of(storage, schema, segment, generation, previous: dict):
    """A reader of `segment`: a copy of the reader in `previous` of the same segment (the
    segment's files never change; only its deletions do, held by the new `segment`), or a
    newly opened one."""
    old = previous.get(segment.segment_id())
    if old is None or not hasattr(old, "_perdoc") or not hasattr(old._perdoc, "_segment"):
        return SegmentReader(storage, schema, segment, generation=generation)
    reader = copy.copy(old)
    reader._perdoc = copy.copy(old._perdoc)
    reader._segment = reader._perdoc._segment = segment
    reader._gen = generation
    for klass in type(reader).__mro__:  # values computed from the old deletions
        for name, attribute in vars(klass).items():
            if "cached_property" in type(attribute).__name__:
                reader.__dict__.pop(name, None)
    return reader


class WhooshBackend(SearchBackend):
    def __init__(self, path: Path | str):
        self.path = Path(path)
        from articles.kinds import KINDS

        self.kinds = list(KINDS)
        self.schema = build_schema(QUERY_FIELDS, [id_field(kind) for kind in self.kinds])
        self._words = TokenCache(self.schema["body"].analyzer, TOKEN_PATTERN)
        self._spelling = TokenCache(self.schema["spell"].analyzer, SPELLING_PATTERN)
        self._lock = threading.RLock()
        #: held by whatever reads the index: a process's threads share Whoosh's file handles
        self.io_lock = self._lock
        self._ix = None
        self._searcher = None
        self._columns = None
        self._held = threading.local()
        #: The thread merging saves' segments after their commits, and whether it should
        #: look again before it stops (a save committed while it was merging).
        self._merging = threading.Lock()
        self._merger = None
        self._merge_wanted = False

    @classmethod
    def from_settings(cls, settings) -> "WhooshBackend":
        return cls(settings.ARCHIVE_INDEX_DIR)

    # ---------------------------------------------------------------- reading

    def exists(self) -> bool:
        # A table of contents of this schema version is there (whoosh's exists_in would
        # open and unpickle it on every call).
        return any(self.path.glob(f"_{INDEX_NAME}_*.toc"))

    def readable(self) -> bool:
        try:
            self._open_index()
        except (IndexUnavailable, OSError, index.IndexError):
            return False
        return True

    def _open_index(self):
        """The index, or IndexUnavailable when it cannot be read by this code (its schema
        names classes of an older version): `rebuild_index` replaces it."""
        try:
            return index.open_dir(str(self.path), indexname=INDEX_NAME)
        except (ImportError, AttributeError, EOFError, ValueError) as exc:
            raise IndexUnavailable(
                f"the search index was written by another version ({exc}); rebuild it"
            ) from exc

    def close(self):
        self.settle(MERGE_JOIN_TIMEOUT)
        with self._lock:
            if self._searcher is not None:
                self._searcher.close()
            self._searcher = None
            self._ix = None

    def _weighting(self):
        return weighting()

    def _open_searcher(self):
        """The process's searcher, refreshed when the index changed since it was opened."""
        last_error = None
        for attempt in range(OPEN_RETRIES):
            try:
                if self._searcher is None:
                    if not self.exists():
                        raise IndexUnavailable("the search index has not been built yet")
                    self._ix = self._open_index()
                    self._set_searcher(self._ix.searcher(weighting=self._weighting()))
                elif not self._searcher.up_to_date():
                    self._set_searcher(self._refreshed_searcher())
                return self._searcher
            except IndexUnavailable:
                raise
            except (OSError, index.IndexError) as exc:
                # A writer was committing: the generation we listed has just been replaced.
                last_error = exc
                self._searcher = None
                time.sleep(0.02 * (attempt + 1))
        raise IndexUnavailable(f"the search index could not be opened: {last_error}")

    def _refreshed_searcher(self):
        """A searcher of the newest generation that reuses this process's readers of the
        segments it still holds, so that a save costs each web worker the opening of its new
        segment, not of all of them (15-40 ms at 15k reports; a reader of a compound segment
        copies its term table on opening).

        Not Whoosh's `searcher.refresh()`: in whoosh-reloaded 2.7.5 its reader reuse keeps the
        segments a merge dropped, keys readers on segment ids though a segment's deletions
        change under the same id, and closes readers an older searcher may still be using.
        A segment's deletions live on its `Segment` object, read from the table of contents:
        a reused reader is a shallow copy pointing at the new one. Readers are never closed
        here (an older searcher may still answer); their files close when the last one goes.
        """
        toc = index.TOC.read(self._ix.storage, INDEX_NAME, schema=self.schema)
        previous = {}
        for leaf, _ in self._searcher.reader().leaf_readers():
            if isinstance(leaf, SegmentReader) and not leaf.is_closed:
                previous[leaf.segment().segment_id()] = leaf
        readers = [
            _reader_of(self._ix.storage, self.schema, segment, toc.generation, previous)
            for segment in toc.segments
        ]
        if not readers:
            reader = EmptyReader(self.schema)
        elif len(readers) == 1:
            reader = readers[0]
        else:
            reader = MultiReader(readers, generation=toc.generation)
        return Searcher(reader, fromindex=self._ix, weighting=self._weighting())

    def _set_searcher(self, searcher):
        # The searcher replaced is not closed here: a selection made from it may still be
        # answering; it closes when the last of them lets it go.
        columns = Columns(searcher, self.kinds, self.path)
        self._searcher, self._columns = searcher, columns

    # ------------------------------------------------------------ query planning

    def translator(self, searcher) -> Translator:
        return Translator(self.schema, searcher.reader())

    def suggest(self, searcher, q_text: str, words: list[str], names=None) -> str | None:
        """The query with each word that matches nothing replaced by the closest word of the
        archive's vocabulary, or None when every word matches something."""
        reader = searcher.reader()
        translator = Translator(self.schema, reader)
        replacements = {}
        for word in q.correctable(words, names):
            terms = translator.terms_of(word)
            if not terms or any(reader.doc_frequency(f, t) for t in terms for f in QUERY_FIELDS):
                continue
            # The vocabulary keeps the words of deleted documents (an unpublished report)
            # until their segment is merged: offer only words a live document still holds.
            live = (
                s
                for s in self._closest_words(reader, word.lower())
                if not searcher.search(wq.Term("spell", s), limit=1).is_empty()
            )
            suggestion = next(live, None)
            if suggestion:
                replacements[word] = suggestion
        return q.corrected(q_text, replacements)

    @staticmethod
    def _closest_words(reader, word: str, limit: int = 5) -> list[str]:
        """The words of the spelling vocabulary within two edits of `word` that share its
        first letter, closest first, then the most frequent. (Whoosh's corrector walks the
        term dictionary with an automaton in Python, 0.1-0.3 s per word at 5,000 reports; its
        ranking also ignores the distance, against its own documentation.)"""
        near = vocabulary.within(reader, "spell", word, 2)
        near.pop(word, None)
        frequency = {w: reader.doc_frequency("spell", w) for w in near}
        return sorted(near, key=lambda w: (near[w], -frequency[w], w))[:limit]

    def select(self, criteria, *, names=None) -> WhooshSelection:
        with self._lock:
            searcher, columns = self._open_searcher(), self._columns
        return WhooshSelection(self, searcher, columns, criteria, names)

    def highlight(
        self, q_text: str, texts: dict[int, str], *, length: int = 300, names=None
    ) -> dict[int, str]:
        plan = q.parse(q_text, names)
        with self._lock:
            searcher = self._open_searcher()
            built, _ = self.translator(searcher).build(plan)
        terms = set()
        for leaf in built.leaves():
            if isinstance(leaf, wq.Term) and leaf.fieldname in (*QUERY_FIELDS, TEXT_FIELD):
                terms.add(leaf.text)
            elif isinstance(leaf, wq.Phrase) and leaf.fieldname in QUERY_FIELDS:
                terms.update(leaf.words)
        if not terms:
            return {}
        return snippets(texts, terms, length=length)

    def more_like_this(self, pk: int, *, text: str, limit: int = 5) -> list[int]:
        with self._lock:
            searcher = self._open_searcher()
            docnum = searcher.document_number(pk=str(pk))
            if docnum is None:
                return []
            # Whoosh's more_like (Bo1 key terms of the text, ORed and scored), with the OR
            # scored as arrays over the terms' posting lists, as word queries are: the same
            # ranking, without Whoosh's matcher tree stepping through every candidate.
            key_terms = searcher.key_terms_from_text("body", text, numterms=12, model=Bo1Model)
            columns = self._columns
            scores = word_scores(searcher, columns, [("body", word, weight) for word, weight in key_terms])
            candidates = np.flatnonzero((scores > 0) & columns.live & (columns.pk != pk))
            return [int(columns.pk[d]) for d in top(scores, candidates, limit)]

    def stamps(self) -> dict[int, str]:
        with self._lock:
            searcher = self._open_searcher()
            return {int(f["pk"]): f.get("stamp", "") for f in searcher.all_stored_fields()}

    def doc_count(self) -> int:
        with self._lock:
            return self._open_searcher().doc_count()

    # ---------------------------------------------------------------- writing

    @contextlib.contextmanager
    def writer_lock(self):
        # Re-entrant within a thread (drain holds it around several writes); exclusive
        # across threads and processes through flock on a file of the index directory.
        if getattr(self._held, "depth", 0):
            self._held.depth += 1
            try:
                yield
            finally:
                self._held.depth -= 1
            return
        self.path.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + LOCK_TIMEOUT
        with open(self.path / LOCK_FILE, "a+") as handle:
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise IndexUnavailable("timed out waiting for another index writer") from None
                    time.sleep(0.05)
            self._held.depth = 1
            try:
                yield
            finally:
                self._held.depth = 0
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _fields(self, doc: dict) -> dict:
        fields = {
            "pk": str(doc["pk"]),
            "pk_number": doc["pk"],
            "stamp": doc["stamp"],
            "language": doc["language"],
            "date": doc.get("date", NO_DATE),
        }
        fields.update({name: doc.get(name, "") for name in QUERY_FIELDS})
        # The title and the body are analysed once, not once for each field that holds them,
        # and token by token from a cache (analysis.TokenCache): the analysis was a third of
        # a rebuild's time, and the body went through it three times.
        texts = [fields[name] for name in QUERY_FIELDS]
        title_tokens, body_tokens = self._words.tokens(fields["title"]), self._words.tokens(fields["body"])
        title, body = self._words.words_of(title_tokens), self._words.words_of(body_tokens)
        fields["title"], fields["body"] = title, body
        fields[TEXT_FIELD] = title * TITLE_REPEAT + body
        fields[PREFIX_FIELD] = [word[:PREFIX_LENGTH] for word in fields[TEXT_FIELD]]
        spell = doc.get("spell")
        if not spell or spell == " ".join(texts):
            # The spelling words of the title and body from the tokens just split (each of
            # TOKEN_PATTERN's tokens is words of SPELLING_PATTERN joined by dots): the text is
            # not split again, then the names'.
            names = " ".join(doc.get(name, "") for name in QUERY_FIELDS if name not in ("title", "body"))
            fields["spell"] = [
                *self._spelling.words_of(title_tokens),
                *self._spelling.words_of(body_tokens),
                *self._spelling.words(names),
            ]
        else:
            fields["spell"] = self._spelling.words(spell)
        for kind in self.kinds:
            fields[id_field(kind)] = " ".join(str(i) for i in doc.get(id_field(kind), ()))
        return fields

    def _indexed_pks(self) -> set[int]:
        """The pks of the documents in the index now (the writer lock is held)."""
        with self._lock:
            self._open_searcher()
            columns = self._columns
            return set(columns.pk[columns.live].tolist()) if columns.n else set()

    def _writer(self, ix, *, bulk: bool):
        if bulk and PROCS > 1:
            # Several processes analyse the documents; their segments join the index as
            # they are (multisegment), with no single-threaded merge at the end. Each is
            # given the documents as read from the database and analyses them itself
            # (`prepare`), and writes its segment's posting arrays (`written`) before the
            # commit: the parent only reads the database.
            subargs = {
                "limitmb": LIMIT_MB,
                "prepare": self._fields,
                "written": self._segment_written,
                "arrays": self._array_fields(),
            }
            return ParallelWriter(ix, procs=PROCS, multisegment=True, limitmb=LIMIT_MB, subargs=subargs)
        if bulk:
            return BulkSegmentWriter(
                ix,
                prepare=self._fields,
                written=self._segment_written,
                arrays=self._array_fields(),
                timeout=LOCK_TIMEOUT,
                limitmb=LIMIT_MB,
            )
        return ix.writer(timeout=LOCK_TIMEOUT, limitmb=LIMIT_MB)

    def write(self, *, upsert: Iterable[dict], delete: Iterable[int] = (), bulk: bool = False) -> None:
        delete = list(delete)
        with self.writer_lock():
            if not self.exists():
                # The caller keeps its queued work: `drain` builds the index first.
                raise IndexUnavailable("the search index has not been built yet")
            # In bulk, a new document is added and only one already indexed is replaced
            # (update_document looks each one up). A few documents are simply replaced:
            # reading which pks are indexed would refresh this process's searcher and
            # its columns for every save (a third of a save's time, profiled at 15k).
            indexed = self._indexed_pks() if bulk else None
            ix = self._open_index()
            writer = self._writer(ix, bulk=bulk)
            written = 0
            try:
                for pk in delete:
                    if indexed is None or pk in indexed:
                        writer.delete_by_term("pk", str(pk))
                for doc in upsert:
                    if not bulk:
                        writer.update_document(**self._fields(doc))
                    else:
                        # What update_document does, with the document analysed where it
                        # is written (bulk.py).
                        if doc["pk"] in indexed:
                            writer.delete_by_term("pk", str(doc["pk"]))
                        writer.add_document(**doc)
                    written += 1
            except BaseException:
                writer.cancel()
                raise
            if not (written or delete):
                writer.cancel()
            elif bulk:
                writer.commit()
                self._write_arrays()
            else:
                # The change is searchable at this commit; merging follows in another
                # thread and never holds the save up (see merge_small_segments).
                writer.commit(merge=False)
                self._merge_later()

    def _merge_later(self):
        """Start this process's merging thread, or tell the running one to look again."""
        with self._merging:
            self._merge_wanted = True
            if self._merger is None:
                merger = threading.Thread(target=self._merge_while_wanted, name="index-merge", daemon=True)
                self._merger = merger
                merger.start()

    def _merge_while_wanted(self):
        while True:
            with self._merging:
                if not self._merge_wanted:
                    self._merger = None
                    return
                self._merge_wanted = False
            try:
                while self.merge_small_segments():
                    pass
            except Exception:
                # Every save is in the index already; the merge is tried again after the next.
                logger.exception("merging small index segments failed")

    def settle(self, timeout: float | None = None) -> bool:
        """Wait until this process's merging thread has stopped; False if it still runs."""
        merger = self._merger
        if merger is not None:
            merger.join(timeout)
            return not merger.is_alive()
        return True

    def merge_small_segments(self) -> bool:
        """Merge saves' small segments by `tiered_merge`; True if the index changed.

        A merge of a few dozen documents takes a second or more (Whoosh rewrites every term
        of every document), so it is not done under the writer lock, where saves would wait
        for it: the merged segment is written beside the index under a name of its own
        (_MergeTarget), from the segments as a table of contents listed them, while saves
        go on committing. Then, under the writer lock for a few milliseconds, it replaces its
        sources in the newest table of contents, with the documents that saves deleted from
        the sources meanwhile deleted in it too. If a rebuild replaced the sources, the
        merge is thrown away. One process merges at a time (a lock file); a process that
        dies while merging leaves files no table of contents lists, removed by the next merge.
        """
        if not self.exists():
            return False
        with open(self.path / MERGE_LOCK_FILE, "a+") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # another process merges, and looks again until nothing is left
            ix = self._open_index()
            toc = index.TOC.read(ix.storage, INDEX_NAME, schema=self.schema)
            self._remove_unlisted_merges(toc.segments)
            merged, dropped = tiered_merge(toc.segments)
            if not (merged or dropped):
                return False
            before = {s.segment_id(): set(s.deleted_docs()) for s in merged}
            try:
                # Opened at once: a commit (a rebuild's) may delete their files from here on,
                # and what is open stays readable.
                readers = [SegmentReader(ix.storage, self.schema, segment) for segment in merged]
            except FileNotFoundError:
                return False  # already replaced by a commit since the table of contents was read
            try:
                new, renumbered = self._merged_segment(toc, ix, merged, readers) if merged else (None, {})
            except BaseException:
                self._remove_unlisted_merges(toc.segments)  # what the merge had written
                raise
            finally:
                for reader in readers:
                    reader.close()
            with self.writer_lock():
                writer = ix.writer(timeout=LOCK_TIMEOUT, limitmb=LIMIT_MB)
                try:
                    current = {s.segment_id(): s for s in writer.segments}
                    if not {s.segment_id() for s in merged + dropped} <= set(current):
                        writer.cancel()  # a rebuild replaced the segments meanwhile
                        self._remove_unlisted_merges(current.values())
                        return False
                    for segment_id, deleted in before.items():
                        for docnum in set(current[segment_id].deleted_docs()) - deleted:
                            new.delete_document(renumbered[segment_id][docnum])
                    gone = set(before) | {s.segment_id() for s in dropped}
                    segments = [s for s in writer.segments if s.segment_id() not in gone]
                    if new is not None:
                        segments.append(new)
                except BaseException:
                    writer.cancel()
                    raise
                writer.commit(mergetype=lambda _writer, _segments: segments)
            self._remove_unlisted_merges(segments)
            return True

    def _merged_segment(self, toc, ix, merged, readers):
        """One new segment holding the live documents of `merged` (as `toc` lists them, read
        through `readers`), written under the merge's own name, and each source's document
        numbers in it."""
        writer = SegmentWriter(_MergeTarget(ix, toc), _lk=False, limitmb=LIMIT_MB)
        renumbered = {}
        try:
            for segment, reader in zip(merged, readers, strict=True):
                deleted = set(segment.deleted_docs())
                live = [docnum for docnum in range(segment.doc_count_all()) if docnum not in deleted]
                first = writer.docnum
                renumbered[segment.segment_id()] = {docnum: first + i for i, docnum in enumerate(live)}
                writer.add_reader(reader)  # copies the live documents, in order
            new = writer._finalize_segment()
        except BaseException:
            writer._close_segment()
            raise
        finally:
            writer._tempstorage.destroy()
        return new, renumbered

    def _remove_unlisted_merges(self, segments):
        """Remove merges' files that `segments` (the index's) do not hold: merged again
        since, replaced by a rebuild, or left by a merge that did not finish. Called with
        the merge lock held, so no merge is writing."""
        listed = {s.segment_id() for s in segments}
        for name in os.listdir(self.path):
            if name.startswith(MERGE_PREFIX) and name.split(".")[0] not in listed:
                path = self.path / name
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)  # a merge's temporary directory
                else:
                    with contextlib.suppress(OSError):
                        path.unlink()

    def rebuild(self, documents: Iterable[dict], *, progress: Callable[[int], None] | None = None) -> int:
        count = 0
        with self.writer_lock():
            self.path.mkdir(parents=True, exist_ok=True)
            try:
                ix = self._open_index() if self.exists() else None
            except IndexUnavailable:
                ix = None  # unreadable by this version: replaced whole
            if ix is None:
                ix = index.create_in(str(self.path), self.schema, indexname=INDEX_NAME)
            writer = self._writer(ix, bulk=True)
            try:
                for doc in documents:
                    writer.add_document(**doc)  # analysed by the writer (bulk.py)
                    count += 1
                    if progress:
                        progress(count)
            except BaseException:
                writer.cancel()
                raise
            # CLEAR swaps the old segments for the new ones in a single commit: readers see
            # the old index until then, never a half-built one.
            writer.commit(mergetype=CLEAR)
            self._remove_other_versions()
            self._write_arrays()
        return count

    def _array_fields(self) -> dict[str, int]:
        """The fields whose posting lists the arrays hold, each with its lists' least length."""
        fields = {TEXT_FIELD: arrays.MIN_DOCS, PREFIX_FIELD: arrays.MIN_DOCS}
        fields.update({field: arrays.MIN_DOCS for field in QUERY_FIELDS})  # with positions: phrases
        fields.update({id_field(kind): 1 for kind in self.kinds})
        return fields

    def _segment_written(self, writer, segment):
        """The posting arrays of a large segment a bulk writer has just written, in the process
        that wrote it (each of a parallel writer's, at once), before the commit that adds it
        to the index. A failure is logged: `_write_arrays` after the commit tries again."""
        started = getattr(writer, "arrays_started", None)  # the lists the bulk writer wrote
        if segment.doc_count_all() < arrays.MIN_SEGMENT_DOCS:
            if started is not None:
                started.drop()
            return
        try:
            leaf = SegmentReader(writer.storage, writer.schema, segment)
            try:
                arrays.write(self.path, leaf, self._array_fields(), _postings_of, _positions_of, started)
            finally:
                leaf.close()
        except Exception:
            if started is not None:
                started.drop()
            logger.exception("writing a new segment's posting arrays failed")

    def _write_arrays(self):
        """Posting arrays (arrays.py) for the large segments that lack them, and none left
        for segments the index no longer holds. Called with the writer lock held, after a
        commit: the index is complete without them, so a failure is logged, not raised."""
        fields = self._array_fields()
        try:
            reader = self._open_index().reader()
            try:
                leaves = [leaf for leaf, _ in reader.leaf_readers() if isinstance(leaf, SegmentReader)]
                for leaf in leaves:
                    segment_id = leaf.segment().segment_id()
                    n = leaf.doc_count_all()
                    if n < arrays.MIN_SEGMENT_DOCS:
                        continue
                    found = arrays.load(self.path, segment_id, n)
                    if found is None or found.version < arrays.VERSION:
                        arrays.write(self.path, leaf, fields, _postings_of, _positions_of)
                keep = {leaf.segment().segment_id() for leaf in leaves}
                arrays.remove_others(self.path, keep)
            finally:
                reader.close()
        except Exception:
            logger.exception("writing the index's posting arrays failed")

    def _remove_other_versions(self):
        mine = re.compile(rf"^_?{re.escape(INDEX_NAME)}_")
        other = re.compile(r"^_?articles_v\d+_")
        for name in os.listdir(self.path):
            if other.match(name) and not mine.match(name):
                with contextlib.suppress(OSError):
                    os.remove(self.path / name)
