"""The vocabulary counts each language's documents (kind "g") from now on: the counts of an
index written before, from its documents. On other databases, nothing."""

from django.db import migrations

COUNT = """
INSERT INTO search_postgres_term (kind, word, ndoc)
SELECT 'g', language, count(*) FROM search_postgres_document GROUP BY language
ON CONFLICT (kind, word) DO UPDATE SET ndoc = excluded.ndoc
"""


def count(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(COUNT)


def forget(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DELETE FROM search_postgres_term WHERE kind = 'g'")


class Migration(migrations.Migration):
    dependencies = [("search_postgres", "0001_initial")]

    operations = [migrations.RunPython(count, forget)]
