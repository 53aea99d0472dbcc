"""Whoosh analyzers and the Whoosh schema of the archive's documents."""

import functools

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


def spelling_analyzer():
    # Whole words, unstemmed: the vocabulary "did you mean" suggestions are drawn from.
    return RegexTokenizer(r"\w+") | LowercaseFilter() | StopFilter(stoplist=STOPWORDS, minsize=3)


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
