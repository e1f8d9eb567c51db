"""docs/rules.md, the index of DOMAIN.md's rules, cannot rot.

Every rule names at least one test; every `tests/…::test_…` it names exists; every
`path.py:name` it gives as "Enforced in" is defined in that file; every constraint and
trigger it names is declared in a model. Renaming or deleting any of them fails here
until the index follows.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
INDEX = ROOT / "docs" / "rules.md"

ROW = re.compile(
    r"^\| (?P<id>[A-Z]+\d+) \| (?P<rule>[^|]+) \| (?P<where>[^|]+) \| (?P<tests>[^|]+) \|$"
)
TEST_REF = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")
CODE_REF = re.compile(r"`((?!tests/)[\w/]+\.py):([\w.]+)`")
FILE_REF = re.compile(r"`((?!tests/)[\w/]+\.(?:py|html))`")
DB_NAMES = re.compile(r"\b(?:constraints?|trigger) ((?:`\w+`(?:, )?)+)")

SECTIONS = [
    "Words",
    "Client package status",
    "The credit ledger",
    "Matching a package when booking",
    "Linking and unlinking",
    "Appointments",
    "Invoices",
    "Payments",
    "People and permissions",
    "Classes (group sessions)",
]


def _text() -> str:
    return INDEX.read_text(encoding="utf-8")


def _rows() -> list[re.Match]:
    return [m for line in _text().splitlines() if (m := ROW.match(line))]


@cache
def _names(path: Path) -> frozenset[str]:
    """Dotted names a module defines: functions, classes, assignments, and their members."""
    found: set[str] = set()

    def visit(body, prefix: str) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                found.add(prefix + node.name)
                if isinstance(node, ast.ClassDef):
                    visit(node.body, f"{prefix}{node.name}.")
            elif isinstance(node, ast.Assign):
                found.update(prefix + t.id for t in node.targets if isinstance(t, ast.Name))
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                found.add(prefix + node.target.id)

    visit(ast.parse(path.read_text(encoding="utf-8")).body, "")
    return frozenset(found)


@cache
def _declared_db_names() -> frozenset[str]:
    names: set[str] = set()
    for models in ROOT.glob("*/models.py"):
        names.update(re.findall(r'name="(\w+)"', models.read_text(encoding="utf-8")))
    return frozenset(names)


def test_the_index_has_a_section_per_domain_section_and_unique_rule_ids():
    headings = re.findall(r"^## (.+)$", _text(), flags=re.MULTILINE)
    for section in SECTIONS:
        assert section in headings, section
    ids = [m["id"] for m in _rows()]
    assert len(ids) >= 90
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


@pytest.mark.parametrize("row", _rows(), ids=lambda m: m["id"])
def test_every_rule_names_a_test(row):
    assert TEST_REF.search(row["tests"]), f"{row['id']} ({row['rule'].strip()}) names no test"


def test_every_test_named_in_the_index_exists():
    missing = []
    for path, name in sorted(set(TEST_REF.findall(_text()))):
        file = ROOT / path
        if not file.is_file() or name not in _names(file):
            missing.append(f"{path}::{name}")
    assert missing == []


def test_every_place_named_as_enforcing_a_rule_exists():
    missing = []
    for path, name in sorted(set(CODE_REF.findall(_text()))):
        file = ROOT / path
        if not file.is_file() or name not in _names(file):
            missing.append(f"{path}:{name}")
    missing += [
        path for path in sorted(set(FILE_REF.findall(_text()))) if not (ROOT / path).is_file()
    ]
    assert missing == []


def test_every_constraint_and_trigger_named_in_the_index_is_declared():
    named = {name for group in DB_NAMES.findall(_text()) for name in re.findall(r"`(\w+)`", group)}
    assert named, "the index names no constraint"
    assert named - _declared_db_names() == set()
