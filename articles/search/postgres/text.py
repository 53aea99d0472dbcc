"""Text as the PostgreSQL engine hands it to PostgreSQL, on both sides of a search.

Words are cut out as the Whoosh engine cuts them (`TOKEN`), single letters dropped and British
spellings folded into American ones (`articles/search/analysis.py`) before PostgreSQL stems
them, so a document and a query that spell a word either way meet on one lexeme.
"""

import re
import unicodedata

from ..analysis import american, is_cyrillic
from ..query import MIN_WORD

TOKEN = re.compile(r"\w+(?:\.?\w+)*")
#: Words of the spelling vocabulary ("did you mean") are whole words of three letters or more.
SPELL_WORD = re.compile(r"\w{3,}")


def prepared(text: str) -> str:
    """`text` as the words PostgreSQL's parser is given: lower-cased, one space apart."""
    return " ".join(
        word if is_cyrillic(word) else american(word)
        for word in TOKEN.findall((text or "").lower())
        if len(word) >= MIN_WORD
    )


def spelling_words(text: str) -> str:
    return " ".join(SPELL_WORD.findall((text or "").lower()))


def quoted(lexeme: str) -> str:
    """A lexeme as a tsquery literal."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def initial(word: str) -> str:
    """The first letter of `word` with its accent dropped and its case folded: the first
    letter of its lexemes too, since stemming cuts endings and `unaccent` drops accents."""
    return unicodedata.normalize("NFKD", word[:1]).casefold()[:1]


def plain(letter: str) -> bool:
    """Whether `initial` of a word is one `unaccent` leaves as it is: an ASCII or Cyrillic
    letter or digit (not a ligature such as "æ", which becomes two letters)."""
    return letter.isascii() or is_cyrillic(letter)
