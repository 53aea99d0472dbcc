"""The Whoosh engine under a stream of single saves: each web worker's searcher follows the
index by reopening only new segments, and merging small segments never delays a save."""

import io
import logging
import os
import threading
from pathlib import Path

import pytest
from django.conf import settings
from whoosh.query import Term
from whoosh.reading import SegmentReader
from whoosh.writing import SegmentWriter

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
    assert writer.settle(30)  # the merges run in a thread of their own
    assert len(reader.match("sit").pks) == 30
    assert len(leaves(reader)) < 10  # thirty one-document segments were merged as they came
    assert reader.doc_count() == 80


def test_merges_after_saves_are_bounded_and_leave_large_segments_alone(tmp_path, monkeypatch):
    """Saves' segments merge by tiers: a few small segments wait in each tier, a merge
    rewrites at most MERGE_FACTOR segments of under MERGE_MAX_DOCS documents each, and a
    large segment (a rebuild's) is never rewritten by a save. Whoosh's MERGE_SMALL merged a
    large segment into the small ones once enough of them had gathered."""
    monkeypatch.setattr(engine, "MERGE_MAX_DOCS", 64)
    writer = WhooshBackend(tmp_path / "idx")
    writer.rebuild(doc(pk, f"report {pk}", "Demonstrators gathered.") for pk in range(1, 301))
    big = {s.segment().segment_id(): s.doc_count_all() for s in leaves(writer)}  # one per process
    assert min(big.values()) >= 64
    rewritten = []
    add_reader = SegmentWriter.add_reader

    def watched(self, reader):  # what a merge copies into its new segment
        rewritten.append(reader.doc_count_all())
        return add_reader(self, reader)

    monkeypatch.setattr(SegmentWriter, "add_reader", watched)
    for pk in range(1000, 1200):
        writer.write(upsert=[doc(pk, f"save {pk}", "Sit-in.")])
        assert writer.settle(30)
        segments = leaves(writer)
        ids = [s.segment().segment_id() for s in segments]
        assert set(big) <= set(ids)
        small = [s for s in segments if s.segment().segment_id() not in big]
        # At most MERGE_FACTOR - 1 per tier (1-3, 4-15, 16-63), and the finished ones of 64+.
        assert len([s for s in small if s.doc_count_all() < 64]) <= 3 * 3
    assert len(writer.match("sit").pks) == 200
    assert writer.doc_count() == 500
    assert rewritten and max(rewritten) < 64 and not set(big.values()) & set(rewritten)
    # The saves merge by tiers: 200 saves rewrote each document a few times, not 200.
    assert sum(rewritten) < 200 * 5
    writer.close()


def test_a_failed_merge_never_undoes_the_save(built, monkeypatch, caplog):
    writer, reader = built

    def full_disk(_segments):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(engine, "tiered_merge", full_disk)  # merging fails, as on a full disk
    with caplog.at_level(logging.ERROR, logger=engine.__name__):
        writer.write(upsert=[doc(200, "Saved before the merge")])
        assert writer.settle(30)
    assert reader.match("merge").pks == [200]
    assert "merging small index segments failed" in caplog.text
    assert "No space left on device" in caplog.text


class PausedMerge:
    """Holds the merging thread inside its copy of the first source segment until released,
    so that a test can save, delete or rebuild while a merge is half-written."""

    def __init__(self, monkeypatch):
        self.started, self.release = threading.Event(), threading.Event()
        add_reader = SegmentWriter.add_reader

        def paused(writer, reader):
            if threading.current_thread().name == "index-merge" and not self.started.is_set():
                self.started.set()
                assert self.release.wait(30)
            return add_reader(writer, reader)

        monkeypatch.setattr(SegmentWriter, "add_reader", paused)


def in_time(action, seconds=30):
    """Run `action` in a thread; fail if it has not finished within `seconds`."""
    errors = []

    def run():
        try:
            action()
        except BaseException as exc:  # reported in the test's thread
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "waited for the merge"
    assert not errors, errors


