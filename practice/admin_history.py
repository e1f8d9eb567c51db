"""The Django admin's audit history, readable: every event with when, who, from where,
what happened in words and what changed, newest first (replacing pghistory's raw JSON
columns). Set as `PGHISTORY_ADMIN_CLASS`; each audited model's change form links to it
("Events", filtered to that row).

A page of the list is read like the Activity page: the page's event keys first, then
the events themselves and the names their sentences need, in a few queries however many
events there are.
"""

from __future__ import annotations

from django.contrib import admin
from pghistory.admin import EventsAdmin
from pghistory.admin.core import EventsChangeList

from kernel.audit import activity_rows, event_keys, load_events
from practice.activity import ACTIVITY_PERM


class ReadableEventsChangeList(EventsChangeList):
    def get_results(self, request):
        full = self.queryset
        self.queryset = event_keys(full)
        try:
            super().get_results(request)
        finally:
            self.queryset = full
        events = load_events(self.result_list)
        for event, row in zip(events, activity_rows(events, every=True), strict=True):
            event.activity = row
        self.result_list = events


class ReadableEventsAdmin(EventsAdmin):
    list_display = ["when", "who", "where_from", "what_happened", "what_changed"]
    list_display_links = None
    list_per_page = 50

    # The Admin role reads the audit here as on the Activity page (the event tables'
    # own permissions belong to pghistory's app, which no role holds).
    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.has_perm(ACTIVITY_PERM)

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def get_changelist(self, request, **kwargs):
        return ReadableEventsChangeList

    def get_list_display(self, request):
        return self.list_display

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("-pgh_created_at", "-pgh_id")

    @admin.display(description="When")
    def when(self, event):
        return event.pgh_created_at

    @admin.display(description="Who")
    def who(self, event):
        return event.activity["who_name"]

    @admin.display(description="From")
    def where_from(self, event):
        row = event.activity
        where = [row["ip"] or "—"]
        if row["method"] or row["url"]:
            where.append(f"{row['method'] or ''} {row['url'] or ''}".strip())
        if row["api_key"]:
            where.append(f"API key {row['api_key']}…")
        return " · ".join(where)

    @admin.display(description="What happened")
    def what_happened(self, event):
        return event.activity["sentence"]

    @admin.display(description="What changed")
    def what_changed(self, event):
        return "; ".join(event.activity["changes"]) or "—"
