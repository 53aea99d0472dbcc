"""Requests the archive answers before any view: over-long query strings.

gunicorn is configured to let long request lines through (archive/gunicorn.conf.py), so that
a reader whose search grew too long gets the archive's own answer, in words, rather than a
bare 414 from the server.
"""

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render


class LongRequestMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        length = len(request.META.get("QUERY_STRING", ""))
        if length > settings.MAX_QUERY_STRING:
            message = (
                f"This address is too long ({length:,} characters after the “?”; at most "
                f"{settings.MAX_QUERY_STRING:,}): remove some filters or words."
            )
            if request.path.startswith("/api/"):
                return JsonResponse({"errors": {"query_string": message}}, status=414)
            return render(request, "414.html", {"message": message}, status=414)
        return self.get_response(request)
