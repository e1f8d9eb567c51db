"""kernel.web.pk_url / named_url: URLs reversed once per process give what `reverse()`
gives, and follow a change of URLconf."""

from __future__ import annotations

import pytest
from django.urls import reverse, set_script_prefix

from kernel.web import named_url, pk_url


def test_pk_url_is_reverse():
    for name in ("clients:detail", "clients:edit", "packages:detail", "invoicing:detail"):
        for pk in (1, 42, 1234567):
            assert pk_url(name)(pk) == reverse(name, args=[pk])


def test_named_url_is_reverse_or_empty():
    assert named_url("clients:list") == reverse("clients:list")
    assert named_url("no-such:page") == ""


def test_script_prefix_is_part_of_the_key():
    set_script_prefix("/practice/")
    try:
        assert pk_url("clients:detail")(5) == reverse("clients:detail", args=[5])
        assert pk_url("clients:detail")(5).startswith("/practice/")
        assert named_url("clients:list") == reverse("clients:list")
    finally:
        set_script_prefix("/")
    assert pk_url("clients:detail")(5) == "/clients/5/"


@pytest.mark.urls("tests.kernel.moved_urls")
def test_a_new_urlconf_is_followed():
    assert pk_url("clients:detail")(5) == "/moved/clients/5/"
    assert named_url("clients:list") == "/moved/clients/"
