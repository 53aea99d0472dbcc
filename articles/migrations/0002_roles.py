"""The curation roles as they were first defined: Contributors and Curators. (Later
permissions are added by articles/curation/roles.py after every migrate.)"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

# Frozen here: the live definition names permissions of models later migrations create.
ENTITIES = ["source", "city", "actor", "sourcealias", "cityalias", "actoralias"]
ROLES = {
    "Contributors": (
        ["add_article", "change_article", "view_article"]
        + [f"view_{m}" for m in ENTITIES]
        + [f"add_{m}" for m in ENTITIES]
        + ["view_linksuggestion", "change_linksuggestion"]
    ),
    "Curators": (
        ["add_article", "change_article", "delete_article", "view_article", "publish_article"]
        + [f"{verb}_{m}" for m in ENTITIES for verb in ("add", "change", "delete", "view")]
        + [f"{verb}_{m}" for m in ("linksuggestion", "aliascandidate", "merge")
           for verb in ("change", "view")]
        + ["view_indexqueue"]
    ),
}


def ensure_roles(group_model, permission_model):
    for name, codenames in ROLES.items():
        group, _ = group_model.objects.get_or_create(name=name)
        group.permissions.set(permission_model.objects.filter(
            content_type__app_label="articles", codename__in=codenames))


def create_roles(apps, schema_editor):
    # Permissions are normally created after migrations; make sure they exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    ensure_roles(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["Contributors", "Curators"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("articles", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_roles, remove_roles)]
