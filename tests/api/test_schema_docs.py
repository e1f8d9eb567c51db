"""The schema at `/api/schema/` is written for integrators: no internal names, a
description on every operation, tag and component, realistic examples that match their
schemas, and integer ids in paths."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
from drf_spectacular.generators import SchemaGenerator

# Words that belong to the code, not to the API's documentation.
FORBIDDEN = [
    "serializer",
    "create_with",
    "by=",
    "DOMAIN.md",
    "API.md",
    "queryset",
    "self.",
    "selector",
    "viewset",
    "docstring",
    "kernel.",
    "calendar_app",
    "catalog.services",
    "clients.services",
    "invoicing.",
    "packages.services",
    "transaction.atomic",
    ".py",
    "HackSoft",
    "prefetch",
]
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def _texts(node, where=""):
    """Every description, summary and example in the schema, with where it is."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{where}/{key}"
            if key in ("description", "summary", "title") and isinstance(value, str):
                yield here, value
            elif key in ("example", "examples", "value"):
                yield here, json.dumps(value)
            else:
                yield from _texts(value, here)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _texts(value, f"{where}/{index}")


def test_no_internal_words_in_the_schema(schema):
    found = [
        (where, word)
        for where, text in _texts(schema)
        for word in FORBIDDEN
        if word.lower() in text.lower()
    ]
    assert not found, found


def test_every_operation_has_a_summary_and_a_description(schema):
    missing = [
        f"{method.upper()} {path}"
        for path, method, operation in _operations(schema)
        if not operation.get("summary") or not operation.get("description")
    ]
    assert not missing, missing


def test_every_tag_used_is_described(schema):
    described = {tag["name"] for tag in schema.get("tags", []) if tag.get("description")}
    used = {tag for _p, _m, operation in _operations(schema) for tag in operation["tags"]}
    assert used <= described, used - described


def test_every_component_is_described(schema):
    missing = [
        name
        for name, component in schema["components"]["schemas"].items()
        if not component.get("description")
    ]
    assert not missing, missing


def test_ids_in_paths_are_integers(schema):
    for path, method, operation in _operations(schema):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path":
                assert parameter["schema"] == {"type": "integer"}, (method, path, parameter)


def test_the_overview_has_the_worked_example_and_the_rules(schema):
    text = schema["info"]["description"]
    for needed in (
        "Authorization: Token",
        "client-packages/matches/",
        "/link/",
        "already_linked",
        "Idempotency-Key",
        "updated_since",
        "429",
        "Retry-After",
        "curl",
    ):
        assert needed in text, needed


def _resolve(schema, node):
    """The node with every `$ref` replaced by its component (components do not nest
    themselves, so this ends)."""
    if isinstance(node, dict):
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            return _resolve(schema, schema["components"]["schemas"][name])
        return {key: _resolve(schema, value) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(schema, value) for value in node]
    return node


def _openapi_to_jsonschema(node):
    """OpenAPI 3.0's `nullable` as JSON Schema's null type."""
    if isinstance(node, dict):
        node = {key: _openapi_to_jsonschema(value) for key, value in node.items()}
        if node.pop("nullable", False):
            if "type" in node:
                node["type"] = [node["type"], "null"]
            elif "enum" in node:
                node["enum"] = [*node["enum"], None]
            else:
                node = {"anyOf": [node, {"type": "null"}]}
        if "enum" in node and None in node.get("enum", []) and "type" in node:
            pass
        return node
    if isinstance(node, list):
        return [_openapi_to_jsonschema(value) for value in node]
    return node


def _media(schema):
    for path, method, operation in _operations(schema):
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if body:
            yield f"{method.upper()} {path} request", body
        for status, response in operation["responses"].items():
            media = response.get("content", {}).get("application/json")
            if media:
                yield f"{method.upper()} {path} {status}", media


def test_every_json_body_has_an_example_that_matches_its_schema(schema):
    missing, wrong = [], []
    for where, media in _media(schema):
        examples = media.get("examples", {})
        if not examples:
            missing.append(where)
            continue
        body_schema = _openapi_to_jsonschema(_resolve(schema, media["schema"]))
        for name, example in examples.items():
            errors = list(jsonschema.Draft7Validator(body_schema).iter_errors(example["value"]))
            if errors:
                wrong.append((where, name, errors[0].message))
    assert not missing, missing
    assert not wrong, wrong


def test_examples_look_real(schema):
    """No generated noise: no "string" placeholders, no negative prices."""
    noise = re.compile(r'"(string|-\d+(\.\d+)?)"')
    found = [
        (where, name)
        for where, media in _media(schema)
        for name, example in media.get("examples", {}).items()
        if noise.search(json.dumps(example["value"]))
    ]
    assert not found, found