def test_saves_and_deletions_during_a_merge_are_neither_delayed_nor_lost(built, monkeypatch):
    """A merge copies its sources outside the writer lock: saves go on committing and are
    searchable at once, and what they delete from the sources meanwhile is deleted from the
    merged segment when it takes their place (each document once, its latest version)."""
    writer, reader = built
    writer.write(upsert=[doc(pk, f"batch {pk}", "Picket.") for pk in range(100, 106)])  # one segment
    writer.write(upsert=[], delete=[101])  # a source with a deletion before the merge
    assert writer.settle(30)
    paused = PausedMerge(monkeypatch)
    for pk in range(200, 204):  # the fourth segment of tier 0 starts a merge
        writer.write(upsert=[doc(pk, f"single {pk}", "Picket.")])
    assert paused.started.wait(30)

    def saves_during_the_merge():
        writer.write(upsert=[doc(102, "batch 102 renamed", "Vigil.")])
        writer.write(upsert=[], delete=[104, 201])
        writer.write(upsert=[doc(300, "during the merge", "Picket.")])

    in_time(saves_during_the_merge)
    assert reader.match("vigil").pks == [102] and reader.match('"during the merge"').pks == [300]
    paused.release.set()
    assert writer.settle(30)

    expected = {pk: f"s{pk}-report {pk}" for pk in range(1, 51)}
    expected.update({pk: f"s{pk}-batch {pk}" for pk in (100, 103, 105)})
    expected.update({102: "s102-batch 102 renamed", 300: "s300-during the merge"})
    expected.update({pk: f"s{pk}-single {pk}" for pk in (200, 202, 203)})
    for backend in (writer, reader):
        assert backend.stamps() == expected
        assert backend.doc_count() == len(expected)
    assert sorted(reader.match("picket").pks) == [100, 103, 105, 200, 202, 203, 300]
    assert reader.match("vigil").pks == [102]
    merged = [leaf for leaf in leaves(reader) if leaf.segment().segment_id().startswith(engine.MERGE_PREFIX)]
    # 200-203 merged first (201 deleted in it at the swap); then that segment, the batch's
    # three left, 102 and 300 (tier 0 again) into one of eight, all live.
    assert [(leaf.doc_count_all(), leaf.doc_count()) for leaf in merged] == [(8, 8)]
    assert not list(writer.path.glob("*.tmp"))


def test_a_rebuild_during_a_merge_wins_and_leftovers_are_removed(built, monkeypatch):
    writer, reader = built
    paused = PausedMerge(monkeypatch)
    for pk in range(200, 204):
        writer.write(upsert=[doc(pk, f"single {pk}", "Picket.")])
    assert paused.started.wait(30)
    # A merge's files that no table of contents lists: a process killed while merging.
    (writer.path / f"{engine.MERGE_PREFIX}{engine.INDEX_NAME}_deadbeef.seg").write_bytes(b"half")
    in_time(lambda: writer.rebuild(doc(pk, f"report {pk}", "Rebuilt.") for pk in range(1, 11)))
    paused.release.set()
    assert writer.settle(30)
    assert sorted(reader.stamps()) == list(range(1, 11))  # the merge's sources were gone: dropped
    assert sorted(reader.match("rebuilt").pks) == list(range(1, 11))
    assert not list(writer.path.glob(f"{engine.MERGE_PREFIX}*"))
    assert not any(leaf.segment().segment_id().startswith(engine.MERGE_PREFIX) for leaf in leaves(reader))


def test_a_merge_waits_for_no_writer_and_one_process_merges_at_a_time(built):
    """While another process holds the merge lock, a save's merge is left to it; the save
    is not held up either way."""
    import fcntl

    writer, reader = built
    with open(writer.path / engine.MERGE_LOCK_FILE, "a+") as other:
        fcntl.flock(other.fileno(), fcntl.LOCK_EX)
        for pk in range(200, 204):
            writer.write(upsert=[doc(pk, f"single {pk}", "Picket.")])
        assert writer.settle(30)
        assert len(leaves(reader)) == 1 + 4  # nothing merged
    assert writer.merge_small_segments()
    assert len(leaves(reader)) == 2 and sorted(reader.match("picket").pks) == [200, 201, 202, 203]
    assert not writer.merge_small_segments()  # nothing left to merge


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


def test_pickles_in_a_mapped_file_are_loaded_with_a_look_ahead_not_byte_by_byte():
    """Whoosh loads each posting block's header with `pickle.load` from the segment's file:
    through the map, with `peek`, that is two reads a header instead of one per opcode."""
    import pickle

    from articles.search.whoosh.storage import _View

    headers = [(i, 1_000 + i, [3, 1, 4] * i, "block", 0.5 * i) for i in range(50)]
    view = _View(memoryview(b"".join(pickle.dumps(h, 2) for h in headers)))
    reads = []
    real = view.read
    view.read = lambda n=-1: reads.append(n) or real(n)
    assert [pickle.load(view) for _ in headers] == headers
    assert view.tell() == view.size
    assert len(reads) <= 2 * len(headers)


