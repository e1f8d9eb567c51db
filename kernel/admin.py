"""The Django admin: the site itself and the helpers every app's admin uses so that
nothing done in the admin bypasses a rule.

The admin is one more delivery layer over the services (like the pages and the API):

- Forms of models that services own (`ServiceModelForm` + `ServiceAdminMixin`) validate
  their fields, then `save_model` / `save_formset` call the service with
  `by=request.user`. A `DomainError` rolls back everything that POST wrote and the form
  is shown again with the service's message at the top, instead of a 500.
- Writes that are not edits of a form are admin actions (`service_action`,
  `form_action`) that call the service once per selected object and show each refusal
  with `messages.error`. Actions that need input (a reason, a date) show an
  intermediate page with a small form.
- Records that are history (the credit ledger, expiry changes, payments, refunds) are
  read-only (`ReadOnlyAdminMixin`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import model_ngettext
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model, QuerySet
from django.forms.models import construct_instance
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template import engines
from django.template.response import TemplateResponse
from django.urls import reverse

from kernel.errors import DomainError, NotAllowed, require_perm

admin.site.site_header = "Caspen administration"
admin.site.site_title = "Caspen admin"
admin.site.index_title = "Practice data"

# The attribute a refused save leaves on the request, so the second rendering of the
# form can show the service's message (see ServiceAdminMixin._changeform_view).
_REFUSAL = "_caspen_admin_refusal"


# ---------------------------------------------------------------- forms and model admins


class ServiceModelForm(forms.ModelForm):
    """A model form whose object is written by a service, not by `form.save()`.

    Only the fields are validated here (types, lengths, validators). The model's
    constraints are not re-checked: the service checks every rule under its row locks
    with a message written for staff, and the database constraints back it up. Checking
    them here too would show generic "Constraint … is violated" texts, and the overlap
    check would race anyway.
    """

    def _post_clean(self) -> None:
        exclude = self._get_validation_exclusions()  # type: ignore[attr-defined]
        exclude.update(
            name
            for name, field in self.fields.items()
            if isinstance(field, forms.models.InlineForeignKeyField)
        )
        try:
            self.instance = construct_instance(
                self, self.instance, self._meta.fields, self._meta.exclude
            )
            self.instance.clean_fields(exclude=exclude)
        except ValidationError as exc:
            self._update_errors(exc)  # type: ignore[attr-defined]


class ServiceAdminMixin:
    """For model admins whose saves and deletes go through services.

    Subclasses call services in `save_model` / `save_formset` / `delete_model` and let
    `DomainError` propagate. The first attempt runs in a savepoint; a refusal rolls all
    of it back (inline rows included) and the form is rendered again, with the user's
    input and the service's message as a form error.
    """

    form = ServiceModelForm

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        form_class: Any = super().get_form(  # type: ignore[misc]  # ModelAdmin's, in the MRO
            request, obj, change=change, **kwargs
        )
        refusal = getattr(request, _REFUSAL, None)
        if refusal is None:
            return form_class

        class RefusedForm(form_class):
            def clean(self):
                cleaned = super().clean()
                # Beside the field the rule is about when the form has it, else on top.
                if refusal.field in self.fields:
                    self.add_error(refusal.field, refusal.message)
                    return cleaned
                raise ValidationError(refusal.message)

        return RefusedForm

    def _changeform_view(self, request, object_id, form_url, extra_context):
        if request.method != "POST":
            return super()._changeform_view(request, object_id, form_url, extra_context)
        try:
            with transaction.atomic():
                return super()._changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            setattr(request, _REFUSAL, exc)
            return super()._changeform_view(request, object_id, form_url, extra_context)

    def _delete_view(self, request, object_id, extra_context):
        try:
            with transaction.atomic():
                return super()._delete_view(request, object_id, extra_context)
        except DomainError as exc:
            messages.error(request, exc.message)
            url = reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[object_id]
            )
            return HttpResponseRedirect(url)


def adopt(obj: Model, created: Model) -> None:
    """Make the admin's unsaved `obj` the row a service created (the admin keeps using
    `obj` for its log entry and redirect)."""
    obj.pk = created.pk
    obj.refresh_from_db()


class ReadOnlyAdminMixin:
    """History: shown, never added, changed or deleted in the admin."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True


def remove_delete_selected(actions: dict) -> dict:
    actions.pop("delete_selected", None)
    return actions


# ------------------------------------------------------------------------------ actions


def _run_each(
    modeladmin,
    request: HttpRequest,
    queryset: QuerySet,
    apply: Callable[[Any], Any],
    *,
    done: str,
) -> None:
    """Call `apply(obj)` (a service call) for each selected object, each in its own
    transaction. Each refusal is shown as an error naming the object; a permission
    refusal is shown once and stops the run (it would repeat for every object)."""
    label = getattr(modeladmin, "action_label", str)
    count = 0
    for obj in queryset:
        try:
            apply(obj)
        except NotAllowed as exc:
            messages.error(request, exc.message)
            break
        except DomainError as exc:
            messages.error(request, f"{label(obj)}: {exc.message}")
        else:
            count += 1
    if count:
        items = model_ngettext(modeladmin.opts, count)
        messages.success(request, done.format(count=count, items=items))


def service_action(*, description: str, done: str, perm: str | None = None):
    """An admin action calling a service on each selected object, without more input.

    `apply(modeladmin, request, obj)` calls the service; `done` is the success message
    ("Finalized {count} {items}."). `perm` is checked first so that a role that may not
    act gets one clear message.
    """

    def decorator(apply):
        def action(modeladmin, request, queryset):
            if perm is not None:
                try:
                    require_perm(request.user, perm)
                except NotAllowed as exc:
                    messages.error(request, exc.message)
                    return None
            _run_each(
                modeladmin,
                request,
                queryset,
                lambda obj: apply(modeladmin, request, obj),
                done=done,
            )
            return None

        action.__name__ = apply.__name__
        return admin.action(description=description)(action)

    return decorator


