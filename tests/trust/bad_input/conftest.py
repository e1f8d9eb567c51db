"""Fixtures of the bad-input battery: the world, the personas, signed-in page and API
clients.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.trust.bad_input.common import (
    PERSONAS,
    Scripted,
    World,
)


@pytest.fixture
def world(practice, roles_exist):
    return World(practice)


@pytest.fixture
def users(request, roles_exist):
    """`users[role]`: the persona of tests.conftest, made when first asked for."""

    class Users(dict):
        def __missing__(self, role):
            self[role] = request.getfixturevalue(PERSONAS[role])
            return self[role]

    return Users()


@pytest.fixture
def pages(client, users):
    """`pages(role)`: Django's test client signed in with that role."""

    signed_in = []

    def sign_in(role: str = "admin"):
        if signed_in != [role]:  # signing in writes last_login: only when the role changes
            client.force_login(users[role])
            signed_in[:] = [role]
        return client

    return sign_in


@pytest.fixture
def api(users):
    """`api(role)`: an API client with an API key of that role (one key per role)."""
    from tests.api.conftest import api_key_for

    keys: dict[str, str] = {}

    def make(role: str = "admin") -> APIClient:
        if role not in keys:
            keys[role] = api_key_for(users[role])
        http = APIClient()
        http.credentials(HTTP_AUTHORIZATION=f"Token {keys[role]}")
        return http

    return make


@pytest.fixture
def scripted(world):
    return Scripted(world)