def test_positions_of_blocks_are_decoded_together_or_value_by_value():
    """A block's position lists are unpickled in one call; values whose counts differ from
    the postings' weights (another boost, another encoding) are decoded one by one."""
    import numpy as np
    from whoosh.formats import Positions

    from articles.search.whoosh.columns import _decoded_positions

    lists = [[0, 7, 300], [5], [70_000, 70_001], list(range(0, 600, 3))]
    values = [Positions().encode(p) for p in lists]
    flat = [p for found in lists for p in found]
    counts = np.array([len(p) for p in lists], dtype=np.int64)
    for weights in (counts.astype(np.float64), counts * 2.0):
        found_counts, positions = _decoded_positions(values, weights)
        assert found_counts.tolist() == counts.tolist() and positions.tolist() == flat
    found_counts, positions = _decoded_positions(
        [v + b"." if not v.endswith(b".") else v[:-1] for v in values], counts
    )
    assert found_counts.tolist() == counts.tolist() and positions.tolist() == flat


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


def test_field_lengths_are_read_whole_as_whoosh_reads_them_one_by_one(tmp_path):
    """BM25 needs every document's field length: read as one slice of the segment's file
    (a rebuild's segment and a save's compound one), equal to Whoosh's own answers,
    including the documents after the last one that has the field."""
    from articles.search.whoosh.columns import _field_lengths

    writer = WhooshBackend(tmp_path / "idx")
    docs = [doc(pk, f"report {pk}", "word " * (pk * 7 % 300)) for pk in range(1, 41)]
    for d in docs[:25]:
        d["city"] = "Almaty ; Alma-Ata" if d["pk"] % 2 else ""
    writer.rebuild(docs)
    writer.write(upsert=[doc(99, "Compound segment", "Sit-in " * 40)])
    checked = 0
    for leaf in leaves(writer):
        n = leaf.doc_count_all()
        for field in ("body", "title", "city", "text", "prefix"):
            if field not in leaf.schema:
                continue
            one_by_one = [leaf.doc_field_length(d, field) or 0 for d in range(n)]
            assert _field_lengths(leaf, field, n).tolist() == one_by_one
            checked += 1
    assert checked >= 6 and any(leaf.segment().is_compound() for leaf in leaves(writer))
    writer.close()


def test_a_writers_posting_runs_are_compressed_and_give_the_same_index(tmp_path, monkeypatch):
    """A writer that outgrows its memory sorts its postings through temporary run files
    (13 GB of them for a 718 MB index at 100,000 reports): Whoosh's pool writes them through
    gzip, the bulk writer's word fields as sorted arrays (bulk.py), and the index built
    through them answers as one built in memory."""
    import random

    from articles.search.whoosh import bulk, runs

    rng = random.Random(5)
    words = [f"word{i}" for i in range(3000)] + ["police", "detained", "strike"]
    reports = [doc(pk, f"report {pk}", " ".join(rng.choices(words, k=300))) for pk in range(1, 401)]
    seen = tmp_path / "runs.txt"  # appended to by every writing process (the rebuild forks)
    open_run = runs.CompressedPool._open_run
    spill = bulk.FieldPostings._spill

    def watched(pool, name):
        with open(pool._path(name), "rb") as run, open(seen, "a") as log:
            log.write(run.read(2).hex() + "\n")
        return open_run(pool, name)

    def watched_spill(postings):
        before = len(postings.runs)
        spill(postings)
        if len(postings.runs) > before:
            with open(seen, "a") as log:
                log.write(f"{postings.name}\n")

    def answers(backend):
        return (
            backend.stamps(),
            [sorted(backend.match(text).pks) for text in ("police", '"report 12"', "word7 OR strike")],
        )

    in_memory = WhooshBackend(tmp_path / "memory")
    in_memory.rebuild(reports)
    monkeypatch.setattr(runs.CompressedPool, "_open_run", watched)
    monkeypatch.setattr(bulk.FieldPostings, "_spill", watched_spill)
    monkeypatch.setattr(engine, "LIMIT_MB", 1)
    monkeypatch.setattr(bulk, "RUN_POSTINGS", 5_000)
    through_runs = WhooshBackend(tmp_path / "runs")
    through_runs.rebuild(reports)
    logged = seen.read_text().split()
    pooled = [line for line in logged if line == "1f8b"]  # each a gzip stream
    assert pooled and all(line == "1f8b" or line in bulk.array_fields(through_runs.schema) for line in logged)
    assert logged.count("body") > 4 and logged.count("text") > 4  # several runs of arrays
    expected = answers(in_memory)
    assert answers(through_runs) == expected
    assert len(expected[0]) == 400 and all(expected[1])
    assert not list((tmp_path / "runs").glob("*.tmp/*"))  # the runs are gone
    in_memory.close()
    through_runs.close()


