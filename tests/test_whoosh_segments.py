"""The Whoosh engine under a stream of single saves: each web worker's searcher follows the
index by reopening only new segments, and merging small segments never delays a save."""

import io
import logging

import pytest
from django.conf import settings
from whoosh.query import Term
from whoosh.reading import SegmentReader

from articles.search.whoosh import WhooshBackend
from articles.search.whoosh import backend as engine
from articles.search.whoosh.storage import MappedFile

pytestmark = pytest.mark.skipif(
    settings.ARCHIVE_SEARCH_ENGINE != "whoosh",
    reason="Whoosh's segments and readers: run on the Whoosh engine (ARCHIVE_SEARCH_ENGINE=whoosh)",
)


def doc(pk, title, body="A report."):
    return {"pk": pk, "title": title, "body": body, "language": "en", "stamp": f"s{pk}-{title}"}


def leaves(backend) -> list[SegmentReader]:
    return [leaf for leaf, _ in backend._open_searcher().reader().leaf_readers()]


@pytest.fixture
def built(tmp_path):
    writer = WhooshBackend(tmp_path / "idx")
    writer.rebuild(doc(pk, f"report {pk}", f"Demonstrators gathered, day {pk}.") for pk in range(1, 51))
    reader = WhooshBackend(tmp_path / "idx")  # a web worker's view of the same index
    yield writer, reader
    writer.close()
    reader.close()


def test_a_refresh_reopens_only_new_segments_and_sees_every_deletion(built):
    writer, reader = built
    assert len(reader.match("demonstrators").pks) == 50
    [big] = leaves(reader)

    writer.write(upsert=[doc(7, "Renamed seventh", "Nothing else.")])  # deletes the old document 7 in `big`
    assert reader.match("renamed").pks == [7]
    assert sorted(reader.match("report").pks) == [pk for pk in range(1, 51) if pk != 7]
    assert reader.doc_count() == 50
    reused = [leaf for leaf in leaves(reader) if leaf.segment().segment_id() == big.segment().segment_id()]
    assert len(reused) == 1 and reused[0] is not big
    assert reused[0]._terms is big._terms  # the segment's files were not opened again
    assert reused[0].is_deleted(6) and not big.is_deleted(6)  # the older searcher is unchanged
    # Whoosh's own matchers (suggestions, highlighting) skip the deleted document too.
    assert len(reader._open_searcher().search(Term("title", "report"), limit=None)) == 49

    writer.write(upsert=[], delete=[8, 9])  # more deletions in the same segment
    assert reader.doc_count() == 48
    assert len(reader.match("demonstrators").pks) == 47  # 8 and 9 gone, 7 renamed without the word
    assert {8, 9}.isdisjoint(reader.stamps())
    assert reader.stamps() == writer.stamps()


def test_single_saves_are_merged_after_their_commit(built):
    writer, reader = built
    for pk in range(100, 130):
        writer.write(upsert=[doc(pk, f"save {pk}", "Sit-in.")])
        assert reader.match(f'"save {pk}"').pks == [pk]  # searchable right after each save
    assert len(reader.match("sit").pks) == 30
    assert len(leaves(reader)) < 10  # thirty one-document segments were merged as they came
    assert reader.doc_count() == 80


def test_a_failed_merge_never_undoes_the_save(built, monkeypatch, caplog):
    writer, reader = built

    def full_disk(_writer, _segments):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("whoosh.writing.MERGE_SMALL", full_disk)  # merging fails, as on a full disk
    with caplog.at_level(logging.ERROR, logger=engine.__name__):
        writer.write(upsert=[doc(200, "Saved before the merge")])
    assert reader.match("merge").pks == [200]
    assert "merging small index segments failed" in caplog.text
    assert "No space left on device" in caplog.text


def test_compound_segments_are_read_in_place_not_copied(built):
    """Whoosh copied every file of a compound segment out of its memory map (1.4 GB per web
    worker at 100k reports); the archive reads them through the map."""
    writer, reader = built
    writer.write(upsert=[doc(300, "Compound segment")])  # a single save writes a compound segment
    assert reader.match("compound").pks == [300]
    compound = [leaf for leaf in leaves(reader) if leaf.segment().is_compound()]
    assert compound
    for leaf in compound:
        for opened in (leaf._terms._dbfile, leaf._terms._postfile):
            assert isinstance(opened, MappedFile)
            assert not isinstance(opened.file, io.BytesIO)


def test_postings_of_a_segment_with_deletions_are_read_a_block_at_a_time(tmp_path, monkeypatch):
    """A deleted document's postings stay in its segment: Whoosh hides them behind a
    FilterMatcher that steps one posting at a time in Python. The archive reads the blocks
    and drops the deleted documents itself, with the same answer."""
    from whoosh import index
    from whoosh.fields import ID, TEXT, Schema
    from whoosh.matching.wrappers import FilterMatcher

    from articles.search.whoosh.columns import _postings_of

    # One segment of several posting blocks (Whoosh writes 128 postings per block), then
    # deletions committed without merging: the segment a save leaves behind.
    ix = index.create_in(str(tmp_path), Schema(pk=ID(unique=True), title=TEXT, body=TEXT))
    writer = ix.writer()
    for pk in range(1, 601):
        writer.add_document(pk=str(pk), title=f"report {pk}", body="demonstrators gathered " * (1 + pk % 3))
    writer.commit()
    writer = ix.writer()
    for pk in (1, 2, 3, 250, 599):
        writer.delete_by_term("pk", str(pk))
    writer.commit(merge=False)
    leaf = ix.reader()
    assert isinstance(leaf, SegmentReader) and leaf.has_deletions()

    def stepped(field, term):
        matcher = leaf.postings(field, term)
        ids, weights = [], []
        while matcher.is_active():
            ids.append(matcher.id())
            weights.append(matcher.weight())
            matcher.next()
        return ids, weights

    # Frequencies of 1 to 3 (stored as an array), all 1 (stored as None), one report only.
    terms = [("body", "gathered"), ("title", "report"), ("title", "300")]
    expected = {term: stepped(*term) for term in terms}
    assert len(expected["body", "gathered"][0]) == 595
    assert set(expected["body", "gathered"][1]) == {1.0, 2.0, 3.0} and set(
        expected["title", "report"][1]
    ) == {1.0}
    assert len(expected["title", "300"][0]) == 1
    monkeypatch.setattr(FilterMatcher, "next", lambda self: pytest.fail("stepped one posting at a time"))
    for term in terms:
        matcher = leaf.postings(*term)
        assert isinstance(matcher, FilterMatcher)
        ids, weights = _postings_of(matcher)
        assert (ids.tolist(), weights.tolist()) == expected[term], term
    leaf.close()
