"""Admin for clients. Every write goes through clients.services, as on the pages and in
the API: the same checks and messages, the caller's permission, and the audit trail.

Clients are never deleted (packages, appointments and invoices refer to them); they
leave by being archived, from the change form's checkbox or the list's actions.
"""

from __future__ import annotations

from django.contrib import admin

from clients.models import AccessVia, Client, ClientAccess
from clients.services import (
    EDITABLE_FIELDS,
    client_access_record,
    client_archive,
    client_create,
    client_restore,
    client_update,
)
from kernel.admin import (
    ReadOnlyAdminMixin,
    ServiceAdminMixin,
    adopt,
    remove_delete_selected,
    service_action,
)


@admin.register(Client)
class ClientAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ["last_name", "first_name", "email", "phone", "date_of_birth", "archived"]
    list_display_links = ["last_name", "first_name"]
    search_fields = ["first_name", "last_name", "email", "phone"]
    list_filter = ["archived"]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["first_name", "last_name", "date_of_birth", "archived"]}),
        ("Contact", {"fields": ["email", "email_opt_out", "phone"]}),
        ("Notes", {"fields": ["notes"]}),
        ("Record", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]
    # A new client is never archived at once; the record times do not exist yet.
    add_fieldsets = [
        (None, {"fields": ["first_name", "last_name", "date_of_birth"]}),
        ("Contact", {"fields": ["email", "email_opt_out", "phone"]}),
        ("Notes", {"fields": ["notes"]}),
    ]
    actions = ["archive_clients", "restore_clients"]
    # With 100,000 clients a second COUNT(*) of the whole table on every search is
    # wasted work; the filtered count is enough.
    show_full_result_count = False

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else super().get_fieldsets(request, obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """Opening a client's record in the admin is access-logged like on the pages."""
        response = super().change_view(request, object_id, form_url, extra_context)
        client = Client.objects.filter(pk=object_id).first() if object_id.isdigit() else None
        if request.method == "GET" and response.status_code == 200 and client is not None:
            client_access_record(client=client, request=request, via=AccessVia.ADMIN)
        return response

    def get_actions(self, request):
        return remove_delete_selected(super().get_actions(request))

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            fields = {name: data[name] for name in EDITABLE_FIELDS if name in data}
            adopt(obj, client_create(**fields, by=request.user))
            return
        changes = {name: data[name] for name in form.changed_data if name in EDITABLE_FIELDS}
        if changes:
            client_update(client=obj, by=request.user, **changes)
        if "archived" in form.changed_data:
            if data["archived"]:
                client_archive(client=obj, by=request.user)
            else:
                client_restore(client=obj, by=request.user)
        obj.refresh_from_db()

    @service_action(
        description="Archive selected clients",
        done="Archived {count} {items}.",
        perm="clients.change_client",
    )
    def archive_clients(self, request, client):
        client_archive(client=client, by=request.user)

    @service_action(
        description="Restore selected clients",
        done="Restored {count} {items}.",
        perm="clients.change_client",
    )
    def restore_clients(self, request, client):
        client_restore(client=client, by=request.user)


@admin.register(ClientAccess)
class ClientAccessAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Who viewed which client's record, when, from where and through what (staff pages,
    API or this admin). Append-only: shown, never changed."""

    list_display = ["at", "user", "client", "via", "ip", "path"]
    list_filter = ["via"]
    list_select_related = ["user", "client"]
    search_fields = ["client__first_name", "client__last_name", "user__username", "ip"]
    show_full_result_count = False