def test_posting_arrays_hold_whooshs_lists_and_give_the_same_answers(tmp_path, monkeypatch):
    """A large segment's long posting lists are written beside it as flat arrays
    (arrays.py) that every reader maps instead of decoding Whoosh's blocks. They must hold
    exactly Whoosh's lists, give the same answers as the blocks, be ignored when damaged,
    and go with their segment."""
    import random

    from articles.search.criteria import Criteria
    from articles.search.whoosh import arrays
    from articles.search.whoosh import columns as columns_module
    from articles.search.whoosh.columns import _positions_of, _postings_of

    monkeypatch.setattr(arrays, "MIN_SEGMENT_DOCS", 100)
    monkeypatch.setattr(arrays, "MIN_DOCS", 20)
    rng = random.Random(3)
    words = "police detained protesters rally almaty strike workers court election capital".split()

    def report(pk):
        d = doc(pk, f"Report {pk} {rng.choice(words)}", " ".join(rng.choices(words, k=rng.randint(3, 60))))
        d.update(date=18_000 + pk % 400, city_ids=[pk % 7], actor_ids=[pk % 11, 20 + pk % 3])
        return d

    written = tmp_path / "written.txt"  # appended to by every process that writes arrays
    write_arrays = arrays.write

    def logged(folder, reader, *args):
        started = args[3] if len(args) > 3 else None  # the fields the bulk writer wrote as it went
        with open(written, "a") as log:
            done = ",".join(sorted(started.done)) if started is not None else "-"
            log.write(f"{os.getpid()} {reader.segment().segment_id()} {done}\n")
        return write_arrays(folder, reader, *args)

    monkeypatch.setattr(arrays, "write", logged)
    path = tmp_path / "idx"
    writer = WhooshBackend(path)
    writer.rebuild(report(pk) for pk in range(1, 401))
    big = [leaf for leaf in leaves(writer) if leaf.doc_count_all() >= 100]
    assert big
    # Each large segment's arrays were written once, by the process that wrote the segment.
    lines = [line.split() for line in written.read_text().splitlines()]
    assert sorted(segment for _, segment, _ in lines) == sorted(leaf.segment().segment_id() for leaf in big)
    if engine.PROCS > 1:
        assert str(os.getpid()) not in {pid for pid, _, _ in lines}
    # The word fields' lists went to the arrays as the bulk writer wrote them; the entities'
    # (and the names', empty here) were read back from the segment.
    assert {done for _, _, done in lines} == {"body,prefix,text,title"}
    checked = 0
    for leaf in big:
        found = arrays.load(path, leaf.segment().segment_id(), leaf.doc_count_all())
        assert found is not None and found.covers("text") and found.covers("city_ids")
        for field in ("text", "prefix", "city_ids", "actor_ids"):
            for term in found.field_terms(field):
                ids, tf = found.get(field, term)
                expected_ids, expected_tf = _postings_of(leaf.postings(field, term))
                assert ids.tolist() == expected_ids.tolist() and tf.tolist() == expected_tf.tolist()
                checked += 1
        # Short lists stay in Whoosh's blocks only.
        assert all(leaf.doc_frequency("text", t) >= 20 for t in found.field_terms("text"))
    assert checked > 30
    # The same arrays as reading every field back from the segment's blocks.
    for leaf in big:
        segment_id, n = leaf.segment().segment_id(), leaf.doc_count_all()
        again = tmp_path / f"again-{segment_id}"
        again.mkdir()
        write_arrays(again, leaf, writer._array_fields(), _postings_of, _positions_of)
        ours, theirs = arrays.load(path, segment_id, n), arrays.load(again, segment_id, n)
        assert ours.terms.keys() == theirs.terms.keys() and "body" in theirs.terms
        assert len(ours.ids) == len(theirs.ids) and len(ours.positions) == len(theirs.positions) > 0
        for field in theirs.terms:
            assert sorted(ours.field_terms(field)) == sorted(theirs.field_terms(field))
            for term in theirs.field_terms(field):
                assert [a.tolist() for a in ours.get(field, term)] == [
                    a.tolist() for a in theirs.get(field, term)
                ]
                mine, other = ours.get_positions(field, term), theirs.get_positions(field, term)
                assert (mine is None) == (other is None)
                if other is not None:
                    assert [a.tolist() for a in mine] == [a.tolist() for a in other]
    writer.write(upsert=[report(5)], delete=[6, 7])  # deletions in a segment with arrays

    queries = [
        Criteria(q="police detained", sort="relevance"),
        Criteria(q="strike workers court election capital almaty rally protesters", sort="relevance"),
        Criteria(q="election", entities=(("city", (3,)),)),
        Criteria(entities=(("actor", (21,)),), sort="oldest"),
    ]

    def answers():
        reader = WhooshBackend(path)
        try:
            reader._open_searcher()
            used = [c.arrays is not None for c, _ in reader._columns.segments]
            result = []
            for criteria in queries:
                selection = reader.select(criteria)
                result.append(
                    (
                        selection.count(),
                        selection.pks(0, 30),
                        selection.counts("city"),
                        selection.counts("actor"),
                    )
                )
            return used, result
        finally:
            reader.close()
            columns_module.forget_segments(set())  # as a new process: nothing cached

    used, with_arrays = answers()
    assert any(used)
    for base in path.glob("*.arrays.terms.json"):
        ids_file = Path(str(base).removesuffix(".terms.json") + ".ids.npy")
        ids_file.write_bytes(ids_file.read_bytes()[:-40])  # damaged: ignored
    used, from_blocks = answers()
    assert not any(used)
    assert from_blocks == with_arrays
    assert with_arrays[0][0] > 0 and with_arrays[3][0] > 0

    writer.rebuild(report(pk) for pk in range(1, 401))  # new segments, new arrays, old ones gone
    segment_ids = {leaf.segment().segment_id() for leaf in leaves(writer)}
    on_disk = {p.name.split(".")[0] for p in path.glob("*.arrays.*")}
    assert on_disk and on_disk <= segment_ids
    assert not list(path.glob("*.tmp"))
    writer.close()


