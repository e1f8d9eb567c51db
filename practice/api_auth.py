"""The REST API's key authentication (settings REST_FRAMEWORK names it by string, so the
kernel imports no app): `Authorization: Token <key>`, or `Bearer <key>`, with a key from
the API keys page (practice.api_keys). A revoked or expired key, or one whose user is
deactivated, answers 401 with a message saying so. Changes made with a key are audited
with its user and its prefix."""

from __future__ import annotations

import pghistory
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from practice.api_keys import KeyRefused, api_key_authenticate

KEYWORDS = (b"token", b"bearer")


class ApiKeyAuthentication(BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in KEYWORDS:
            return None  # another scheme, or none: let the session try
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Send the key as `Authorization: Token <key>`, with no spaces in the key."
            )
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid API key.") from None
        try:
            user, api_key = api_key_authenticate(key)
        except KeyRefused as refused:
            raise exceptions.AuthenticationFailed(refused.message, code=refused.code) from None
        # The audit of this request's changes names the key too (its prefix), not only
        # the user (the request's pghistory context is open: AuditContextMiddleware).
        pghistory.context(api_key=api_key.prefix)
        # A GET opens its audit context only at a first write (AuditContextMiddleware).
        request._request.audit_api_key = api_key.prefix
        return user, api_key

    def authenticate_header(self, request) -> str:
        return self.keyword


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """The schema's `tokenAuth` security scheme for ApiKeyAuthentication."""

    target_class = "practice.api_auth.ApiKeyAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "An API key from the API keys page, sent as `Token <key>` "
                "(`Bearer <key>` works too)."
            ),
        }
