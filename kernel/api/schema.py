"""The OpenAPI schema: error answers and the Idempotency-Key header documented once."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import (
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


class CaspenAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema plus what every operation of this API shares: the
    Idempotency-Key header on POSTs and the documented error responses."""

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
            response = self._get_response_for_code(
                OpenApiResponse(response=schema, description=_ERROR_DESCRIPTIONS[code]),
                code,
                media_types=["application/json"],
                direction=direction,
            )
            if code == "429":
                response["headers"] = {
                    "Retry-After": {
                        "schema": {"type": "integer"},
                        "description": "Seconds to wait before the next request.",
                    }
                }
            responses[code] = response
        return responses
