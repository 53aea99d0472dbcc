"""Data migrations on data as it was before them."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate_to(target):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])
    return executor.loader.project_state([target]).apps


@pytest.mark.django_db(transaction=True)
def test_name_keys_fold_separators_and_collisions_are_proposed_not_merged():
    apps = migrate_to(("articles", "0003_countries_origins"))
    City, CityAlias = apps.get_model("articles", "City"), apps.get_model("articles", "CityAlias")
    alma_ata = City.objects.create(name="Alma-Ata", slug="alma-ata", key="alma-ata")
    alma_ata_spaced = City.objects.create(name="Alma Ata", slug="alma-ata-2", key="alma ata")
    astana = City.objects.create(name="Astana", slug="astana", key="astana")
    CityAlias.objects.create(entity=astana, name="Nur-Sultan", key="nur-sultan")
    CityAlias.objects.create(entity=astana, name="Nur Sultan", key="nur sultan")
    try:
        apps = migrate_to(("articles", "0004_review_keys_generic_names"))
        City, CityAlias = apps.get_model("articles", "City"), apps.get_model("articles", "CityAlias")
        AliasCandidate = apps.get_model("articles", "AliasCandidate")
        # Both cities are still there: the collision is a proposal for a curator.
        assert City.objects.get(pk=alma_ata_spaced.pk).key == "alma ata"
        assert City.objects.get(pk=alma_ata.pk).key == "alma-ata"  # kept until a curator decides
        # ("Alma Ata" held the key already, so it stays the first of the pair.)
        assert list(AliasCandidate.objects.values_list("kind", "first_id", "second_id", "decision")) == [
            ("city", alma_ata_spaced.pk, alma_ata.pk, "proposed")
        ]
        # An alias that only repeats another spelling of its own entity's name is dropped.
        assert list(CityAlias.objects.values_list("name", "key")) == [("Nur Sultan", "nur sultan")]
        assert apps.get_model("articles", "GenericName").objects.filter(key="riot police").exists()
    finally:
        call_command("flush", verbosity=0, interactive=False)
        migrate_to(MigrationExecutor(connection).loader.graph.leaf_nodes("articles")[0])


def index_reports(reports: list[dict]) -> None:
    """The PostgreSQL engine's index of `reports` (pk and any document fields), written as a
    rebuild writes it."""
    from articles.search.postgres.backend import PostgresBackend

    base = {"title": "", "body": "", "language": "en", "published": "", "city_ids": []}
    PostgresBackend().rebuild(
        [{**base, "title": f"Report {r['pk']}", "stamp": f"s{r['pk']}", **r} for r in reports]
    )


@pytest.mark.django_db(transaction=True)
def test_an_index_written_before_the_entity_and_day_counts_gets_them():
    if connection.vendor != "postgresql":
        pytest.skip("the PostgreSQL engine's tables exist on PostgreSQL only (DATABASE_URL=postgres://...)")
    index_reports(
        [
            {"pk": 1, "published": "2020-06-10", "city_ids": [3]},
            {"pk": 2, "published": "2020-06-10", "city_ids": [3, 4]},
            {"pk": 3, "published": "2021-01-02"},
            {"pk": 4, "city_ids": [4]},
        ]
    )

    def counted():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT kind, word, ndoc FROM search_postgres_term WHERE kind IN ('e', 'd') AND ndoc > 0"
            )
            return sorted(cursor.fetchall())

    expected = [("d", "2020-06-10", 2), ("d", "2021-01-02", 1), ("e", "city:3", 2), ("e", "city:4", 2)]
    assert counted() == expected
    try:
        migrate_to(("search_postgres", "0002_language_counts"))
        assert counted() == []
        migrate_to(("search_postgres", "0003_entity_and_day_counts"))
        assert counted() == expected
    finally:
        call_command("migrate", verbosity=0)
        call_command("flush", verbosity=0, interactive=False)


@pytest.mark.django_db(transaction=True)
def test_an_index_written_before_the_impact_tiers_gets_them():
    """Migration 0004 writes an existing index's `impact` as every write since does."""
    if connection.vendor != "postgresql":
        pytest.skip("the PostgreSQL engine's tables exist on PostgreSQL only (DATABASE_URL=postgres://...)")
    index_reports(
        [
            {"pk": 1, "title": "Police police police", "body": "police " * 6},
            {"pk": 2, "title": "Police", "body": "The police came; police and police again."},
            {"pk": 3, "title": "Strike", "body": "A strike, a police line."},
            {"pk": 4, "title": "Report", "body": "Nothing here."},
        ]
    )

    def impact():
        with connection.cursor() as cursor:
            cursor.execute("SELECT article_id, impact::text FROM search_postgres_document ORDER BY 1")
            return cursor.fetchall()

    written = impact()
    assert "'polic|1'" in written[0][1] and "'polic|3'" in written[1][1] and written[3][1] == ""
    try:
        migrate_to(("search_postgres", "0003_entity_and_day_counts"))
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM information_schema.columns "
                "WHERE table_name = 'search_postgres_document' AND column_name = 'impact'"
            )
            assert cursor.fetchone()[0] == 0
        migrate_to(("search_postgres", "0004_impact"))
        assert impact() == written
    finally:
        call_command("migrate", verbosity=0)
        call_command("flush", verbosity=0, interactive=False)
