"""The Whoosh engine's documents are analysed once, token by token from a cache
(analysis.TokenCache), handed to Whoosh as lists of words, and written by the writer of
runs.py (compressed runs pickled in batches, field lengths by slices, posting blocks filled a
word at a time). The index must hold exactly what Whoosh builds from the texts itself: every
field's words and term table rows, postings (document, weight, positions) with their blocks'
bounds, and lengths."""

import json
import random
from array import array
from pathlib import Path

from whoosh import index, writing
from whoosh.codec.whoosh3 import W3FieldWriter, W3PostingsWriter
from whoosh.writing import SegmentWriter

from articles.search.schema import PREFIX_FIELD, QUERY_FIELDS, TEXT_FIELD, TITLE_REPEAT
from articles.search.whoosh import WhooshBackend, runs
from articles.search.whoosh.analysis import SPELLING_PATTERN, TOKEN_PATTERN, TokenCache
from articles.search.whoosh.bulk import BulkSegmentWriter
from articles.search.whoosh.bulk import array_fields as bulk_array_fields

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "seed_articles.json"

#: Tokens that any step of the analysis treats specially: stop words and one-letter words,
#: Cyrillic (stemmed as Russian), accents (folded after stemming), British spellings,
#: dotted abbreviations, digits, underscores, apostrophes and hyphens, case that changes a
#: word's length when lowered (İ), ligatures, ß, titlecase digraphs, full-width digits.
TRICKY = (
    "The U.S. and the E.U. a b c I protesters PROTESTED in Nur-Sultan (Astana) on 16.12.2011; "
    "Toqáev, Tokayev, Токаев and Назарбаев: митинга, митингах, митинги, Митинг. "
    "İstanbul, ISTANBUL, Straße, STRASSE, ﬁnance, ǅemal, ２０１９, 2019, 3.5, 1,000 people's "
    "organised randomised tumour haemorrhage paediatric rock'n'roll foo_bar __init__ "
    "a.b.c. x.y Zhanaozen Жанаозен Қазақстан Алматы café CAFÉ naïve Ёлка ёлка"
)


def _corpus():
    rng = random.Random(11)
    records = [r["fields"] for r in json.loads(FIXTURE.read_text()) if r["model"] == "articles.article"]
    texts = [(r["title"], r["body"]) for r in records] + [("", TRICKY), (TRICKY, ""), ("", "")]
    words = TRICKY.split() + [w for title, body in texts for w in (title + " " + body).split()][:2000]
    for _ in range(300):
        texts.append(
            (" ".join(rng.choices(words, k=rng.randint(0, 12))), " ".join(rng.choices(words, k=300)))
        )
    return texts


def _postings(ix) -> dict:
    """Every indexed field's words, each with its postings (document, weight, value), and
    each document's length in the field. Positions are counted from the document's first
    word in the field: Whoosh's stop filter numbers a text's words from the place of the
    first one it keeps (1 for a text opening with "The"), a list's from 0, and phrases only
    compare positions with each other."""
    with ix.searcher() as searcher:
        reader = searcher.reader()
        found = {}
        for fieldname in ix.schema.names():
            field = ix.schema[fieldname]
            if not field.indexed:
                continue
            terms, first = {}, {}
            for text in reader.lexicon(fieldname):
                matcher, postings = reader.postings(fieldname, text), []
                while matcher.is_active():
                    if field.format.supports("positions"):
                        value = matcher.value_as("positions")
                        first[matcher.id()] = min(first.get(matcher.id(), value[0]), value[0])
                    else:
                        value = matcher.value()
                    # and the bounds of its block, which the writer takes from the field lengths
                    bounds = (
                        matcher.block_min_length(),
                        matcher.block_max_length(),
                        matcher.block_max_weight(),
                    )
                    postings.append((matcher.id(), matcher.weight(), value, bounds))
                    matcher.next()
                info = reader.term_info(fieldname, text)  # the term table's row
                stats = (
                    info.doc_frequency(),
                    info.weight(),
                    info.min_length(),
                    info.max_length(),
                    info.max_weight(),
                )
                terms[text] = (stats, postings)
            if first:
                terms = {
                    text: (
                        stats,
                        [(d, w, [p - first[d] for p in positions], b) for d, w, positions, b in postings],
                    )
                    for text, (stats, postings) in terms.items()
                }
            lengths = [reader.doc_field_length(d, fieldname) for d in range(reader.doc_count_all())]
            found[fieldname] = (terms, lengths)
        return found


