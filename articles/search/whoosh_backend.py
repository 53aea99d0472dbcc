"""The Whoosh backend: the only module of the archive that imports whoosh.

Readers keep one searcher per process and refresh it only when the index has changed
(reopening costs far more than a query). Writers serialise on an OS file lock, so two web
workers and an import running at once all wait their turn instead of failing with Whoosh's
LockError; a reader that opens the index while a writer commits retries instead of failing.
"""

import contextlib
import fcntl
import functools
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from django.utils.html import escape
from whoosh import highlight, index, query, scoring
from whoosh.analysis import CharsetFilter, Filter, LowercaseFilter, RegexTokenizer, StopFilter
from whoosh.fields import ID, STORED, TEXT, Schema
from whoosh.lang import stemmer_for_language, stopwords_for_language
from whoosh.qparser import FuzzyTermPlugin, MultifieldParser
from whoosh.support.charset import accent_map
from whoosh.writing import CLEAR

from articles.text import normalize_name

from .base import IndexUnavailable, QueryError, SearchBackend, TextMatches
from .schema import BM25_B, BM25_K1, QUERY_FIELDS, SCHEMA_VERSION

logger = logging.getLogger(__name__)

INDEX_NAME = f"articles_v{SCHEMA_VERSION}"
LOCK_FILE = "archive-writer.lock"
LOCK_TIMEOUT = 300.0
OPEN_RETRIES = 8


_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_stem_en = functools.lru_cache(maxsize=200_000)(stemmer_for_language("en"))
_stem_ru = functools.lru_cache(maxsize=200_000)(stemmer_for_language("ru"))
STOPWORDS = frozenset(stopwords_for_language("en")) | frozenset(stopwords_for_language("ru"))


# British spellings folded into American ones before stemming, on both sides of a search,
# so "haemangioma", "randomised" and "tumour" find "hemangioma", "randomized" and "tumor".
_SPELLING_VARIANTS = [
    (re.compile(r"(?<=\w)aem|^haem"), lambda m: m.group(0).replace("ae", "e")),
    (re.compile(r"^oe(soph|str|dem)"), r"e\1"),
    (re.compile(r"paed"), "ped"),
    (re.compile(r"gynaec"), "gynec"),
    (re.compile(r"(?<=\w{3})our(s?)$"), r"or\1"),
    (re.compile(r"(?<=\w{3})is(e|es|ed|ing|ation|ations)$"), r"iz\1"),
    (re.compile(r"(?<=\w{2})ys(e|es|ed|ing)$"), r"yz\1"),
    (re.compile(r"(?<=\w{3})ogue(s?)$"), r"og\1"),
    (re.compile(r"(?<=\w{2})(t|b)re(s?)$"), r"\1er\2"),
]


@functools.lru_cache(maxsize=200_000)
def _american(word: str) -> str:
    for pattern, replacement in _SPELLING_VARIANTS:
        word = pattern.sub(replacement, word)
    return word


class ScriptStemFilter(Filter):
    """Stems Cyrillic words as Russian and everything else as English, so one archive holds
    both (митинга, митингах and митинги all give митинг; protesters gives protest)."""

    def __eq__(self, other):
        return type(other) is type(self)

    def __call__(self, tokens):
        for token in tokens:
            if not token.stopped:
                text = token.text
                if _CYRILLIC.search(text):
                    token.text = _stem_ru(text)
                else:
                    token.text = _stem_en(_american(text))
            yield token


def _analyzer():
    # Stemming first, then accents folded, so "Toqáev" and "Toqaev" are one term.
    return (
        RegexTokenizer(r"\w+(?:\.?\w+)*")
        | LowercaseFilter()
        | StopFilter(stoplist=STOPWORDS)
        | ScriptStemFilter()
        | CharsetFilter(accent_map)
    )


def _spelling_analyzer():
    # Whole words, unstemmed: the vocabulary "did you mean" suggestions are drawn from.
    return RegexTokenizer(r"\w+") | LowercaseFilter() | StopFilter(stoplist=STOPWORDS, minsize=3)


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
        country=TEXT(analyzer=analyzer),
        spell=TEXT(analyzer=_spelling_analyzer(), phrase=False),
        language=ID(),
        published=ID(),
    )


# Explicit query syntax: operators, quoted phrases, field prefixes, wildcards and fuzzy terms.
# Anything else (a pasted sentence with colons, brackets, hyphens) is read as plain words.
_EXPLICIT = re.compile(
    r"(?:^|[\s(])(?:AND|OR|NOT)(?=[\s(]|$)|\"[^\"]+\"|\b(?:{}):\S|\w[*~]|\*\w".format(
        "|".join(QUERY_FIELDS))
)
_QUERY_WORD = re.compile(r"\w+")
_STRICT_TOKEN = re.compile(r'"[^"]*"|\w+:(?:"[^"]*"|\S+)|\(|\)|[^\s()"]+')


def _fold(text: str) -> str:
    return " ".join(_QUERY_WORD.findall(normalize_name(text)))


