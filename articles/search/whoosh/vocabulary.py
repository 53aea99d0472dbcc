"""The words of a field, per index segment, for fuzzy terms.

Whoosh finds the words within an edit distance of a fuzzy term by walking its term
dictionary with an automaton written in Python (about 0.3 s per field and segment at 15,000
reports). Here each segment's words of a field are read once per process (segments never
change but for deletions), grouped by first letter, and compared in C by rapidfuzz: a few
milliseconds per term.
"""

import threading
from collections import OrderedDict, defaultdict

from rapidfuzz.distance import DamerauLevenshtein
from rapidfuzz.process import extract_iter
from whoosh.reading import SegmentReader

#: (segment, field) word lists kept per process: a few index generations' worth.
CACHED = 64
_cache: OrderedDict = OrderedDict()
_lock = threading.Lock()


def _words(reader, field: str) -> dict[str, list[str]]:
    segment = reader.segment() if isinstance(reader, SegmentReader) else None
    if segment is None:
        return {}  # an empty index: no segment, no words
    key = (segment.segment_id(), field)
    with _lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    by_initial: dict[str, list[str]] = defaultdict(list)
    for term in reader.lexicon(field) if field in reader.schema else ():
        word = term.decode() if isinstance(term, bytes) else term
        by_initial[word[:1]].append(word)
    found = dict(by_initial)
    with _lock:
        _cache[key] = found
        while len(_cache) > CACHED:
            _cache.popitem(last=False)
    return found


def within(reader, field: str, word: str, distance: int) -> dict[str, int]:
    """Words of `field` (any segment of `reader`) that begin with `word`'s first letter and
    are at most `distance` edits (Damerau-Levenshtein) from it, with their distance."""
    found: dict[str, int] = {}
    for leaf, _offset in reader.leaf_readers():
        candidates = _words(leaf, field).get(word[:1], ())
        for term, edits, _index in extract_iter(
            word, candidates, scorer=DamerauLevenshtein.distance, score_cutoff=distance
        ):
            found[term] = min(edits, found.get(term, edits))
    return found
