"""Search that finds what researchers mean: name variants, the matching rule, punctuation,
suggestions, fuzzy and prefix terms, related reports and Russian text."""

import datetime as dt

import pytest

from articles import search
from articles.search.query import is_sentence, minimum_should_match

from . import factories as f
from .html import read

pytestmark = pytest.mark.usefixtures("index")


def slugs(client, q, **params):
    response = client.get("/api/search/", {"q": q, "per_page": 100, **params})
    assert response.status_code == 200, response.content
    return [r["slug"] for r in response.json()["results"]]


@pytest.fixture
def names():
    tokayev = f.actor(
        "Kassym-Jomart Tokayev", aliases=["Toqaev", "Tokaev", "Tokayev", "Qasym-Zhomart Toqaev"]
    )
    astana = f.city("Astana", aliases=["Nur-Sultan", "Akmola"])
    linked = f.article("Picket in the capital", "Activists held posters.", actors=[tokayev], cities=[astana])
    # Not linked by a curator, but the text names him and the city under other spellings.
    unlinked = f.article("Statement by the president", "President Tokayev spoke in Nur-Sultan.")
    other = f.article("Farmers protest", "Farmers blocked a road near Taraz.")
    return {"tokayev": tokayev, "linked": linked, "unlinked": unlinked, "other": other}


def test_any_spelling_matches_every_other_spelling_in_the_text(client, names):
    expected = {names["linked"].slug, names["unlinked"].slug}
    for q in ("Toqaev", "tokaev", "Kassym-Jomart Tokayev", "Qasym-Zhomart Toqaev", "TOQÁEV"):
        assert set(slugs(client, q)) == expected, q
    assert set(slugs(client, "Akmola")) == expected
    # In syntax queries too, and as a quoted name.
    assert set(slugs(client, "Toqaev OR farmers")) == expected | {names["other"].slug}
    assert set(slugs(client, '"Qasym-Zhomart Toqaev"')) == expected


def test_field_queries_accept_any_alias(client, names):
    assert slugs(client, "actor:toqaev") == [names["linked"].slug]
    assert slugs(client, "city:akmola") == [names["linked"].slug]


def test_a_new_alias_expands_queries_at_once(client, names):
    assert slugs(client, "Tokaeff") == []
    names["tokayev"].aliases.create(name="Tokaeff")
    assert set(slugs(client, "Tokaeff")) == {names["linked"].slug, names["unlinked"].slug}


def test_facets_roll_spellings_up_to_one_entity(client, names):
    data = client.get("/api/search/", {"q": "Toqaev"}).json()
    assert data["facets"]["actor"] == [
        {"value": "kassym-jomart-tokayev", "label": "Kassym-Jomart Tokayev", "count": 1, "selected": False}
    ]


@pytest.mark.parametrize("units, mm", [(1, 1), (2, 2), (3, 3), (4, 2), (5, 1), (8, 1), (20, 1)])
def test_minimum_should_match_rule(units, mm):
    assert minimum_should_match(units) == mm


@pytest.mark.parametrize("units, mm", [(1, 1), (2, 2), (3, 1), (4, 1), (5, 1)])
def test_minimum_should_match_of_a_sentence(units, mm):
    assert minimum_should_match(units, sentence=True) == mm


@pytest.mark.parametrize(
    "q, sentence",
    [
        ("DUSP4 decreases apoptosis.", True),
        ("Bone marrow transplantation treats acute myeloid leukemia (AML).", True),
        ("teachers strike pay.  ", True),
        ("teachers strike pay", False),
        ("teachers strike pay...", False),
        ("teachers strike pay!", False),
        ("teachers. strike pay", False),
    ],
)
def test_what_reads_as_a_sentence(q, sentence):
    assert is_sentence(q) is sentence


def test_a_short_sentence_is_asked_about_not_matched_word_for_word(client):
    """A claim of three words ending with a full stop ("DUSP4 decreases apoptosis.") is read
    as natural language: any of its words may match, best matches first. The same words
    typed as keywords still need every one of them."""
    both = f.article("Teachers strike over pay", "Teachers in Almaty went on strike over wages.")
    one = f.article("Teachers meet", "Teachers met the minister.")
    assert slugs(client, "teachers strike astana") == []
    assert slugs(client, "Teachers strike in Astana.") == [both.slug, one.slug]
    assert slugs(client, "teachers strike") == [both.slug]
    assert slugs(client, "Teachers strike.") == [both.slug]  # two words: both, as typed


