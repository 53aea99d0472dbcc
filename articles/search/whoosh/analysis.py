"""Whoosh analyzers and the Whoosh schema of the archive's documents."""

import functools
import re

from whoosh.analysis import CharsetFilter, Filter, LowercaseFilter, RegexTokenizer, StopFilter
from whoosh.fields import ID, KEYWORD, NUMERIC, STORED, TEXT, Schema
from whoosh.lang import stemmer_for_language, stopwords_for_language
from whoosh.support.charset import accent_map

from ..analysis import american, is_cyrillic
from ..schema import PREFIX_FIELD, PREFIX_LENGTH, TEXT_FIELD

_stem_en = functools.lru_cache(maxsize=200_000)(stemmer_for_language("en"))
_stem_ru = functools.lru_cache(maxsize=200_000)(stemmer_for_language("ru"))
STOPWORDS = frozenset(stopwords_for_language("en")) | frozenset(stopwords_for_language("ru"))
TOKEN_PATTERN = r"\w+(?:\.?\w+)*"


class ScriptStemFilter(Filter):
    """Stems Cyrillic words as Russian and everything else as English, so one archive holds
    both (митинга, митингах and митинги all give митинг; protesters gives protest)."""

    def __eq__(self, other):
        return type(other) is type(self)

    def __call__(self, tokens):
        for token in tokens:
            if not token.stopped:
                text = token.text
                token.text = _stem_ru(text) if is_cyrillic(text) else _stem_en(american(text))
            yield token


def analyzer():
    # Stemming first, then accents folded, so "Toqáev" and "Toqaev" are one term.
    return (
        RegexTokenizer(TOKEN_PATTERN)
        | LowercaseFilter()
        | StopFilter(stoplist=STOPWORDS)
        | ScriptStemFilter()
        | CharsetFilter(accent_map)
    )


class CutFilter(Filter):
    """Keeps the first `length` characters of each term (the prefix field)."""

    def __init__(self, length: int):
        self.length = length

    def __eq__(self, other):
        return type(other) is type(self) and other.length == self.length

    def __call__(self, tokens):
        for token in tokens:
            token.text = token.text[: self.length]
            yield token


def prefix_analyzer():
    return analyzer() | CutFilter(PREFIX_LENGTH)


SPELLING_PATTERN = r"\w+"


def spelling_analyzer():
    # Whole words, unstemmed: the vocabulary "did you mean" suggestions are drawn from.
    return RegexTokenizer(SPELLING_PATTERN) | LowercaseFilter() | StopFilter(stoplist=STOPWORDS, minsize=3)


class TokenCache:
    """An analyzer's indexed words for a text, each token analysed once per process.

    Whoosh runs every token through a chain of generators (tokenizer, lower case, stop
    words, stemming, accents): about 2 microseconds a token, a third of a rebuild's time.
    None of those steps looks at a token's neighbours, so a token's word is a function of
    the token alone: here the text is split by the analyzer's own tokenizer pattern, and
    each distinct token is run through the analyzer itself once and remembered. The
    result is the list the analyzer would give (stopped words left out, as Whoosh's
    formats leave them out); handed this list instead of the text, Whoosh indexes the same
    postings. Only the positions may start elsewhere: a list's words take 0, 1, 2..., and
    the analyzer numbers the words it keeps the same way but from the place of the first
    one (1 for a text opening with "The"); phrases only compare positions with each other.
    tests/test_whoosh_analysis.py holds both to the same index.
    """

    #: Distinct tokens remembered before the cache starts again: about 40 MB at most, in
    #: each process that writes (a web worker that saves, a rebuild's). The benchmark's
    #: 100,000 reports hold 45,000 distinct tokens; past the limit a token is analysed
    #: again the first time it comes back, no more.
    LIMIT = 200_000

    def __init__(self, analyzer, pattern: str):
        self.analyzer = analyzer
        self._split = re.compile(pattern).findall
        self._words = _Analysed(self)

    def tokens(self, text: str) -> list[str]:
        """The text split by this cache's pattern."""
        return self._split(text)

    def words(self, text: str) -> list[str]:
        return self.words_of(self._split(text))

    def words_of(self, tokens: list[str]) -> list[str]:
        """The words of a text split into `tokens`: by this cache's pattern, or by another
        whose tokens this cache's analyzer splits as its pattern would split the text
        (TOKEN_PATTERN's tokens for the spelling cache: each is words of SPELLING_PATTERN
        joined by dots)."""
        # Looked up and filtered by C loops (map, filter): a loop in Python over a report's
        # 600 tokens was a sixth of a rebuild's analysis.
        found = list(map(self._words.__getitem__, tokens))
        if not self._words.split:
            return list(filter(None, found))  # "": a stopped token
        words = []
        for word in found:
            if word.__class__ is str:
                if word:
                    words.append(word)
            else:
                words.extend(word)
        return words

    def _analysed(self, token: str) -> str | tuple:
        found = [t.text for t in self.analyzer(token, mode="index") if not t.stopped]
        # One word, or "" for a stopped token; a tuple if an analyzer ever splits a token.
        return found[0] if len(found) == 1 else ("" if not found else tuple(found))


class _Analysed(dict):
    """A TokenCache's tokens -> each one's word ("" when stopped, a tuple if the analyzer
    split it), analysed the first time it is asked for; emptied at the cache's LIMIT."""

    def __init__(self, cache: TokenCache):
        super().__init__()
        self._cache = cache
        #: whether a token ever gave several words (then `words` checks each)
        self.split = False

    def __missing__(self, token: str):
        if len(self) >= self._cache.LIMIT:
            self.clear()
        word = self[token] = self._cache._analysed(token)
        if word.__class__ is not str:
            self.split = True
        return word


def build_schema(text_fields, id_fields) -> Schema:
    """Text fields to search; `pk_number` and `date` as columns; each kind's entity ids as
    indexed terms (the documents of one entity) that columns.py also reads per document."""
    text = analyzer()
    return Schema(
        pk=ID(stored=True, unique=True),
        pk_number=NUMERIC(int, bits=64, sortable=True),
        date=NUMERIC(int, bits=64, signed=True, sortable=True),
        stamp=STORED(),
        spell=TEXT(analyzer=spelling_analyzer(), phrase=False),
        language=ID(),
        **{name: TEXT(analyzer=text) for name in text_fields},
        # Scoring only (plain words): no positions, phrases use the title and body fields.
        **{
            TEXT_FIELD: TEXT(analyzer=text, phrase=False),
            PREFIX_FIELD: TEXT(analyzer=prefix_analyzer(), phrase=False),
        },
        **{name: KEYWORD(scorable=False) for name in id_fields},
    )