def test_a_token_cache_gives_the_analyzers_own_words():
    schema = WhooshBackend("/nonexistent").schema  # the schema only; nothing opened
    analyzer = schema["body"].analyzer
    cache = TokenCache(analyzer, TOKEN_PATTERN)
    for title, body in _corpus():
        for text in (title, body, TRICKY.upper(), TRICKY.lower()):
            expected = [t.text for t in analyzer(text, positions=True, mode="index") if not t.stopped]
            assert cache.words(text) == expected
            assert cache.words(text) == expected  # from the cache this time
    assert "митинг" in cache.words("митингах") and "protest" in cache.words("PROTESTERS")


def test_the_spelling_words_of_a_text_come_from_its_split_into_tokens():
    """The spelling field's words are taken from the text's tokens as the body's analysis
    split them (backend._fields: the text is not split again): each TOKEN_PATTERN token is
    words of SPELLING_PATTERN joined by dots, and the spelling analyzer splits it so."""
    analyzer = WhooshBackend("/nonexistent").schema["spell"].analyzer
    words = TokenCache(WhooshBackend("/nonexistent").schema["body"].analyzer, TOKEN_PATTERN)
    spelling = TokenCache(analyzer, SPELLING_PATTERN)
    for title, body in _corpus():
        for text in (title, body, TRICKY.upper(), f"{title} azattyq.org 16.12.2011 rfe.rl.org.kz"):
            expected = [t.text for t in analyzer(text, mode="index") if not t.stopped]
            assert spelling.words_of(words.tokens(text)) == expected
            assert spelling.words(text) == expected
    assert spelling._words.split  # a dotted token ("azattyq.org") gave several words
    assert spelling.words_of(words.tokens("U.S. 16.12.2011 azattyq.org")) == ["2011", "azattyq", "org"]


def _index(path, schema, documents, writer_class=SegmentWriter, **writer_options):
    path.mkdir()
    ix = index.create_in(str(path), schema, indexname="articles")
    writer = writer_class(ix, **writer_options)
    for fields in documents:
        writer.add_document(**fields)
    writer.commit()
    return ix


def test_an_index_of_analysed_words_holds_what_whoosh_builds_from_the_texts(tmp_path, monkeypatch):
    """Ours: the words analysed once and cached, postings sorted through compressed runs in
    batches (a 1 MB limit: several runs), field lengths by slices, blocks filled a term at a
    time; and the bulk writer's (bulk.py: the word-counting fields as arrays, in runs of
    500 postings), given the analysed words and given the texts. Whoosh's: every field
    given its text, sorted in memory, written posting by posting."""
    backend = WhooshBackend(tmp_path / "unused")
    docs = [
        {
            "pk": pk,
            "title": title,
            "body": body,
            "language": "en",
            "stamp": f"s{pk}",
            "city": "Almaty ; Алматы",
            "actor": "Toqáev ; Tokayev",
            "source": "RFE/RL",
            "country": "Kazakhstan",
        }
        for pk, (title, body) in enumerate(_corpus(), start=1)
    ]

    def whooshs_fields(d):
        fields = backend._fields(d)
        fields.update({name: d.get(name, "") for name in QUERY_FIELDS})
        fields[TEXT_FIELD] = fields[PREFIX_FIELD] = " ".join([d["title"]] * TITLE_REPEAT + [d["body"]])
        fields["spell"] = " ".join(d.get(name, "") for name in QUERY_FIELDS)
        return fields

    ours = _index(tmp_path / "ours", backend.schema, [backend._fields(d) for d in docs], limitmb=1)
    bulk = _index(
        tmp_path / "bulk",
        backend.schema,
        [backend._fields(d) for d in docs],
        BulkSegmentWriter,
        limitmb=1,
        run_postings=500,
    )
    bulk_texts = _index(
        tmp_path / "bulk_texts",
        backend.schema,
        [whooshs_fields(d) for d in docs],
        BulkSegmentWriter,
        run_postings=500,
    )
    assert set(bulk_array_fields(backend.schema)) == {TEXT_FIELD, PREFIX_FIELD, "spell", *QUERY_FIELDS}

    monkeypatch.setattr(W3FieldWriter, "add_postings", runs._add_postings)
    monkeypatch.setattr(W3PostingsWriter, "_mini_ids", runs._whooshs_mini_ids)
    monkeypatch.setattr(W3PostingsWriter, "_mini_weights", runs._whooshs_mini_weights)
    monkeypatch.setattr(writing, "PostingPool", runs.CompressedPool.__bases__[0])
    ix = _index(tmp_path / "whooshs", backend.schema, [whooshs_fields(d) for d in docs])

    expected = _postings(ix)
    for built in (ours, bulk, bulk_texts):
        found = _postings(built)
        assert found.keys() == expected.keys()
        for fieldname in expected:
            assert found[fieldname] == expected[fieldname], fieldname
    # Given the same words, the bulk writer's segment is the other writer's, byte for byte
    # (Whoosh's own numbers a text's positions from its first kept word: see _postings).
    assert _segment_files(bulk) == _segment_files(ours)
    # Not empty on either side: the words the tricky text is known to give are there.
    body_terms = expected["body"][0]
    assert {"митинг".encode(), b"toqaev", b"protest", b"istanbul"} <= set(body_terms)
    assert sum(len(p) for _, p in body_terms.values()) > 5_000
    assert max(len(p) for _, p in body_terms.values()) > 2 * 128  # words of several blocks
    text_terms = expected[TEXT_FIELD][0]
    assert sum(len(p) for _, p in text_terms.values()) > 500 * 10  # many runs of the bulk writer
    assert max(len(p) for _, p in text_terms.values()) > 2 * 128


