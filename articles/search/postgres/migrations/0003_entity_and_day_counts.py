"""The vocabulary counts each entity's (kind "e", "city:3") and each day's (kind "d",
"2020-06-10") documents from now on: the counts of an index written before, from its
documents, with writers held off while they are counted. On other databases, nothing."""

from importlib import import_module

from django.db import migrations

# The engine's migrations run their SQL on PostgreSQL only, as the first one does.
_run = import_module("articles.search.postgres.migrations.0001_initial")._run

COUNT = [
    "LOCK TABLE search_postgres_document IN SHARE MODE",
    """INSERT INTO search_postgres_term (kind, word, ndoc)
       SELECT 'e', e, count(*) FROM search_postgres_document, unnest(entities) AS e GROUP BY e
       ON CONFLICT (kind, word) DO UPDATE SET ndoc = excluded.ndoc""",
    """INSERT INTO search_postgres_term (kind, word, ndoc)
       SELECT 'd', to_char(published, 'YYYY-MM-DD'), count(*) FROM search_postgres_document
       WHERE published IS NOT NULL GROUP BY 2
       ON CONFLICT (kind, word) DO UPDATE SET ndoc = excluded.ndoc""",
]
FORGET = ["DELETE FROM search_postgres_term WHERE kind IN ('e', 'd')"]


class Migration(migrations.Migration):
    dependencies = [("search_postgres", "0002_language_counts")]

    operations = [migrations.RunPython(_run(COUNT), _run(FORGET))]
