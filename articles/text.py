"""Text helpers shared by models, import and search: name keys and slugs."""

import hashlib
import re
import unicodedata

import numpy as np
from django.utils.text import slugify

_SPACE = re.compile(r"\s+")
#: Hyphens and dashes, dots and spaces all separate words alike in a name's key.
_SEPARATORS = re.compile(r"[\s.\-\u2010-\u2015\u2212]+")

# Cyrillic (Russian and Kazakh letters) to Latin, for readable ASCII slugs only.
_CYRILLIC = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюяәғқңөұүһі",
        (
            "a b v g d e e zh z i i k l m n o p r s t u f kh ts ch sh shch _ y _ e yu ya a g q n o u u h i"
        ).split(),
        strict=True,
    )
)


def normalize_name(value: str) -> str:
    """The key under which names and aliases are compared: case-, accent- and
    separator-insensitive.

    "Toqáev", "TOQAEV" and " toqaev " all give "toqaev"; "Alma-Ata", "Alma Ata" and
    "alma.ata" all give "alma ata". Letters of other scripts are kept (case-folded), so
    "Токаев" stays distinct from its Latin spellings: those are aliases.
    """
    decomposed = unicodedata.normalize("NFKD", value or "")
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SEPARATORS.sub(" ", unicodedata.normalize("NFC", stripped).casefold()).strip()


def make_slug(value: str, max_length: int = 80) -> str:
    """An ASCII slug; Cyrillic is transliterated, anything else unrepresentable is dropped."""
    latin = "".join(_CYRILLIC.get(ch, ch).replace("_", "") for ch in (value or "").lower())
    latin = re.sub(r"[/\\&+]+", "-", latin)  # "RFE/RL" -> "rfe-rl"
    slug = slugify(latin)[:max_length].strip("-")
    if not slug:
        slug = "item-" + hashlib.sha1((value or "").encode()).hexdigest()[:8]
    return slug


def _fold(text: str) -> str:
    return " ".join((text or "").casefold().split())


def fingerprint(title: str, body: str, published=None) -> str:
    """Hash of the case-folded, whitespace-collapsed title and body and the publication date:
    equal for exact duplicates.

    The date is part of it because coders and wires reuse one short text for different
    events ("election related" on many days); the same text on another day is a near
    duplicate for a curator to review, not a copy to drop.
    """
    text = "\n".join([_fold(title), _fold(body), str(published or "")])
    return hashlib.sha256(text.encode()).hexdigest()


_WORD = re.compile(r"\w+")
SIMHASH_MIN_WORDS = 40
_MASK64 = (1 << 64) - 1


def simhash(text: str) -> int | None:
    """64-bit SimHash of the word 3-shingles of `text` (as a signed integer for the database),
    or None for texts too short to compare meaningfully. Near-identical texts differ in few
    bits (Charikar 2002; Manku et al. 2007).

    Each shingle's 8-byte BLAKE2b digest votes for the bits it has set; a bit of the SimHash
    is set when more than half of the shingles voted for it. The votes are counted by numpy
    over all digests at once (counting them in Python was half of an import's database time).
    """
    words = _WORD.findall((text or "").casefold())
    if len(words) < SIMHASH_MIN_WORDS:
        return None
    shingles = (" ".join(words[i : i + 3]) for i in range(len(words) - 2))
    digests = b"".join(hashlib.blake2b(s.encode(), digest_size=8).digest() for s in shingles)
    # One row of 64 bits per shingle, the digest read big-endian: column 0 is bit 63.
    votes = np.unpackbits(np.frombuffer(digests, dtype=np.uint8).reshape(-1, 8), axis=1).sum(axis=0)
    value = int.from_bytes(np.packbits(votes > (len(words) - 2) // 2).tobytes(), "big")
    return value - (1 << 64) if value >= 1 << 63 else value


def hamming(a: int, b: int) -> int:
    return ((a ^ b) & _MASK64).bit_count()
