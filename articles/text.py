"""Text helpers shared by models, import and search: name keys and slugs."""

import hashlib
import re
import unicodedata

from django.utils.text import slugify

_SPACE = re.compile(r"\s+")

# Cyrillic (Russian and Kazakh letters) to Latin, for readable ASCII slugs only.
_CYRILLIC = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюяәғқңөұүһі",
        (
            "a b v g d e e zh z i i k l m n o p r s t u f kh ts ch sh shch _ y _ e yu ya "
            "a g q n o u u h i"
        ).split(),
        strict=True,
    )
)


def normalize_name(value: str) -> str:
    """The key under which names and aliases are compared: case- and accent-insensitive.

    "Toqáev", "TOQAEV" and " toqaev " all give "toqaev". Letters of other scripts are kept
    (case-folded), so "Токаев" stays distinct from its Latin spellings: those are aliases.
    """
    decomposed = unicodedata.normalize("NFKD", value or "")
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACE.sub(" ", unicodedata.normalize("NFC", stripped).casefold()).strip()


def make_slug(value: str, max_length: int = 80) -> str:
    """An ASCII slug; Cyrillic is transliterated, anything else unrepresentable is dropped."""
    latin = "".join(_CYRILLIC.get(ch, ch).replace("_", "") for ch in (value or "").lower())
    latin = re.sub(r"[/\\&+]+", "-", latin)  # "RFE/RL" -> "rfe-rl"
    slug = slugify(latin)[:max_length].strip("-")
    if not slug:
        slug = "item-" + hashlib.sha1((value or "").encode()).hexdigest()[:8]
    return slug


def fingerprint(title: str, body: str) -> str:
    """Hash of the normalised title and body: equal for exact duplicates of one report."""
    text = normalize_name(title) + "\n" + normalize_name(body)
    return hashlib.sha256(text.encode()).hexdigest()