def test_short_queries_need_every_word_long_ones_most(client):
    both = f.article("Teachers strike over pay", "Teachers in Almaty went on strike over wages.")
    one = f.article("Teachers meet", "Teachers met the minister.")
    assert slugs(client, "teachers strike") == [both.slug]
    assert slugs(client, "teachers strike almaty") == [both.slug]
    assert slugs(client, "teachers strike astana") == []  # three words: all of them
    # Longer, sentence-like queries match any of their words and rank by how well they
    # match: the report sharing most words comes first.
    assert slugs(client, "teachers in almaty strike over wages minister") == [both.slug, one.slug]
    assert set(slugs(client, "teachers met the minister about wages and pay")) == {one.slug, both.slug}
    assert slugs(client, "minister met nobody about nothing else today") == [one.slug]
    # One shared word is not enough for a four-word query; for a sentence it is.
    assert slugs(client, "teachers quarrel badminton tournament") == []
    assert set(slugs(client, "did the badminton tournament end in a quarrel of teachers")) == {
        one.slug,
        both.slug,
    }


def test_prefixes_rank_but_never_match_alone(client):
    # Words are also scored by their first four letters, so forms the stemmer keeps apart
    # (mitochondria, mitochondrial) still count; a shared prefix alone never lists a report.
    whole = f.article("Protest at the ministry", "Protesters gathered.")
    f.article("Protein prices", "Protein shakes cost more.")
    assert slugs(client, "protest") == [whole.slug]
    assert slugs(client, "protest ministry") == [whole.slug]


@pytest.mark.parametrize(
    "q, plain",
    [
        (
            "Vitamin D (cholecalciferol): do teachers' strike over pay in Almaty?",
            "vitamin cholecalciferol teachers strike pay almaty",
        ),
        ('Teachers "strike" over pay: a [report] -- from Almaty', "teachers strike pay report almaty"),
        ("teachers: strike", "teachers strike"),
        ("strike (almaty)", "strike almaty"),
        ("teachers-pay strike!", "teachers pay strike"),
        ("teachers' strike, 100% of wages", "teachers strike 100 wages"),
        ("'teachers strike'", "teachers strike"),
        ("strike\\", "strike"),
        ("teachers ) strike (", "teachers strike"),
        ("teachers - strike", "teachers strike"),
        ("teachers:strike", "teachers strike"),
    ],
)
def test_punctuation_never_errors_or_empties(client, q, plain):
    f.article("Teachers strike over pay", "Teachers in Almaty went on strike over wages.")
    f.article("Strike", "Report on a strike.")
    expected = slugs(client, plain)
    assert expected, plain
    assert slugs(client, q) == expected


def test_did_you_mean_for_words_that_match_nothing(client):
    f.article("Protesters detained in Almaty", "Police detained protesters.")
    data = client.get("/api/search/", {"q": "protesters detianed"}).json()
    assert data["count"] == 0
    assert data["query"]["corrected"] == "protesters detained"
    assert client.get("/api/search/", {"q": "protesters"}).json()["query"]["corrected"] is None
    page = read(client.get("/search/", {"q": "detianed"}))
    assert ("detained", "?q=detained") in page.links
    assert "Did you mean detained?" in page.visible


def test_suggestions_include_curated_names(client, names):
    data = client.get("/api/search/", {"q": "Tokaiev"}).json()
    assert data["query"]["corrected"] in {"tokayev", "tokaev"}


def test_fuzzy_and_prefix_terms(client):
    a = f.article("Opposition rally", "Supporters of Ablyazov rallied.")
    assert slugs(client, "ablyazof~") == [a.slug]
    assert slugs(client, "ablya*") == [a.slug]
    assert slugs(client, "rall*") == [a.slug]


