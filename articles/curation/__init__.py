"""Curators' operations, outside the admin's screens: merging and splitting entities (with
undo), alias candidates from spelling families, link suggestions, and the roles."""

from .candidates import decide, find_candidates
from .merges import MergeError, cities_in_several_countries, merge, split_city, undo_merge

__all__ = [
    "MergeError",
    "cities_in_several_countries",
    "decide",
    "find_candidates",
    "merge",
    "split_city",
    "undo_merge",
]
