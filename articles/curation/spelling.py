"""Spelling families: curated names that differ only by the usual transliteration patterns
of Kazakh and Russian names, proposed to curators as alias candidates.

Nothing is merged automatically: `find_candidates()` stores proposals, a curator confirms
(merge) or rejects each in the admin, and a rejected pair is never proposed again.
"""

import re
from itertools import combinations

from articles.text import normalize_name

# Applied in order to a case- and accent-folded name.
RULES = [
    (re.compile(r"dzh"), "j"),  # Dzhaksybekov / Jaksybekov
    (re.compile(r"zh"), "j"),  # Zhomart / Jomart
    (re.compile(r"kh"), "h"),  # Khalyk / Halyk
    (re.compile(r"q"), "k"),  # Toqaev / Tokaev, Qasym / Kasym
    (re.compile(r"(?<=[aeiou])yev\b"), "ev"),  # Tokayev / Tokaev, Nazarbayev / Nazarbaev
    (re.compile(r"y"), "i"),  # Kassym / Kassim
    (re.compile(r"(\w)\1+"), r"\1"),  # Kassym / Kasym, Abilla / Abila
]


def skeleton(name: str) -> str:
    """The name with transliteration differences removed: equal for one spelling family.

    >>> skeleton("Qasym-Zhomart Toqaev") == skeleton("Kassym-Jomart Tokayev")
    True
    """
    text = " ".join(re.findall(r"\w+", normalize_name(name)))
    for pattern, replacement in RULES:
        text = pattern.sub(replacement, text)
    return text


def families(entities) -> list[tuple[object, object, str, str]]:
    """(first entity, second entity, a name of the first, a name of the second) for every
    pair of distinct entities with two names in one spelling family."""
    by_skeleton: dict[str, dict[int, tuple[object, str]]] = {}
    for entity in entities:
        for name in [entity.name, *(a.name for a in entity.aliases.all())]:
            key = skeleton(name)
            if len(key) >= 4:
                by_skeleton.setdefault(key, {}).setdefault(entity.pk, (entity, name))
    pairs = {}
    for members in by_skeleton.values():
        for (pk_a, (a, name_a)), (pk_b, (b, name_b)) in combinations(sorted(members.items()), 2):
            pairs.setdefault((pk_a, pk_b), (a, b, name_a, name_b))
    return list(pairs.values())
