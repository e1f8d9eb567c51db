"""Issue 9, finding 7: the demo's staff users may use the Django admin only as Admin."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command

from demo import data
from practice import roles

pytestmark = pytest.mark.django_db


def _seed(**options):
    call_command("seed_demo", clients=data.MIN_CLIENTS, stdout=StringIO(), **options)


def _staff_flags() -> dict[str, bool]:
    names = [username for username, *_ in data.STAFF]
    users = get_user_model().objects.filter(username__in=names)
    return {user.username: user.is_staff for user in users}


def test_only_the_demo_admin_may_use_the_django_admin(client):
    _seed(demo_passwords=True)
    admins = {username for username, _, _, role, _ in data.STAFF if role == roles.ADMIN}
    flags = _staff_flags()
    assert len(flags) == len(data.STAFF)
    assert {username for username, staff in flags.items() if staff} == admins
    User = get_user_model()
    reception = next(u for u, _, _, role, _ in data.STAFF if role == roles.RECEPTION)
    client.force_login(User.objects.get(username=reception))
    assert client.get("/admin/").status_code == 302  # to the admin's sign-in
    client.force_login(User.objects.get(username=next(iter(admins))))
    assert client.get("/admin/").status_code == 200


def test_a_demo_user_made_staff_by_an_older_seed_loses_the_admin(db):
    username, first, last, role, _ = next(s for s in data.STAFF if s[3] == roles.RECEPTION)
    old = get_user_model().objects.create_user(
        username=username, first_name=first, last_name=last, is_staff=True
    )
    old.groups.add(Group.objects.get(name=role))
    _seed()
    old.refresh_from_db()
    assert old.is_staff is False
