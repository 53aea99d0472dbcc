"""The curation roles. Contributors add and edit drafts and send them for review; Curators
edit everything, publish, merge and keep the lists. Only superusers manage users (neither
group has any permission on accounts) and see the internal index queue.

Ensured after every `migrate` (and after the test database is flushed) by a post_migrate
receiver in apps.py; migration 0002 created the groups with the permissions of its time.
"""

ENTITIES = ["source", "city", "actor", "country", "sourcealias", "cityalias", "actoralias", "countryalias"]
ROLES = {
    "Contributors": (
        ["add_article", "change_article", "view_article"]
        + [f"view_{m}" for m in ENTITIES]
        + [f"add_{m}" for m in ENTITIES]
        + ["view_linksuggestion", "change_linksuggestion", "view_genericname"]
    ),
    "Curators": (
        ["add_article", "change_article", "delete_article", "view_article", "publish_article"]
        + [f"{verb}_{m}" for m in ENTITIES for verb in ("add", "change", "delete", "view")]
        + [
            f"{verb}_{m}"
            for m in ("linksuggestion", "aliascandidate", "merge")
            for verb in ("change", "view")
        ]
        + [f"{verb}_genericname" for verb in ("add", "change", "delete", "view")]
    ),
}


def ensure_roles(group_model, permission_model) -> None:
    """Create or update the groups with exactly their permissions."""
    for name, codenames in ROLES.items():
        group, _ = group_model.objects.get_or_create(name=name)
        perms = permission_model.objects.filter(content_type__app_label="articles", codename__in=codenames)
        missing = set(codenames) - set(perms.values_list("codename", flat=True))
        if missing:
            raise RuntimeError(f"permissions not found: {sorted(missing)}")
        group.permissions.set(perms)
