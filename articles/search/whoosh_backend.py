"""The Whoosh backend: the only module of the archive that imports whoosh.

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

from django.utils.html import escape
from whoosh import highlight, index, scoring
from whoosh.analysis import CharsetFilter, LowercaseFilter, RegexTokenizer, StemFilter, StopFilter
from whoosh.fields import ID, STORED, TEXT, Schema
from whoosh.qparser import FuzzyTermPlugin, MultifieldParser
from whoosh.support.charset import accent_map
from whoosh.writing import CLEAR

from .base import IndexUnavailable, QueryError, SearchBackend, TextMatches
from .schema import QUERY_FIELDS, SCHEMA_VERSION

logger = logging.getLogger(__name__)

INDEX_NAME = f"articles_v{SCHEMA_VERSION}"
LOCK_FILE = "archive-writer.lock"
LOCK_TIMEOUT = 300.0
OPEN_RETRIES = 8


def _analyzer():
    # Accents are folded before stemming, so "Toqáev" and "Toqaev" are one term.
    return (
        RegexTokenizer(r"\w+(?:\.?\w+)*")
        | LowercaseFilter()
        | CharsetFilter(accent_map)
        | StopFilter()
        | StemFilter(lang="en")
    )


def build_schema() -> Schema:
    analyzer = _analyzer()
    return Schema(
        pk=ID(stored=True, unique=True, sortable=True),
        stamp=STORED(),
        title=TEXT(analyzer=analyzer),
        body=TEXT(analyzer=analyzer),
        source=TEXT(analyzer=analyzer),
        city=TEXT(analyzer=analyzer),
        actor=TEXT(analyzer=analyzer),
        language=ID(),
        published=ID(),
    )


class _MarkFormatter(highlight.Formatter):
    """Escapes the text and marks matches with a bare <mark>: nothing else is HTML."""

    between = " … "

    def _text(self, text):
        return escape(text)

    def format_token(self, text, token, replace=False):
        return f"<mark>{escape(highlight.get_text(text, token, replace))}</mark>"

    def format_fragment(self, fragment, replace=False):
        html = super().format_fragment(fragment, replace=replace)
        if fragment.startchar > 0:
            html = "… " + html
        if fragment.endchar < len(fragment.text.rstrip()):
            html += " …"
        return html

    def __call__(self, text, fragments):
        return "".join(self.format_fragment(f) for f in fragments)


class WhooshBackend(SearchBackend):
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.schema = build_schema()
        self._lock = threading.RLock()
        self._ix = None
        self._searcher = None
        self._pk_by_docnum: list[int] = []
        self._held = threading.local()

    # ---------------------------------------------------------------- reading

    def exists(self) -> bool:
        return index.exists_in(str(self.path), indexname=INDEX_NAME)

    def close(self):
        with self._lock:
            if self._searcher is not None:
                self._searcher.close()
            self._searcher = None
            self._ix = None

    def _open_searcher(self):
        """The process's searcher, refreshed when the index changed since it was opened."""
        last_error = None
        for attempt in range(OPEN_RETRIES):
            try:
                if self._searcher is None:
                    if not self.exists():
                        raise IndexUnavailable("the search index has not been built yet")
                    self._ix = index.open_dir(str(self.path), indexname=INDEX_NAME)
                    self._set_searcher(self._ix.searcher(weighting=scoring.BM25F()))
                elif not self._searcher.up_to_date():
                    # Not searcher.refresh(): in whoosh-reloaded 2.7.5 its reader reuse
                    # keeps segments the new generation dropped, and fails on an empty one.
                    self._set_searcher(self._ix.searcher(weighting=scoring.BM25F()))
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

    def _parser(self):
        parser = MultifieldParser(list(QUERY_FIELDS), self.schema, fieldboosts=QUERY_FIELDS)
        parser.add_plugin(FuzzyTermPlugin())
        return parser

    def _parse(self, q: str):
        try:
            parsed = self._parser().parse(q)
        except Exception as exc:  # Whoosh raises assorted errors on malformed syntax
            raise QueryError(f"The query could not be understood ({exc}).") from exc
        if parsed is None:
            raise QueryError("The query could not be understood.")
        return parsed

    def match(self, q: str) -> TextMatches:
        parsed = self._parse(q)
        with self._lock:
            searcher = self._open_searcher()
            try:
                results = searcher.search(parsed, limit=None)
                ranked = [(docnum, score) for score, docnum in results.top_n]
            except Exception as exc:
                raise QueryError(f"The query could not be run ({exc}).") from exc
            pk_of = self._pk_by_docnum
            pks = [pk_of[docnum] for docnum, _ in ranked]
            scores = {pk_of[docnum]: score for docnum, score in ranked}
        return TextMatches(pks=pks, scores=scores, parsed=str(parsed))

    def _terms(self, q: str) -> set[str]:
        parsed = self._parse(q)
        with self._lock:
            reader = self._open_searcher().reader()
            terms = set()
            # Leaf by leaf: Query.existing_terms() reuses its `fieldname` argument as a loop
            # variable and skips every leaf after the first one's field.
            for leaf in parsed.leaves():
                for fieldname, text in leaf.existing_terms(reader, expand=True):
                    if fieldname in QUERY_FIELDS:
                        terms.add(text.decode() if isinstance(text, bytes) else text)
        return terms

    def highlight(self, q: str, texts: dict[int, str], *, length: int = 300) -> dict[int, str]:
        terms = self._terms(q)
        if not terms:
            return {}
        analyzer = _analyzer()
        formatter = _MarkFormatter()
        snippets = {}
        for pk, text in texts.items():
            if len(text) <= length:
                fragmenter, top = highlight.WholeFragmenter(), 1
            else:
                fragmenter = highlight.ContextFragmenter(maxchars=length, surround=length // 3)
                top = 1
            html = highlight.highlight(text, terms, analyzer, fragmenter, formatter, top=top)
            if html:
                snippets[pk] = html
        return snippets

    def more_like_this(self, pk: int, *, text: str, limit: int = 5) -> list[int]:
        with self._lock:
            searcher = self._open_searcher()
            docnum = searcher.document_number(pk=str(pk))
            if docnum is None:
                return []
            results = searcher.more_like(docnum, "body", text=text, top=limit + 1,
                                         numterms=12)
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
        return {
            "pk": str(doc["pk"]),
            "stamp": doc["stamp"],
            "title": doc["title"],
            "body": doc["body"],
            "source": doc["source"],
            "city": doc["city"],
            "actor": doc["actor"],
            "language": doc["language"],
            "published": doc["published"],
        }

    def write(self, *, upsert: Iterable[dict], delete: Iterable[int] = ()) -> None:
        upsert, delete = list(upsert), list(delete)
        if not upsert and not delete:
            return
        with self.writer_lock():
            if not self.exists():
                # Nothing to keep in step yet: the next rebuild_index writes everything.
                logger.warning("search index missing; run rebuild_index")
                return
            ix = index.open_dir(str(self.path), indexname=INDEX_NAME)
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
            fresh = not self.exists()
            if fresh:
                ix = index.create_in(str(self.path), self.schema, indexname=INDEX_NAME)
            else:
                ix = index.open_dir(str(self.path), indexname=INDEX_NAME)
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
