"""What every admin of the archive shares: history with reasons, URL fields, and malformed
addresses answered 404 (simple-history's views would fail on them)."""

from django.db import models
from django.http import Http404
from simple_history.admin import SimpleHistoryAdmin

# Bare addresses typed into URL fields mean https (Django 6's default, chosen now).
URL_FIELDS = {models.URLField: {"assume_scheme": "https"}}


def formfield(model_field, **kwargs):
    """The form field of a model field, URL fields assuming https (for ModelForm Meta)."""
    if isinstance(model_field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return model_field.formfield(**kwargs)


def check_id(value) -> None:
    """An object or version id in an admin address: digits, or there is nothing there."""
    text = str(value)
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise Http404("There is nothing at this address.")


class HistoryAdmin(SimpleHistoryAdmin):
    formfield_overrides = URL_FIELDS

    def history_view(self, request, object_id, extra_context=None):
        check_id(object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        check_id(object_id)
        check_id(version_id)
        request._revert_version = int(version_id)
        return super().history_form_view(request, object_id, version_id, extra_context)

    def save_model(self, request, obj, form, change):
        version = getattr(request, "_revert_version", None)
        if version is not None:
            obj._change_reason = f"revert to version {version}"
        super().save_model(request, obj, form, change)
