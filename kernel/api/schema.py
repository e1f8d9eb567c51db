"""The OpenAPI schema: error answers, their examples, integer ids and the
Idempotency-Key header documented once.

What the schema says is written for integrators: an operation's description comes only
from its `extend_schema(description=...)`, never from a view's docstring (those are
notes for developers); a component's description is its serializer's docstring, so
those are written for integrators (tests/api/test_schema_docs.py checks the words).
"""

from __future__ import annotations

import inspect

from drf_spectacular.drainage import get_override
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent, force_instance
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
)

from kernel.api.idempotency import IDEMPOTENCY_HEADER


def _error_component(registry, name: str, schema: dict) -> dict:
    component = ResolvedComponent(
        name=name, type=ResolvedComponent.SCHEMA, schema=schema, object=f"kernel.api.schema.{name}"
    )
    registry.register_on_missing(component)
    return component.ref


ERROR_SCHEMA = {
    "type": "object",
    "description": "A refusal: a human message and a stable machine code.",
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string"},
    },
    "required": ["detail", "code"],
}
VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": (
        'Invalid input: each field with its messages, e.g. {"email": ["Enter a valid email '
        'address."]}; nested fields nest by index ({"lines": {"1": {"quantity": [...]}}}). Input that cannot '
        'be read at all (malformed JSON) gives {"detail", "code"}.'
    ),
    "additionalProperties": {},
}
IDEMPOTENCY_PARAMETER = OpenApiParameter(
    name=IDEMPOTENCY_HEADER,
    location=OpenApiParameter.HEADER,
    required=False,
    type=str,
    description=(
        "Makes the POST safe to retry (1-255 printable ASCII characters, e.g. a UUID). "
        "The first response for a key (per user) is stored for 24 hours and replayed "
        "for a retry with the same body (with the header `Idempotent-Replayed: true`); "
        "the same key with a different body gives 422; a retry sent while the first "
        "request is still running waits for it and gets its answer. The key, the change "
        "and the stored answer are saved together, so after a 503 whose outcome is "
        "unknown the retry with the same key is always safe."
    ),
)

_ERROR_DESCRIPTIONS = {
    "400": "Invalid input (each field with its messages), or a body that is not valid JSON.",
    "401": "Not signed in: send `Authorization: Token <key>` (or use the session).",
    "403": "Your role does not allow this.",
    "404": "No such object (or page).",
    "409": (
        "A business rule refused the action (e.g. `no_credits_left`, `invoice_not_draft`), "
        "or an Idempotency-Key left without an answer by an earlier version "
        "(`idempotency_outcome_unknown`: never run again)."
    ),
    "415": "The body must be JSON (`Content-Type: application/json`).",
    "422": "The Idempotency-Key was already used for a different request.",
    "429": "Too many requests: wait the number of seconds in `Retry-After`.",
    "503": (
        "The connection to the database was lost: `database_unavailable` (nothing was "
        "saved) or `outcome_unknown` (lost while saving: retry with the same "
        "Idempotency-Key, which replays the answer if the change was saved)."
    ),
}


def _error(detail: str, code: str) -> dict:
    return {"detail": detail, "code": code}


# One example per error status, shown under every operation that may answer it. An
# operation adds its own (e.g. the 409 `already_linked` of a link) with
# `extend_schema(examples=[OpenApiExample(..., status_codes=["409"], response_only=True)])`.
ERROR_EXAMPLES = {
    "400": OpenApiExample(
        "Invalid input",
        value={"client": ["This field is required."], "date": ["Enter a valid date."]},
    ),
    "401": OpenApiExample(
        "No API key",
        value=_error("Authentication credentials were not provided.", "not_authenticated"),
    ),
    "403": OpenApiExample(
        "Not allowed for your role",
        value=_error("You do not have permission to perform this action.", "permission_denied"),
    ),
    "404": OpenApiExample("Unknown id", value=_error("Not found.", "not_found")),
    "409": OpenApiExample(
        "Refused by a rule",
        value=_error("This invoice is not a Draft, so it cannot be changed.", "invoice_not_draft"),
    ),
    "415": OpenApiExample(
        "Not JSON",
        value=_error('Unsupported media type "text/plain" in request.', "unsupported_media_type"),
    ),
    "422": OpenApiExample(
        "Key reused",
        value=_error(
            "This Idempotency-Key was already used for a different request. "
            "Use a new key for a new request.",
            "idempotency_key_reused",
        ),
    ),
    "429": OpenApiExample(
        "Slow down",
        value=_error("Request was throttled. Expected available in 12 seconds.", "throttled"),
    ),
    "503": OpenApiExample(
        "Database unavailable",
        value=_error(
            "The connection to the database was lost. Nothing was saved; please try again.",
            "database_unavailable",
        ),
    ),
}


def refusal(title: str, code: str, detail: str) -> OpenApiExample:
    """An operation's own 409 example, for `extend_schema(examples=[...])`."""
    return OpenApiExample(
        title, value=_error(detail, code), status_codes=["409"], response_only=True
    )