def test_arrays_written_before_positions_are_read_until_a_bulk_write_renews_them(tmp_path, monkeypatch):
    """An index whose arrays were written before they held positions (version 1) keeps
    using them for its posting lists, reads its phrases' positions from Whoosh's blocks
    with the same answers, and gets positions at its next bulk write."""
    import json
    import random

    from articles.search.criteria import Criteria
    from articles.search.whoosh import arrays
    from articles.search.whoosh import columns as columns_module

    monkeypatch.setattr(arrays, "MIN_SEGMENT_DOCS", 100)
    monkeypatch.setattr(arrays, "MIN_DOCS", 20)
    rng = random.Random(5)
    words = "police fired tear gas protesters strike workers court".split()
    path = tmp_path / "idx"
    writer = WhooshBackend(path)
    writer.rebuild(
        doc(pk, f"Report {pk}", " ".join(rng.choices(words, k=rng.randint(3, 60)))) for pk in range(1, 301)
    )
    queries = [
        Criteria(q='"tear gas"', sort="relevance"),
        Criteria(q='"police fired" strike', sort="relevance"),
    ]

    def answers():
        reader = WhooshBackend(path)
        try:
            reader._open_searcher()
            versions = [c.arrays.version for c, _ in reader._columns.segments if c.arrays is not None]
            found = []
            for criteria in queries:
                selection = reader.select(criteria)
                found.append((selection.count(), selection.pks(0, 50)))
            return versions, found
        finally:
            reader.close()
            columns_module.forget_segments(set())

    versions, current = answers()
    assert versions and set(versions) == {arrays.VERSION} and all(count for count, _ in current)
    for table_path in path.glob("*.arrays.terms.json"):  # as version 1 wrote them
        table = json.loads(table_path.read_text())
        table["version"] = 1
        del table["positions"]
        table["fields"] = {
            f: {t: where[:2] for t, where in terms.items()} for f, terms in table["fields"].items()
        }
        table_path.write_text(json.dumps(table))
        Path(str(table_path).removesuffix(".terms.json") + ".pos.npy").unlink()
    versions, older = answers()
    assert versions and set(versions) == {1}
    assert older == current
    writer.write(upsert=[doc(1_000, "Report", "tear gas")], bulk=True)
    versions, renewed = answers()
    assert versions and set(versions) == {arrays.VERSION}
    assert [count for count, _ in renewed] == [current[0][0] + 1, current[1][0]]
    writer.close()


