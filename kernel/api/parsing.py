"""JSON in and out: the parser that refuses odd bodies and the JSON-only negotiation."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import JSONParser


class CaspenJSONParser(JSONParser):
    """JSON, refusing (400) bodies nested so deeply that decoding them exhausts the stack."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(
                "JSON parse error - the body is nested too deeply."
            ) from None


class JSONOnlyNegotiation(DefaultContentNegotiation):
    """The API speaks JSON only: answer in JSON whatever `Accept` says (never 406)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        renderer = renderers[0]
        return renderer, renderer.media_type