_ACTION_PAGE = engines["django"].from_string(
    """{% extends "admin/base_site.html" %}
{% load i18n admin_urls static %}
{% block extrastyle %}{{ block.super }}<link rel="stylesheet" href="{% static 'admin/css/forms.css' %}">{% endblock %}
{% block extrahead %}{{ block.super }}<script src="{% url 'admin:jsi18n' %}"></script>
{{ media }}{% endblock %}
{% block bodyclass %}{{ block.super }} app-{{ opts.app_label }} model-{{ opts.model_name }} change-form{% endblock %}
{% block breadcrumbs %}<div class="breadcrumbs">
<a href="{% url 'admin:index' %}">{% translate 'Home' %}</a>
&rsaquo; <a href="{% url 'admin:app_list' app_label=opts.app_label %}">{{ opts.app_config.verbose_name }}</a>
&rsaquo; <a href="{{ back_url }}">{{ opts.verbose_name_plural|capfirst }}</a>
&rsaquo; {{ title }}
</div>{% endblock %}
{% block content %}<div id="content-main">
{% if intro %}<p>{{ intro }}</p>{% endif %}
<ul>{% for label in labels %}<li>{{ label }}</li>{% endfor %}{% if more %}<li>… and {{ more }} more</li>{% endif %}</ul>
<form method="post">{% csrf_token %}<div>
{% for pk in selected %}<input type="hidden" name="_selected_action" value="{{ pk }}">{% endfor %}
<input type="hidden" name="select_across" value="{{ select_across }}">
<input type="hidden" name="action" value="{{ action }}">
<input type="hidden" name="apply" value="yes">
{{ form.non_field_errors }}
{% if form.fields %}<fieldset class="module aligned">
{% for field in form %}<div class="form-row{% if field.errors %} errors{% endif %} field-{{ field.name }}"><div>
{{ field.errors }}<div class="flex-container">{{ field.label_tag }} {{ field }}</div>
{% if field.help_text %}<div class="help">{{ field.help_text }}</div>{% endif %}
</div></div>{% endfor %}
</fieldset>{% endif %}
<div class="submit-row"><input type="submit" class="default" value="{{ submit_label }}">
<a href="{{ back_url }}" class="button cancel-link">{% translate "No, take me back" %}</a></div>
</div></form></div>{% endblock %}
"""
)

LISTED_ON_ACTION_PAGE = 50


class ActionForm(forms.Form):
    """The input of an action's intermediate page; gets the selected objects."""

    def __init__(self, *args, queryset: QuerySet, **kwargs):
        self.queryset = queryset
        super().__init__(*args, **kwargs)


def form_action(
    *,
    description: str,
    form_class: type[ActionForm],
    title: str,
    submit: str,
    done: str,
    intro: str = "",
    perm: str | None = None,
):
    """An admin action that first asks for input on an intermediate page.

    The first POST (from the changelist) shows the page with the selected objects and
    `form_class`; its POST (with `apply`) validates the form and calls
    `apply(modeladmin, request, obj, cleaned_data)` for each object.
    """

    def decorator(apply):
        def action(modeladmin, request, queryset):
            if perm is not None:
                try:
                    require_perm(request.user, perm)
                except NotAllowed as exc:
                    messages.error(request, exc.message)
                    return None
            data = request.POST if "apply" in request.POST else None
            form = form_class(data, queryset=queryset)
            if form.is_bound and form.is_valid():
                _run_each(
                    modeladmin,
                    request,
                    queryset,
                    lambda obj: apply(modeladmin, request, obj, form.cleaned_data),
                    done=done,
                )
                return None
            return _action_page(
                modeladmin,
                request,
                queryset,
                form=form,
                action=apply.__name__,
                title=title,
                intro=intro,
                submit=submit,
            )

        action.__name__ = apply.__name__
        return admin.action(description=description)(action)

    return decorator


def _action_page(
    modeladmin, request, queryset, *, form, action, title, intro, submit
) -> HttpResponse:
    label = getattr(modeladmin, "action_label", str)
    shown = list(queryset[: LISTED_ON_ACTION_PAGE + 1])
    more = 0
    if len(shown) > LISTED_ON_ACTION_PAGE:
        more = queryset.count() - LISTED_ON_ACTION_PAGE
        shown = shown[:LISTED_ON_ACTION_PAGE]
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "opts": modeladmin.opts,
        "intro": intro,
        "labels": [label(obj) for obj in shown],
        "more": more,
        "form": form,
        "media": modeladmin.media + form.media,
        "action": action,
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "submit_label": submit,
        "back_url": request.get_full_path(),
    }
    return TemplateResponse(request, _ACTION_PAGE, context)


def service_delete_action(
    *,
    delete: Callable[[Any, Any], None],
    intro: str = "",
    description: str = "Delete selected %(verbose_name_plural)s",
):
    """Replaces Django's "Delete selected" (register it under that name): confirms on a
    page, then deletes each object through `delete(obj, by)` (the service), which
    refuses what may not be deleted."""

    @form_action(
        description=description,
        form_class=ActionForm,
        title="Are you sure?",
        intro=intro,
        submit="Yes, delete",
        done="Deleted {count} {items}.",
    )
    def delete_selected(modeladmin, request, obj, data):
        delete(obj, request.user)

    return delete_selected