def test_integer_columns_are_read_whole_as_whoosh_reads_them_one_by_one(tmp_path):
    """pk_number and date (signed 64-bit NUMERIC columns) read as one slice of the file,
    equal to Whoosh's own column reader, in a rebuild's segment and a save's compound one,
    dates before 1970 and missing ones included."""
    from articles.search.schema import NO_DATE
    from articles.search.whoosh.columns import _integer_column

    writer = WhooshBackend(tmp_path / "idx")
    docs = [doc(pk, f"report {pk}") for pk in range(1, 41)]
    for d in docs:
        d["date"] = NO_DATE if d["pk"] % 4 == 0 else (d["pk"] - 20) * 400  # days from 1970
    writer.rebuild(docs)
    writer.write(upsert=[doc(2**40, "Compound segment")])  # no date given: the engine's default
    checked = 0
    for leaf in leaves(writer):
        n = leaf.doc_count_all()
        for field in ("pk_number", "date"):
            fast = _integer_column(leaf, field, n)
            assert fast is not None
            assert fast.tolist() == list(leaf.column_reader(field))
            checked += 1
    assert checked >= 4 and any(leaf.segment().is_compound() for leaf in leaves(writer))
    writer.close()


def _resident_kb(folder) -> int:
    """This process's resident pages (kB) of mapped files under `folder`."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5 and ":" in head[3]:  # a mapping's line
            inside = len(head) > 5 and head[5].startswith(str(folder))
        elif inside and line.startswith("Rss:"):
            total += int(head[1])
    return total


needs_madvise = pytest.mark.skipif(
    not Path("/proc/self/smaps").exists() or not hasattr(__import__("mmap").mmap, "madvise"),
    reason="resident pages per mapping are read from Linux's /proc/self/smaps",
)


@needs_madvise
def test_a_process_lets_the_index_pages_it_read_go_past_its_budget(tmp_path, monkeypatch):
    """Pages of the index a process has read through its maps (segments and posting arrays)
    counted in its resident set until the map closed: 750-800 MB per web worker at 100,000
    reports. Past the budget, trim() lets them go, and reading them again gives the same."""
    from articles.search.criteria import Criteria
    from articles.search.whoosh import arrays, storage

    monkeypatch.setattr(arrays, "MIN_SEGMENT_DOCS", 100)
    monkeypatch.setattr(arrays, "MIN_DOCS", 20)
    words = "police detained protesters rally almaty strike workers court election capital".split()
    path = tmp_path / "idx"
    writer = WhooshBackend(path)
    writer.rebuild(
        doc(pk, f"Report {pk}", " ".join(words[(pk * k) % len(words)] for k in range(1, 40)))
        for pk in range(1, 3001)
    )
    assert list(path.glob("*.arrays.ids.npy"))
    reader = WhooshBackend(path)
    queries = [
        Criteria(q="police detained", sort="relevance"),
        Criteria(q='"strike workers"'),
        Criteria(q="almaty"),
    ]

    def answers():
        return [(s.count(), s.pks(0, 20)) for s in map(reader.select, queries)]

    first = answers()
    assert first[0][0] > 0
    read = _resident_kb(path)
    assert read > 0
    assert not storage.trim(budget_mb=1e9)  # within the budget: kept
    assert _resident_kb(path) == read
    assert storage.trim(budget_mb=0)
    assert _resident_kb(path) == 0
    assert answers() == first  # mapped again, the same bytes
    assert _resident_kb(path) > 0
    writer.close()
    reader.close()


@needs_madvise
def test_each_request_ends_with_the_index_pages_it_read_let_go_past_the_budget(seeded, client, monkeypatch):
    """A web worker trims after each request: its resident set stays its own memory and the
    budget, whatever it has read of the index."""
    from articles.search.whoosh import storage

    monkeypatch.setattr(storage, "MAPPED_BUDGET_MB", 1e9)
    assert client.get("/search/", {"q": "protest"}).status_code == 200
    assert _resident_kb(seeded) > 0
    monkeypatch.setattr(storage, "MAPPED_BUDGET_MB", 0)
    assert client.get("/search/", {"q": "protest"}).status_code == 200
    assert _resident_kb(seeded) == 0
