"""Names to entity ids, inside the importing transaction.

Nothing is cached across transactions: every batch looks its names up in the database, so a
rolled-back batch can leave no stale id behind (the database reuses freed ids), and another
import or a curator creating the same name at the same time is found instead of clashing.
Creation tolerates a concurrent creator: rows are inserted ignoring conflicts, then read
back by key, and whatever is still missing (a slug taken meanwhile) is tried again.
"""

from collections.abc import Iterable

from articles.history import record_entities
from articles.kinds import Kind
from articles.models import NamesVersion
from articles.models.entities import next_number, taken_numbers
from articles.text import make_slug, normalize_name

ATTEMPTS = 5


class ImportConflict(RuntimeError):
    """Names could not be created after several attempts (writers kept taking their slugs)."""


def free_slugs(model, names: dict[str, str]) -> dict[str, str]:
    """key -> a slug not taken in `model`'s table for each (key -> name) of `names`."""
    wanted = {key: make_slug(name) for key, name in names.items()}
    taken = set(model.objects.filter(slug__in=set(wanted.values())).values_list("slug", flat=True))
    chosen: dict[str, str] = {}
    used: set[str] = set()
    numbers: dict[str, tuple[set[int], int]] = {}  # base -> numbers taken, the next to try
    for key, base in wanted.items():
        slug = base
        if slug in taken or slug in used:
            # Each base's numbered slugs are read once per batch, not once per name.
            if base not in numbers:
                numbers[base] = (taken_numbers(model, base), 2)
            in_table, start = numbers[base]
            n = next_number(in_table, start)
            while f"{base}-{n}" in used:
                n = next_number(in_table, n + 1)
            numbers[base] = (in_table, n + 1)
            slug = f"{base}-{n}"
        used.add(slug)
        chosen[key] = slug
    return chosen


def lookup(kind: Kind, keys: Iterable[str]) -> dict[str, int]:
    """key -> entity id for the keys that a name or an alias of `kind` already has."""
    keys = set(keys)
    found = dict(kind.model.objects.filter(key__in=keys).values_list("key", "pk"))
    rest = keys - set(found)
    if rest:
        found.update(kind.alias_model.objects.filter(key__in=rest).values_list("key", "entity_id"))
    return found


def resolve(kind: Kind, names: Iterable[str], *, create: bool, reason: str) -> dict[str, int]:
    """key -> entity id for every name, creating the entities no name or alias matches.

    Without `create` (a dry run), unknown names map to -1.
    """
    wanted = {}
    for name in names:
        key = normalize_name(name)
        if key:
            wanted.setdefault(key, name)
    found = lookup(kind, wanted)
    for _attempt in range(ATTEMPTS):
        missing = {key: name for key, name in wanted.items() if key not in found}
        if not missing:
            return found
        if not create:
            found.update({key: -1 for key in missing})
            return found
        slugs = free_slugs(kind.model, missing)
        # In key order: two imports inserting the same names lock them in the same order
        # (PostgreSQL would otherwise find them deadlocked on each other's rows).
        objs = [kind.model(name=name, key=key, slug=slugs[key]) for key, name in sorted(missing.items())]
        kind.model.objects.bulk_create(objs, ignore_conflicts=True)
        created = list(kind.model.objects.filter(key__in=list(missing)))
        ours = [e for e in created if e.slug == slugs[e.key] and e.name == missing[e.key]]
        if ours:
            # Bulk writes skip model signals: the history and the names version by hand.
            record_entities(kind.model, ours, reason=reason)
            NamesVersion.bump()
        found.update((e.key, e.pk) for e in created)
        found.update(lookup(kind, set(missing) - set(found)))
    raise ImportConflict(
        f"could not create {kind.plural.lower()} {sorted(missing)[:3]} after {ATTEMPTS} attempts"
    )