def test_related_reports_are_published_similar_and_exclude_the_article(client):
    base = f.article(
        "Oil workers strike in Zhanaozen",
        "Oil workers in Zhanaozen went on strike demanding higher wages from the oil company.",
    )
    near = f.article(
        "Zhanaozen oil strike continues",
        "The strike of oil workers in Zhanaozen continued as the oil company refused wages.",
    )
    f.article(
        "Zhanaozen oil strike draft",
        "Oil workers strike Zhanaozen wages oil company.",
        status="draft",
        published=None,
    )
    f.article("Students march", "Students marched for cheaper transport.")
    related = client.get(f"/api/articles/{base.slug}/").json()["related"]
    assert [r["slug"] for r in related] == [near.slug]
    page = read(client.get(f"/articles/{base.slug}/"))
    assert ("Zhanaozen oil strike continues", f"/articles/{near.slug}/") in page.links


def test_russian_is_stemmed_as_russian_and_english_as_english(client):
    ru = f.article("Митинг в Алматы", "Сотни человек вышли на митинг против повышения цен.", language="ru")
    en = f.article("Rallies in Almaty", "Hundreds rallied against price rises.")
    for q in ("митинг", "митинга", "митингах", "митинги", "МИТИНГИ"):
        assert slugs(client, q) == [ru.slug], q
    assert slugs(client, "rally") == [en.slug]
    assert slugs(client, "rallying") == [en.slug]
    assert set(slugs(client, "Almaty")) == {en.slug} | set()  # the Russian text spells it Алматы


def test_language_facet_appears_with_a_second_language(client):
    f.article("English report", "Strike.")
    data = client.get("/api/search/").json()
    assert "language" not in data["facets"]
    f.article("Русский репортаж", "Забастовка.", language="ru")
    data = client.get("/api/search/").json()
    assert data["facets"]["language"] == [
        {"value": "en", "label": "English", "count": 1, "selected": False},
        {"value": "ru", "label": "Russian", "count": 1, "selected": False},
    ]
    assert [r["title"] for r in client.get("/api/search/", {"language": "ru"}).json()["results"]] == [
        "Русский репортаж"
    ]
    assert client.get("/api/search/", {"language": "russian"}).status_code == 400


def test_recency_is_a_sort_not_a_boost(client):
    old = f.article("Strike strike strike", "Strike.", published=dt.date(2001, 1, 1))
    new = f.article("A strike", "Workers.", published=dt.date(2020, 1, 1))
    assert slugs(client, "strike") == [old.slug, new.slug]
    assert slugs(client, "strike", sort="newest") == [new.slug, old.slug]


def test_only_stop_words_or_symbols_is_explained(client):
    f.article("Report", "Text.")
    response = client.get("/api/search/", {"q": "the of and"})
    assert response.status_code == 400
    assert response.json() == {
        "errors": {"q": "“the”, “of” and “and” are too common to search for: add a less common word."}
    }
    response = client.get("/api/search/", {"q": "title:the"})
    assert response.json() == {"errors": {"q": "“the” is too common to search for: add a less common word."}}
    response = client.get("/api/search/", {"q": "x"})
    assert response.json() == {
        "errors": {"q": "“x” is too short to search for: give words of 2 letters or more."}
    }
    response = client.get("/api/search/", {"q": "the x y"})
    assert response.json() == {
        "errors": {
            "q": "“the” is too common and “x” and “y” too short to search for: add a less common word."
        }
    }
    assert search.check().clean


def test_british_and_american_spellings_meet(client):
    a = f.article("Hemangioma in infants", "Randomized trial of tumor growth in pediatric anemia.")
    for q in ("haemangioma", "randomised tumour", "paediatric anaemia", "hemangiomas"):
        assert slugs(client, q) == [a.slug], q


def test_suggestions_never_come_from_unpublished_reports(client):
    """Whoosh keeps a deleted document's words in its vocabulary until segments merge: a
    word that only an unpublished report holds must never be offered as "did you mean"."""
    f.article("Zoology rally", "Students rallied.")
    withdrawn = f.article("Quixotry report", "A quixotry of officials.")
    withdrawn.status = "draft"
    withdrawn.save()
    data = client.get("/api/search/", {"q": "quixitry"}).json()
    assert data["count"] == 0
    assert data["query"]["corrected"] is None
    assert "quixotry" not in client.get("/search/", {"q": "quixitry"}).content.decode().lower()
