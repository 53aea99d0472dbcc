"""Which PostgreSQL text search configuration analyses an article, by its language.

Each `archive_*` configuration is created by the migration (which keeps a frozen copy of
this table) as a copy of PostgreSQL's own, with accents folded (`unaccent`) before stemming.
English and Russian follow the archive's script rule (`articles/search/analysis.py`, as the
Whoosh engine does): Latin words are stemmed as English and Cyrillic words as Russian,
whatever the article's language, since reports in either language name people and places in
both scripts (PostgreSQL's `russian` configuration already sends ASCII words to the English
stemmer).
"""

#: ISO 639-1 code -> (configuration, PostgreSQL's configuration it copies, its stemmer)
LANGUAGES = {
    "en": ("archive_english", "russian", "russian_stem"),
    "ru": ("archive_russian", "russian", "russian_stem"),
    "de": ("archive_german", "german", "german_stem"),
    "fr": ("archive_french", "french", "french_stem"),
    "es": ("archive_spanish", "spanish", "spanish_stem"),
    "it": ("archive_italian", "italian", "italian_stem"),
    "pt": ("archive_portuguese", "portuguese", "portuguese_stem"),
    "nl": ("archive_dutch", "dutch", "dutch_stem"),
    "tr": ("archive_turkish", "turkish", "turkish_stem"),
}
#: Any other language: words folded and lower-cased, not stemmed.
OTHER = ("archive_simple", "simple", "simple")


def config_for(language: str) -> str:
    return LANGUAGES.get((language or "").lower(), OTHER)[0]
