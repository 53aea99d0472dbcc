"""Near duplicates: texts whose 64-bit SimHash differs in at most a few bits (a wire story
republished with small edits, the same text on another day), linked for curators to review.

Candidates are found through four 16-bit bands (pigeonhole: three differing bits leave at
least one band equal). Hashes of a batch join the index only once the batch is committed, so
a rolled-back batch never leaves an id behind that the database may give to another row.
"""

from articles.models import Article
from articles.text import hamming

NEAR_DUPLICATE_BITS = 3
NEAR_DUPLICATE_LINKS = 5
BANDS = 4


def _bands(value: int):
    for band in range(BANDS):
        yield band, (value >> (16 * band)) & 0xFFFF


class NearDuplicates:
    def __init__(self):
        self.bands: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for pk, value in Article.objects.exclude(simhash=None).values_list("pk", "simhash").iterator(5000):
            self._add(pk, value)
        self.staged: list[tuple[int, int]] = []

    def _add(self, pk: int, value: int):
        for band in _bands(value):
            self.bands.setdefault(band, []).append((pk, value))

    def near(self, value: int | None, *, exclude: int | None = None) -> list[int]:
        """The closest articles to a SimHash, fewest differing bits first."""
        if value is None:
            return []
        found = {}
        for band in _bands(value):
            for pk, other in self.bands.get(band, ()):
                if pk != exclude and pk not in found:
                    distance = hamming(value, other)
                    if distance <= NEAR_DUPLICATE_BITS:
                        found[pk] = distance
        return sorted(found, key=lambda pk: (found[pk], pk))[:NEAR_DUPLICATE_LINKS]

    def link(self, articles: list[Article]) -> int:
        """Link each new article to its near duplicates (in the current transaction), staging
        its hash for `commit()`; return how many pairs were linked."""
        pairs = set()
        for article in articles:
            for other in self.near(article.simhash, exclude=article.pk):
                pairs.add((article.pk, other))
            if article.simhash is not None:
                self.staged.append((article.pk, article.simhash))
                self._add(article.pk, article.simhash)  # later articles of this batch see it
        if pairs:
            through = Article.possible_duplicates.through
            rows = pairs | {(b, a) for a, b in pairs}
            through.objects.bulk_create(
                [through(from_article_id=a, to_article_id=b) for a, b in rows], ignore_conflicts=True
            )
        return len(pairs)

    def commit(self):
        self.staged.clear()

    def rollback(self):
        """Forget the hashes of a batch that did not commit."""
        for pk, value in self.staged:
            for band in _bands(value):
                self.bands[band] = [item for item in self.bands.get(band, []) if item[0] != pk]
        self.staged.clear()