def test_a_blocks_documents_and_weights_are_minified_as_whoosh_minifies_them():
    """runs._mini_ids and _mini_weights (installed for every writer) give what Whoosh's own
    give, for blocks of one and many postings, equal and unequal weights."""
    rng = random.Random(7)
    block = W3PostingsWriter.__new__(W3PostingsWriter)
    block._byteids = False
    kinds = []
    for n in (1, 2, 5, 128):
        mixed = [rng.choice([1.0, 2.0, 3.0]) for _ in range(n)]
        for weights in ([1.0] * n, [2.5] * n, mixed, [1.0] * (n - 1) + [4.0]):
            block._ids = array("I", sorted(rng.sample(range(100_000), n)))
            block._weights = array("f", weights)
            ids, minified = runs._mini_ids(block), runs._mini_weights(block)
            assert ids == runs._whooshs_mini_ids(block)
            assert ids[0] == block._ids[0] and sum(ids) == block._ids[-1]  # gaps
            assert minified == runs._whooshs_mini_weights(block)
            assert type(minified) is type(runs._whooshs_mini_weights(block))
            kinds.append(type(minified).__name__)
    assert set(kinds) == {"NoneType", "float", "tuple"}
    block._byteids, block._ids = True, ["b", "a"]  # vectors' ids: words, kept as they are
    assert runs._mini_ids(block) == runs._whooshs_mini_ids(block) == ("b", "a")


def _segment_files(ix) -> dict:
    """The bytes of each file of the index's one segment, by its name after the segment's."""
    (segment,) = ix._segments()
    storage = segment.open_compound_file(ix.storage) if segment.is_compound() else ix.storage
    prefix = segment.make_filename("")
    found = {}
    for name in storage.list():
        with storage.open_file(name) as f:
            found[name.removeprefix(prefix)] = f.read()
    assert len(found) > 3
    return found


def test_a_full_token_cache_starts_again_and_still_answers(monkeypatch):
    analyzer = WhooshBackend("/nonexistent").schema["body"].analyzer
    cache = TokenCache(analyzer, TOKEN_PATTERN)
    monkeypatch.setattr(cache, "LIMIT", 3)
    expected = [t.text for t in analyzer(TRICKY, positions=True, mode="index") if not t.stopped]
    assert cache.words(TRICKY) == expected
    assert cache.words(TRICKY) == expected
    assert 0 < len(cache._words) <= 3


def test_a_words_position_values_laid_out_as_arrays_are_what_pickle_writes():
    """bulk._position_values builds the values of a word's many postings with numpy
    (`_pickled_gaps`): each must be `Positions.encode`'s bytes, its count and its gaps
    pickled (one byte, two or four per gap; one place or many; past pickle's batch of 1,000)."""
    from pickle import dumps

    import numpy as np
    from whoosh.formats import Positions

    from articles.search.whoosh import bulk

    rng = random.Random(5)
    encode = Positions().encode
    laid_out = 0
    for _ in range(60):
        counts = [rng.choice([1, 1, 2, 3, 9, rng.randint(1, 999)]) for _ in range(rng.randint(1, 600))]
        if rng.random() < 0.1:
            counts[0] = 1001  # longer than pickle's batch: pickled as pickle does it
        places = []
        for count in counts:
            start = rng.choice([0, 7, 255, 256, 65_535, 65_536, 300_000])
            places.append(sorted(rng.sample(range(start, start + 4 * count + 70_000), count)))
        tf = np.array(counts, dtype=np.uint32)
        found = bulk._position_values(tf, np.array([p for each in places for p in each], dtype=np.uint32))
        assert found == [encode(each) for each in places]
        laid_out += len(counts) >= bulk.VECTOR_VALUES and max(counts) <= 1000
    assert laid_out > 20
    assert dumps([5, 300, 70_000], 2) == b"\x80\x02]q\x00(K\x05M,\x01J\x70\x11\x01\x00e."  # K, M, J