def minimum_should_match(units: int) -> int:
    """How many of a plain query's words a result must contain, like Solr edismax's
    `mm=3<25%`: every word of up to three, then a quarter of them but at least two.

    Measured with bench/evaluate_ranking.py: requiring three of four to nine words cost
    0.017 nDCG@10 on our SciFact claims; this rule scores as well as a plain OR while still
    dropping documents that share a single word with a long query."""
    if units <= 3:
        return units
    return max(2, math.ceil(units * 0.25))


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
                    self._set_searcher(self._ix.searcher(weighting=scoring.BM25F(B=BM25_B, K1=BM25_K1)))
                elif not self._searcher.up_to_date():
                    # Not searcher.refresh(): in whoosh-reloaded 2.7.5 its reader reuse
                    # keeps segments the new generation dropped, and fails on an empty one.
                    self._set_searcher(self._ix.searcher(weighting=scoring.BM25F(B=BM25_B, K1=BM25_K1)))
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

    def _parser(self):
        parser = MultifieldParser(list(QUERY_FIELDS), self.schema, fieldboosts=QUERY_FIELDS)
        parser.add_plugin(FuzzyTermPlugin())
        return parser

    def _terms_of(self, text: str) -> list[str]:
        """`text` analysed as the text fields analyse it (stemmed, stop words removed)."""
        return [t.text for t in self.schema["body"].analyzer(text, mode="query")]

    def _any_field(self, term: str):
        return query.Or([query.Term(f, term, boost=w) for f, w in QUERY_FIELDS.items()])

    def _name_query(self, spelling: str):
        terms = self._terms_of(spelling)
        if not terms:
            return None
        if len(terms) == 1:
            return self._any_field(terms[0])
        # slop 2 lets a phrase step over a stop word ("Democratic Choice of Kazakhstan").
        return query.Or([query.Phrase(f, terms, slop=2, boost=w) for f, w in QUERY_FIELDS.items()])

    def _plain_units(self, q: str, names) -> list[tuple[str, object]]:
        """A plain-words query as units (label, engine query): one per word, or one per
        curated name found in it, expanded to every spelling of that name."""
        words = _QUERY_WORD.findall(q)
        folded = [w.casefold() for w in words]
        spans = names.find([_fold(w) for w in words]) if names else []
        units, i = [], 0
        for start, end, spellings in spans + [(len(words), len(words), None)]:
            for word in words[i:start]:
                terms = self._terms_of(word)
                if terms:
                    units.append((word, query.And([self._any_field(t) for t in terms])
                                  if len(terms) > 1 else self._any_field(terms[0])))
            if spellings is not None:
                label = " ".join(words[start:end])
                alternatives = [self._name_query(label)] + [
                    self._name_query(name) for name in sorted(spellings)
                    if _fold(name) != " ".join(_fold(w) for w in folded[start:end])]
                alternatives = [a for a in alternatives if a is not None]
                if alternatives:
                    units.append((label, query.Or(alternatives)))
            i = end
        return units

    def _expand_strict(self, q: str, names) -> str:
        """Curated names among the bare words of a syntax query, or as a whole quoted
        phrase, become (what was typed OR "other spelling" OR ...)."""
        if not names:
            return q
        tokens = _STRICT_TOKEN.findall(q)
        out, run = [], []

        def flush():
            words = [t for t in run]
            spans = names.find([_fold(w) for w in words])
            i = 0
            for start, end, spellings in spans:
                out.extend(words[i:start])
                typed = " ".join(words[start:end])
                others = [f'"{n}"' for n in sorted(spellings) if _fold(n) != _fold(typed)]
                out.append("(" + " OR ".join([typed, *others]) + ")" if others else typed)
                i = end
            out.extend(words[i:])
            run.clear()

        for token in tokens:
            bare = _QUERY_WORD.fullmatch(token) and token not in ("AND", "OR", "NOT")
            if bare:
                run.append(token)
                continue
            flush()
            if token.startswith('"') and token.endswith('"') and len(token) > 2:
                found = names.find([_fold(w) for w in _QUERY_WORD.findall(token)])
                if len(found) == 1 and found[0][0] == 0 and \
                        found[0][1] == len(_QUERY_WORD.findall(token)):
                    others = [f'"{n}"' for n in sorted(found[0][2]) if _fold(n) != _fold(token[1:-1])]
                    token = "(" + " OR ".join([token, *others]) + ")" if others else token
            out.append(token)
        flush()
        return " ".join(out)

    def _plan(self, q: str, names, *, plain: bool = False):
        """(engine query, units for the minimum-should-match rule or None, words to check
        for spelling) for the user's query `q`."""
        if not plain and _EXPLICIT.search(q):
            try:
                parsed = self._parser().parse(self._expand_strict(q, names))
            except Exception as exc:  # Whoosh raises assorted errors on malformed syntax
                raise QueryError(f"The query could not be understood ({exc}).") from exc
            if parsed is not None and parsed is not query.NullQuery:
                return parsed, None, [w for w in _QUERY_WORD.findall(q)
                                      if w not in ("AND", "OR", "NOT")]
            raise QueryError("The query has no words to search for.")
        units = self._plain_units(q, names)
        if not units:
            raise QueryError("The query has no words to search for.")
        mm = minimum_should_match(len(units))
        if mm == len(units):
            return query.And([u for _, u in units]), None, [label for label, _ in units]
        return query.Or([u for _, u in units]), (units, mm), [label for label, _ in units]

    def _run(self, searcher, q: str, names):
        """Ranked (docnum, score) pairs and the plan that produced them."""
        try:
            built, mm_units, words = self._plan(q, names)
        except QueryError:
            if not _QUERY_WORD.search(q):
                raise
            built, mm_units, words = self._plan(q, names, plain=True)
        strict = mm_units is None and _EXPLICIT.search(q)
        try:
            if mm_units is None:
                results = searcher.search(built, limit=None)
                ranked = [(docnum, score) for score, docnum in results.top_n]
            else:
                ranked = self._minimum_match(searcher, mm_units)
        except Exception as exc:
            raise QueryError(f"The query could not be run ({exc}).") from exc
        if not ranked and strict and len(_QUERY_WORD.findall(q)) >= 4:
            # A pasted sentence that merely contained quotes or a colon: read it as words.
            return self._run(searcher, " ".join(_QUERY_WORD.findall(q)), names)
        return ranked, built, words

    def _minimum_match(self, searcher, mm_units):
        """Rank by the OR of all units, keeping documents that match at least `mm` units.
        Each unit's matching documents are read unscored, which costs far less than asking
        Whoosh to record the matched terms of every hit."""
        units, mm = mm_units
        per_unit = [set(searcher.docs_for_query(unit)) for _, unit in units]
        results = searcher.search(query.Or([u for _, u in units]), limit=None)
        return [(docnum, score) for score, docnum in results.top_n
                if sum(docnum in docs for docs in per_unit) >= mm]

    def _suggest(self, searcher, q: str, words: list[str], names=None) -> str | None:
        """The query with each word that matches nothing replaced by the closest word of the
        archive's vocabulary, or None when every word matches something."""
        reader = searcher.reader()
        corrector = None
        corrected = q
        changed = False
        for word in dict.fromkeys(words):
            if not word or not word.isalpha() or len(word) < 3:
                continue
            if names and names.find([_fold(word)]):
                continue  # a curated spelling: it matches through the name's other spellings
            terms = self._terms_of(word)
            if not terms or any(reader.doc_frequency(f, t) for t in terms for f in QUERY_FIELDS):
                continue
            if corrector is None:
                corrector = searcher.corrector("spell")
            # The vocabulary keeps the words of deleted documents (an unpublished report)
            # until their segment is merged: offer only words a live document still holds.
            live = (s for s in corrector.suggest(word.lower(), limit=5, maxdist=2, prefix=1)
                    if not searcher.search(query.Term("spell", s), limit=1).is_empty())
            suggestion = next(live, None)
            if suggestion:
                corrected = re.sub(rf"\b{re.escape(word)}\b", suggestion, corrected, count=1)
                changed = True
        return corrected if changed else None

    def match(self, q: str, *, names=None) -> TextMatches:
        with self._lock:
            searcher = self._open_searcher()
            ranked, built, words = self._run(searcher, q, names)
            pk_of = self._pk_by_docnum
            pks = [pk_of[docnum] for docnum, _ in ranked]
            scores = {pk_of[docnum]: score for docnum, score in ranked}
            corrected = self._suggest(searcher, q, words, names)
        return TextMatches(pks=pks, scores=scores, parsed=str(built), corrected=corrected)

    def _terms(self, q: str, names=None) -> set[str]:
        try:
            built, _, _ = self._plan(q, names)
        except QueryError:
            built, _, _ = self._plan(q, names, plain=True)
        with self._lock:
            reader = self._open_searcher().reader()
            terms = set()
            # Leaf by leaf: Query.existing_terms() reuses its `fieldname` argument as a loop
            # variable and skips every leaf after the first one's field.
            for leaf in built.leaves():
                for fieldname, text in leaf.existing_terms(reader, expand=True):
                    if fieldname in QUERY_FIELDS:
                        terms.add(text.decode() if isinstance(text, bytes) else text)
        return terms

    def highlight(self, q: str, texts: dict[int, str], *, length: int = 300,
                  names=None) -> dict[int, str]:
        terms = self._terms(q, names)
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
            "country": doc.get("country", ""),
            "spell": doc.get("spell") or " ".join(
                [doc["title"], doc["body"], doc["source"], doc["city"], doc["actor"],
                 doc.get("country", "")]),
            "language": doc["language"],
            "published": doc["published"],
        }

    def write(self, *, upsert: Iterable[dict], delete: Iterable[int] = ()) -> None:
        upsert, delete = list(upsert), list(delete)
        if not upsert and not delete:
            return
        with self.writer_lock():
            if not self.exists():
                # The caller keeps its queued work: `drain` builds the index first.
                raise IndexUnavailable("the search index has not been built yet")
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
