from django.http import Http404


class NotFound(Http404):
    """A 404 whose message is written for readers: the 404 page shows it. Django's own
    messages ("No City matches the given query.") are replaced by a general one."""
