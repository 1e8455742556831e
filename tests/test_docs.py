"""The docs tell the truth: docs/contract.md against the served API, and the repository self-contained.

How docs/contract.md is read (it says the same at its top):

- An operation is one inline code span ``METHOD /path`` — the method in
  capitals (GET, POST, PUT, PATCH, DELETE), then the path, nothing after it.
  A span whose first word is a method but that is not of this form fails the
  test, so an operation cannot be lost to a typo.
- Text from ``?`` on is a query string and is ignored.
- A trailing ``[/{id}]`` stands for both paths: ``GET /x[/{id}]`` is
  ``GET /x`` and ``GET /x/{id}``.
- Path parameters are compared by position only: ``{id}`` and
  ``{station_id}`` are the same.
- Lines between ``<!-- planned -->`` and ``<!-- /planned -->`` are the
  contract not served yet; fenced code blocks are skipped.

Then: every operation of the OpenAPI document is written outside a planned
block; every operation written outside a planned block is served; and no
operation inside one is served yet (it must move out of the block).
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import build_app

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = ROOT / "docs" / "contract.md"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
README = ROOT / "README.md"

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
OPERATION = re.compile(r"(?P<method>[A-Z]+)\s+(?P<path>/\S*)")
OPTIONAL_TAIL = re.compile(r"^(?P<base>[^\[\]]*)\[(?P<tail>/[^\[\]]+)\]$")
PLANNED_OPEN = "<!-- planned -->"
PLANNED_CLOSE = "<!-- /planned -->"


def normalise(path: str) -> str:
    """``/a/{station_id}/b`` and ``/a/<int:station_id>/b`` → ``/a/{}/b``."""
    path = re.sub(r"<[^>]*>", "{}", path)
    return re.sub(r"\{[^}]*\}", "{}", path)


def expand(span: str) -> list[tuple[str, str]]:
    """One code span → its operations; [] when the span is not an operation.

    Raises ValueError for a span that starts with a method but does not parse."""
    first = span.split(None, 1)[0] if span.strip() else ""
    if first not in METHODS:
        return []
    match = OPERATION.fullmatch(span.strip())
    if match is None:
        raise ValueError(f"`{span}`: write one operation per code span, as `METHOD /path`")
    path = match["path"].split("?", 1)[0]
    paths = [path]
    if "[" in path or "]" in path:
        optional = OPTIONAL_TAIL.match(path)
        if optional is None:
            raise ValueError(f"`{span}`: only a trailing `[/...]` is understood")
        paths = [optional["base"], optional["base"] + optional["tail"]]
    return [(match["method"], normalise(p)) for p in paths]


def parse_contract(text: str) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], int], list[str]]:
    """→ (documented operations, planned operations, problems); operations map to a line number."""
    documented: dict[tuple[str, str], int] = {}
    planned: dict[tuple[str, str], int] = {}
    problems: list[str] = []
    in_planned = None
    in_fence = False
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("```"):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        if stripped == PLANNED_OPEN:
            if in_planned is not None:
                problems.append(f"line {number}: planned block opened inside the one of line {in_planned}")
            in_planned = number
            continue
        if stripped == PLANNED_CLOSE:
            if in_planned is None:
                problems.append(f"line {number}: {PLANNED_CLOSE} without an open block")
            in_planned = None
            continue
        if "planned -->" in CODE_SPAN.sub("", line):
            problems.append(f"line {number}: a planned marker must be alone on its line")
        for span in CODE_SPAN.findall(line):
            try:
                operations = expand(span)
            except ValueError as err:
                problems.append(f"line {number}: {err}")
                continue
            for op in operations:
                (planned if in_planned is not None else documented).setdefault(op, number)
    if in_planned is not None:
        problems.append(f"line {in_planned}: planned block never closed")
    if in_fence:
        problems.append("a fenced code block is never closed")
    return documented, planned, problems


@pytest.fixture(scope="module")
def served_app():
    """An app built only to read its routes and OpenAPI document: no database or Redis is touched."""
    return build_app("sqlite://", "redis://127.0.0.1:1/0", "fake", SQLALCHEMY_ENGINE_OPTIONS={})


@pytest.fixture(scope="module")
def openapi_operations(served_app) -> set[tuple[str, str]]:
    resp = served_app.test_client().get("/api/v1/openapi.json")
    assert resp.status_code == 200
    return {(method.upper(), normalise(path))
            for path, item in resp.get_json()["paths"].items()
            for method in item if method.upper() in METHODS}


@pytest.fixture(scope="module")
def routed_operations(served_app) -> set[tuple[str, str]]:
    """Everything the app answers, the routes outside the OpenAPI document included
    (the probes, the docs page, the console)."""
    return {(method, normalise(rule.rule))
            for rule in served_app.url_map.iter_rules()
            for method in rule.methods if method in METHODS}


def _listing(ops, where=None) -> str:
    return "\n".join(f"  {m} {p}" + (f"  (line {where[(m, p)]})" if where else "") for m, p in sorted(ops))


def test_the_parse_rule():
    assert expand("GET /api/v1/stations/nearby?lat&lng&amenities=a,b") == [("GET", "/api/v1/stations/nearby")]
    assert expand("GET /api/v1/admin/arrears/cases[/{id}]") == [
        ("GET", "/api/v1/admin/arrears/cases"), ("GET", "/api/v1/admin/arrears/cases/{}")]
    assert expand("PATCH /api/v1/admin/stations/{station_id}") == [("PATCH", "/api/v1/admin/stations/{}")]
    assert expand("{id, deleted: true}") == []
    assert expand("Asia/Shanghai") == []
    for bad in ("POST", "POST /api/v1/x {code}", "GET /api/v1/x[/{id}]/y[/z]"):
        with pytest.raises(ValueError):
            expand(bad)
    documented, planned, problems = parse_contract(
        "`GET /a`\n<!-- planned -->\n`PUT /b/{x}`\n<!-- /planned -->\n```\n`DELETE /c`\n```\n")
    assert documented == {("GET", "/a"): 1}
    assert planned == {("PUT", "/b/{}"): 3}
    assert problems == []
    assert parse_contract("<!-- planned -->\n`GET /a`\n")[2]


def test_contract_is_well_formed():
    _, _, problems = parse_contract(CONTRACT.read_text(encoding="utf-8"))
    assert not problems, "docs/contract.md cannot be read as intended:\n  " + "\n  ".join(problems)


def test_every_served_operation_is_in_the_contract(openapi_operations):
    documented, planned, _ = parse_contract(CONTRACT.read_text(encoding="utf-8"))
    missing = openapi_operations - set(documented)
    assert not missing, (
        "operations in the OpenAPI document (/api/v1/openapi.json) that docs/contract.md does not "
        "write outside a planned block — add them to their section as `METHOD /path`:\n" + _listing(missing))


def test_every_documented_operation_is_served(openapi_operations, routed_operations):
    documented, _, _ = parse_contract(CONTRACT.read_text(encoding="utf-8"))
    unserved = set(documented) - openapi_operations - routed_operations
    assert not unserved, (
        "operations docs/contract.md states as served that the app does not serve — fix the path, "
        "or move them into a <!-- planned --> block:\n" + _listing(unserved, documented))


def test_no_planned_operation_is_served_yet(openapi_operations, routed_operations):
    _, planned, _ = parse_contract(CONTRACT.read_text(encoding="utf-8"))
    served = set(planned) & (openapi_operations | routed_operations)
    assert not served, (
        "operations in a planned block of docs/contract.md that are served now — move their lines "
        "out of the <!-- planned --> block:\n" + _listing(served, planned))


def test_code_cites_sections_that_exist():
    sections = set(re.findall(r"^## (\d+)\. ", CONTRACT.read_text(encoding="utf-8"), re.M))
    wrong = []
    for path in _tracked_files():
        if path.suffix not in (".py", ".md", ".html", ".txt", ".ini", ".cfg", ".toml"):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for cited in re.findall(r"docs/contract\.md\s*§\s*(\d+)((?:\s*(?:,|and)\s*§?\s*\d+)*)", text):
            numbers = [cited[0]] + re.findall(r"\d+", cited[1])
            wrong += [f"{path.relative_to(ROOT)}: §{n}" for n in numbers if n not in sections]
    assert not wrong, "citations of docs/contract.md sections that do not exist:\n  " + "\n  ".join(wrong)


def test_architecture_cites_paths_that_exist():
    text = ARCHITECTURE.read_text(encoding="utf-8")
    cited = set(re.findall(
        r"`((?:service|models|wechat|config|migrations|tests|bench|docs)/[\w./-]*?)(?::[^`]*)?`", text))
    missing = sorted(p for p in cited if "..." not in p and not (ROOT / p).exists())
    assert not missing, "docs/architecture.md cites paths that are not in the repository:\n  " + "\n  ".join(missing)


def test_readme_links_the_docs():
    text = README.read_text(encoding="utf-8")
    for doc in ("docs/contract.md", "docs/architecture.md"):
        assert f"]({doc})" in text, f"README.md does not link {doc}"
        assert (ROOT / doc).is_file()


def _tracked_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [ROOT / name for name in out.decode().split("\0") if name and (ROOT / name).is_file()]


def test_nothing_points_outside_the_repository():
    outside = ("../" + "shared").encode()  # spelled in two parts so that this file does not match itself
    hits = [str(p.relative_to(ROOT)) for p in _tracked_files() if outside in p.read_bytes()]
    listed = "\n  ".join(hits)
    assert not hits, f"tracked files that point outside the repository ({outside.decode()}):\n  {listed}"
