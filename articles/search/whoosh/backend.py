"""The Whoosh engine: an index in a directory of files, one writer at a time.

Readers keep one searcher per process and refresh it only when the index has changed
(reopening costs far more than a query). Writers serialise on an OS file lock, so two web
workers and an import running at once all wait their turn instead of failing with Whoosh's
LockError; a reader that opens the index while a writer commits retries instead of failing.
"""

import contextlib
import fcntl
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from whoosh import index, scoring
from whoosh import query as wq
from whoosh.collectors import TimeLimit, TimeLimitCollector
from whoosh.writing import CLEAR

from .. import query as q
from ..base import IndexUnavailable, QueryError, SearchBackend, TextMatches
from ..names import words as name_words
from ..schema import BM25_B, BM25_K1, QUERY_FIELDS, SCHEMA_VERSION
from .analysis import build_schema
from .highlight import snippets
from .translate import Translator

logger = logging.getLogger(__name__)

INDEX_NAME = f"articles_v{SCHEMA_VERSION}"
LOCK_FILE = "archive-writer.lock"
LOCK_TIMEOUT = 300.0
OPEN_RETRIES = 8


class WhooshBackend(SearchBackend):
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.schema = build_schema(QUERY_FIELDS)
        self._lock = threading.RLock()
        self._ix = None
        self._searcher = None
        self._pk_by_docnum: list[int] = []
        self._held = threading.local()

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
            raise IndexUnavailable(f"the search index was written by another version ({exc}); "
                                   "rebuild it") from exc

    def close(self):
        with self._lock:
            if self._searcher is not None:
                self._searcher.close()
            self._searcher = None
            self._ix = None

    def _weighting(self):
        return scoring.BM25F(B=BM25_B, K1=BM25_K1)

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
                    # Not searcher.refresh(): in whoosh-reloaded 2.7.5 its reader reuse
                    # keeps segments the new generation dropped, and fails on an empty one.
                    self._set_searcher(self._ix.searcher(weighting=self._weighting()))
                return self._searcher
            except IndexUnavailable:
                raise
            except (OSError, index.IndexError) as exc:
                # A writer was committing: the generation we listed has just been replaced.
                last_error = exc
                self._searcher = None
                time.sleep(0.02 * (attempt + 1))
        raise IndexUnavailable(f"the search index could not be opened: {last_error}")

    def _set_searcher(self, searcher):
        if self._searcher is not None and self._searcher is not searcher:
            with contextlib.suppress(Exception):
                self._searcher.close()
        self._searcher = searcher
        reader = searcher.reader()
        if reader.doc_count_all() == 0:  # an empty index has no columns to read
            self._pk_by_docnum = []
            return
        self._pk_by_docnum = [int(v) if v else 0 for v in reader.column_reader("pk")]

    # ------------------------------------------------------------ query planning

    def _build(self, translator: Translator, plan: q.Plan):
        """(the Whoosh query, unit queries and the minimum to match, or None)."""
        if plan.kind == "syntax":
            built = translator.node(plan.tree)
            if built is None or built is wq.NullQuery:
                raise QueryError("The query has no words to search for.")
            return built, None
        units = translator.units(plan)
        if not units:
            raise QueryError("The query has no words to search for.")
        need = q.minimum_should_match(len(units))
        if need == len(units):
            return (wq.And(units) if len(units) > 1 else units[0]), None
        return wq.Or(units), (units, need)

    def _collect(self, searcher, built) -> list[tuple[int, float]]:
        collector = TimeLimitCollector(searcher.collector(limit=None), timelimit=q.TIME_BUDGET,
                                       use_alarm=False)  # signals work in the main thread only
        try:
            searcher.search_with_collector(built, collector)
        except TimeLimit:
            raise QueryError(f"This query takes more than {q.TIME_BUDGET:g} s to answer: make it "
                             "more specific (fewer wildcards or fuzzy terms).") from None
        return [(docnum, score) for score, docnum in collector.results().top_n]

    def _run(self, searcher, plan: q.Plan):
        """Ranked (docnum, score) pairs, the Whoosh query, and the translator's notices."""
        translator = Translator(self.schema, searcher.reader())
        built, minimum = self._build(translator, plan)
        try:
            if minimum is None:
                ranked = self._collect(searcher, built)
            else:
                # Each unit's documents are read unscored, which costs far less than asking
                # Whoosh to record the matched terms of every hit.
                units, need = minimum
                per_unit = [set(searcher.docs_for_query(unit)) for unit in units]
                ranked = [(docnum, score) for docnum, score in self._collect(searcher, built)
                          if sum(docnum in docs for docs in per_unit) >= need]
        except QueryError:
            raise
        except Exception as exc:
            raise QueryError(f"The query could not be run ({exc}).") from exc
        return ranked, built, translator.notices

    def _suggest(self, searcher, q_text: str, words: list[str], names=None) -> str | None:
        """The query with each word that matches nothing replaced by the closest word of the
        archive's vocabulary, or None when every word matches something."""
        reader = searcher.reader()
        translator = Translator(self.schema, reader)
        corrector = None
        corrected, changed = q_text, False
        for word in dict.fromkeys(words):
            if not word or not word.isalpha() or len(word) < 3:
                continue
            if names and names.find([" ".join(name_words(word))]):
                continue  # a curated spelling: it matches through the name's other spellings
            terms = translator.terms_of(word)
            if not terms or any(reader.doc_frequency(f, t) for t in terms for f in QUERY_FIELDS):
                continue
            if corrector is None:
                corrector = searcher.corrector("spell")
            # The vocabulary keeps the words of deleted documents (an unpublished report)
            # until their segment is merged: offer only words a live document still holds.
            live = (s for s in corrector.suggest(word.lower(), limit=5, maxdist=2, prefix=1)
                    if not searcher.search(wq.Term("spell", s), limit=1).is_empty())
            suggestion = next(live, None)
            if suggestion:
                corrected = re.sub(rf"\b{re.escape(word)}\b", suggestion, corrected, count=1)
                changed = True
        return corrected if changed else None

    def match(self, q_text: str, *, names=None) -> TextMatches:
        plan = q.parse(q_text, names)
        with self._lock:
            searcher = self._open_searcher()
            ranked, built, notices = self._run(searcher, plan)
            if not ranked and plan.fallback is not None:
                # A pasted sentence that merely contained quotes or a colon: its words, once.
                plan = plan.fallback
                ranked, built, notices = self._run(searcher, plan)
            pk_of = self._pk_by_docnum
            pks = [pk_of[docnum] for docnum, _ in ranked]
            scores = {pk_of[docnum]: score for docnum, score in ranked}
            corrected = self._suggest(searcher, q_text, plan.words, names)
        return TextMatches(pks=pks, scores=scores, parsed=str(built), corrected=corrected,
                           notices=[*plan.notices, *notices])

    def highlight(self, q_text: str, texts: dict[int, str], *, length: int = 300,
                  names=None) -> dict[int, str]:
        plan = q.parse(q_text, names)
        with self._lock:
            translator = Translator(self.schema, self._open_searcher().reader())
            built, _ = self._build(translator, plan)
        terms = set()
        for leaf in built.leaves():
            if isinstance(leaf, wq.Term) and leaf.fieldname in QUERY_FIELDS:
                terms.add(leaf.text)
            elif isinstance(leaf, wq.Phrase) and leaf.fieldname in QUERY_FIELDS:
                terms.update(leaf.words)
        if not terms:
            return {}
        return snippets(texts, terms, self.schema["body"].analyzer, length=length)

    def more_like_this(self, pk: int, *, text: str, limit: int = 5) -> list[int]:
        with self._lock:
            searcher = self._open_searcher()
            docnum = searcher.document_number(pk=str(pk))
            if docnum is None:
                return []
            results = searcher.more_like(docnum, "body", text=text, top=limit + 1, numterms=12)
            pk_of = self._pk_by_docnum
            return [pk_of[hit.docnum] for hit in results if pk_of[hit.docnum] != pk][:limit]

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
        fields = {"pk": str(doc["pk"]), "stamp": doc["stamp"], "language": doc["language"],
                  "published": doc["published"]}
        fields.update({name: doc.get(name, "") for name in QUERY_FIELDS})
        fields["spell"] = doc.get("spell") or " ".join(doc.get(name, "") for name in QUERY_FIELDS)
        return fields

    def write(self, *, upsert: Iterable[dict], delete: Iterable[int] = ()) -> None:
        upsert, delete = list(upsert), list(delete)
        if not upsert and not delete:
            return
        with self.writer_lock():
            if not self.exists():
                # The caller keeps its queued work: `drain` builds the index first.
                raise IndexUnavailable("the search index has not been built yet")
            ix = self._open_index()
            writer = ix.writer(timeout=LOCK_TIMEOUT)
            try:
                for pk in delete:
                    writer.delete_by_term("pk", str(pk))
                for doc in upsert:
                    writer.update_document(**self._fields(doc))
            except BaseException:
                writer.cancel()
                raise
            writer.commit()

    def rebuild(
        self, documents: Iterable[dict], *, progress: Callable[[int], None] | None = None
    ) -> int:
        count = 0
        with self.writer_lock():
            self.path.mkdir(parents=True, exist_ok=True)
            try:
                ix = self._open_index() if self.exists() else None
            except IndexUnavailable:
                ix = None  # unreadable by this version: replaced whole
            if ix is None:
                ix = index.create_in(str(self.path), self.schema, indexname=INDEX_NAME)
            writer = ix.writer(timeout=LOCK_TIMEOUT, limitmb=256)
            try:
                for doc in documents:
                    writer.add_document(**self._fields(doc))
                    count += 1
                    if progress:
                        progress(count)
            except BaseException:
                writer.cancel()
                raise
            # CLEAR swaps the old segments for the new one in a single commit: readers see
            # the old index until then, never a half-built one.
            writer.commit(mergetype=CLEAR, optimize=True)
            self._remove_other_versions()
        return count

    def _remove_other_versions(self):
        mine = re.compile(rf"^_?{re.escape(INDEX_NAME)}_")
        other = re.compile(r"^_?articles_v\d+_")
        for name in os.listdir(self.path):
            if other.match(name) and not mine.match(name):
                with contextlib.suppress(OSError):
                    os.remove(self.path / name)
