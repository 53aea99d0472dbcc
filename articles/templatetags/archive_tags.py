from django import template

register = template.Library()


@register.filter
def get_item(mapping, key):
    """`mapping|get_item:key`: a dict lookup with a variable key."""
    return mapping.get(key, "") if hasattr(mapping, "get") else ""


@register.simple_tag
def awaiting_review() -> int:
    """How many articles contributors have sent for review (the admin's index shows it)."""
    from articles.models import Article

    return Article.objects.filter(status=Article.Status.REVIEW).count()
