from django.apps import AppConfig


class PostgresSearchConfig(AppConfig):
    name = "articles.search.postgres"
    label = "search_postgres"
    verbose_name = "PostgreSQL search"
    default_auto_field = "django.db.models.BigAutoField"
