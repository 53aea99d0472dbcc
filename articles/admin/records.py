"""The curators' lists: alias candidates, merges (with undo), generic names never suggested,
and, for superusers only, the internal index queue."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from articles import curation
from articles.models import AliasCandidate, GenericName, IndexQueue, Merge
from articles.text import normalize_name


@admin.register(IndexQueue)
class IndexQueueAdmin(admin.ModelAdmin):
    """Pending index work: normally empty; rows left here are drained by check_index --repair.
    Internal: shown to superusers only."""

    list_display = ["article_id", "queued"]

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AliasCandidate)
class AliasCandidateAdmin(admin.ModelAdmin):
    """Spelling families proposed for curators; nothing merges until a curator accepts."""

    list_display = ["first_link", "second_link", "kind", "decision", "created"]
    list_filter = ["decision", "kind"]
    search_fields = ["first_name", "second_name"]
    actions = ["accept", "reject"]
    change_list_template = "admin/articles/aliascandidate/change_list.html"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path(
                "refresh/", self.admin_site.admin_view(self.refresh), name="articles_aliascandidate_refresh"
            ),
            *super().get_urls(),
        ]

    def refresh(self, request):
        """The button on the list: propose the spelling families the names form now."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        new = curation.find_candidates()
        self.message_user(request, f"{len(new)} new proposal(s).", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:articles_aliascandidate_changelist"))

    def _link(self, obj, pk, name):
        url = reverse(f"admin:articles_{obj.kind}_change", args=[pk])
        return format_html('<a href="{}">{}</a>', url, name)

    @admin.display(description="keep")
    def first_link(self, obj):
        return self._link(obj, obj.first_id, obj.first_name)

    @admin.display(description="as another spelling of it")
    def second_link(self, obj):
        return self._link(obj, obj.second_id, obj.second_name)

    @admin.action(description="Accept: merge the second into the first (its names become aliases)")
    def accept(self, request, queryset):
        self._decide(request, queryset, accept=True)

    @admin.action(description="Reject: they are different; never propose this pair again")
    def reject(self, request, queryset):
        self._decide(request, queryset, accept=False)

    def _decide(self, request, queryset, *, accept):
        done = 0
        for candidate in queryset:
            try:
                curation.decide(candidate, accept=accept, user=request.user)
                done += 1
            except curation.MergeError as exc:
                self.message_user(request, f"{candidate}: {exc}", messages.WARNING)
        verb = "merged" if accept else "rejected"
        self.message_user(request, f"{done} proposal(s) {verb}.", messages.SUCCESS)


@admin.register(Merge)
class MergeAdmin(admin.ModelAdmin):
    list_display = ["merged_name", "target_name", "kind", "created", "created_by", "undone"]
    list_filter = ["kind"]
    readonly_fields = [
        "kind",
        "target_id",
        "target_name",
        "merged_name",
        "snapshot",
        "created",
        "created_by",
        "undone",
    ]
    actions = ["undo"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Undo the selected merges")
    def undo(self, request, queryset):
        for record in queryset.order_by("-created"):
            try:
                curation.undo_merge(record, user=request.user)
                self.message_user(request, f"Undone: {record}.", messages.SUCCESS)
            except curation.MergeError as exc:
                self.message_user(request, f"{record}: {exc}", messages.WARNING)


class GenericNameForm(forms.ModelForm):
    class Meta:
        model = GenericName
        fields = ["name"]

    def clean_name(self):
        name = " ".join(self.cleaned_data["name"].split())
        other = GenericName.objects.filter(key=normalize_name(name)).exclude(pk=self.instance.pk).first()
        if other is not None:
            raise forms.ValidationError(f"“{other.name}” is on the list already.")
        return name


@admin.register(GenericName)
class GenericNameAdmin(admin.ModelAdmin):
    """Names too generic to suggest as links ("people", "police"): curators keep the list."""

    form = GenericNameForm
    list_display = ["name"]
    search_fields = ["name"]