REPLAYED_RESPONSE_HEADER = {
    "Idempotent-Replayed": {
        "schema": {"type": "string", "enum": ["true"]},
        "description": (
            "Present (`true`) when this answer is the stored answer of an earlier request "
            "with the same Idempotency-Key, not a new action."
        ),
    }
}
RATE_LIMIT_HEADER = {
    "Retry-After": {
        "schema": {"type": "integer"},
        "description": "Seconds to wait before the next request.",
    }
}


# The group (tag) of each path under /api/v1/, as SPECTACULAR_SETTINGS["TAGS"] describes
# them; a path not listed is its own group.
TAGS_BY_PATH = {
    "services": "catalog",
    "packages": "catalog",
    "tax-rates": "catalog",
    "locations": "practice",
    "practitioners": "practice",
    "payment-methods": "practice",
    "cancellation-reasons": "practice",
    "credit-notes": "invoices",
}


class CaspenAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema plus what every operation of this API shares: the
    Idempotency-Key header on POSTs, the documented error responses with examples,
    integer ids in paths, and descriptions only from `extend_schema`."""

    def get_tags(self) -> list[str]:
        segment = self.path.removeprefix("/api/v1/").split("/", 1)[0]
        return [TAGS_BY_PATH.get(segment, segment)]

    def get_description(self) -> str:  # type: ignore[override]
        # Not the view's or action's docstring: those are notes for developers.
        return ""

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        # The serializer's own docstring only: an input base class's docstring (about
        # how it validates) is not a description of the resource.
        cls = force_instance(serializer).__class__
        own = get_override(serializer, "description", None) or inspect.cleandoc(
            cls.__dict__.get("__doc__") or ""
        )
        if own:
            schema["description"] = own
        else:
            schema.pop("description", None)
        return schema

    def _resolve_path_parameters(self, variables):
        parameters = super()._resolve_path_parameters(variables)
        for parameter in parameters:
            if parameter["name"] in ("id", "pk"):
                parameter["schema"] = {"type": "integer"}
                parameter["description"] = "The id (a whole number) of the object."
        return parameters

    def _get_examples(self, serializer, direction, media_type, status_code=None, extras=None):
        examples = super()._get_examples(serializer, direction, media_type, status_code, extras)
        if not [e for e in self.get_examples() if not e.parameter_only]:
            return examples
        # drf-spectacular drops the serializer's examples when the operation has its own
        # (e.g. its 409 refusal): keep both.
        own = self.get_examples
        self.get_examples = list
        try:
            from_serializer = super()._get_examples(serializer, direction, media_type, status_code)
        finally:
            self.get_examples = own
        return {**from_serializer, **examples}

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self.method == "POST":
            parameters.append(IDEMPOTENCY_PARAMETER)
        return parameters

    def _error_codes(self) -> list[str]:
        codes = ["401", "403", "404", "429"]
        has_body = self.method in ("POST", "PUT", "PATCH")
        has_query = any(p.get("in") == "query" for p in self._get_parameters())
        if has_body or has_query:
            codes.append("400")
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            codes.extend(["409", "503"])
        if has_body:
            codes.append("415")
        if self.method == "POST":
            codes.append("422")
        return sorted(codes)

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        error_ref = _error_component(self.registry, "Error", ERROR_SCHEMA)
        invalid_ref = _error_component(self.registry, "ValidationError", VALIDATION_ERROR_SCHEMA)
        for code in self._error_codes():
            if code in responses:
                continue
            schema = invalid_ref if code == "400" else error_ref
            own = [
                e
                for e in self.get_examples()
                if not e.request_only and code in [str(c) for c in e.status_codes or ()]
            ]
            response = self._get_response_for_code(
                OpenApiResponse(
                    response=schema,
                    description=_ERROR_DESCRIPTIONS[code],
                    examples=[] if own else [ERROR_EXAMPLES[code]],
                ),
                code,
                media_types=["application/json"],
                direction=direction,
            )
            if code == "429":
                response["headers"] = dict(RATE_LIMIT_HEADER)
            responses[code] = response
        if self.method == "POST":
            for code, response in responses.items():
                if code.startswith("2") and isinstance(response, dict):
                    response["headers"] = {
                        **response.get("headers", {}),
                        **REPLAYED_RESPONSE_HEADER,
                    }
        return responses


PAGE_DESCRIPTION = (
    "One page of a list: `count` (the rows matching the filters, on every page), `next` "
    "and `previous` (the URLs of the neighbouring pages, null at either end) and `results`."
)


def describe_components(result, generator, request, public):
    """SPECTACULAR_SETTINGS' postprocessing hook: a description for the components the
    generator builds itself (a page of a list)."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.startswith("Paginated") and not component.get("description"):
            component["description"] = PAGE_DESCRIPTION
    return result
