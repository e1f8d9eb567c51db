"""Admin for clients. No service owns client edits yet, so the form writes directly;
archiving (not deleting) is how a client leaves: rows that refer to a client protect it."""

from __future__ import annotations

from django.contrib import admin

from clients.models import Client


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ["last_name", "first_name", "email", "phone", "date_of_birth", "archived"]
    list_display_links = ["last_name", "first_name"]
    search_fields = ["first_name", "last_name", "email", "phone"]
    list_filter = ["archived"]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["first_name", "last_name", "date_of_birth", "archived"]}),
        ("Contact", {"fields": ["email", "phone"]}),
        ("Notes", {"fields": ["notes"]}),
        ("Record", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]
    # With 100,000 clients a second COUNT(*) of the whole table on every search is
    # wasted work; the filtered count is enough.
    show_full_result_count = False
