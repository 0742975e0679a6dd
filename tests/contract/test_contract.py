"""The frontends' operations (a vendored copy of ../shared/contract) against our schema.

Every operation and input type must pass, except those PENDING on a named issue; a pending
one that passes must be taken off the list, so the list only shrinks.
"""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

import pytest
from graphql import DocumentNode, build_schema, parse, validate

from config import Settings
from schema import build_schema as build_campus_schema
from tests.contract.pending import PENDING

HERE = Path(__file__).resolve().parent
VENDORED = HERE / "operations"
SHARED = HERE.parents[2] / "shared" / "contract"
CHECKER = HERE.parents[2] / "shared" / "tools" / "check-contract"


def operations() -> list[tuple[str, DocumentNode]]:
    found = []
    for path in sorted(VENDORED.glob("*.graphql")):
        if path.name == "inputs.graphql":
            continue
        for definition in parse(path.read_text()).definitions:
            name = definition.name.value if definition.name else "<anonymous>"  # type: ignore[attr-defined]
            found.append((f"{path.name}:{name}", DocumentNode(definitions=(definition,))))
    return found


@pytest.fixture(scope="module")
def sdl() -> str:
    return build_campus_schema(Settings(environment="test", _env_file=None)).as_str()  # type: ignore[call-arg]


@pytest.mark.parametrize(("label", "document"), operations(), ids=[label for label, _ in operations()])
def test_operation_validates_unless_pending(sdl: str, label: str, document: DocumentNode) -> None:
    errors = validate(build_schema(sdl), document)
    if label in PENDING:
        assert errors, f"{label} now validates: remove it from PENDING (issue {PENDING[label]})"
    else:
        assert errors == []


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared is not beside this checkout")
def test_vendored_copy_is_the_shared_contract() -> None:
    shared = sorted(p.name for p in SHARED.iterdir() if p.is_file())
    match, mismatch, errors = filecmp.cmpfiles(SHARED, VENDORED, shared, shallow=False)
    assert (mismatch, errors) == ([], []), "copy ../shared/contract into tests/contract/operations"
    assert sorted(match) == shared


@pytest.mark.skipif(
    not CHECKER.is_file(), reason="../shared/tools/check-contract is not beside this checkout"
)
def test_check_contract_fails_only_on_pending(sdl: str, tmp_path: Path) -> None:
    schema_file = tmp_path / "schema.graphql"
    schema_file.write_text(sdl)
    run = subprocess.run(
        [sys.executable, str(CHECKER), str(schema_file), str(VENDORED)],
        capture_output=True,
        text=True,
        check=False,
    )
    failures = {
        line.split(":", 2)[0].removeprefix("FAIL ") + ":" + line.split(":", 2)[1]
        for line in run.stdout.splitlines()
        if line.startswith("FAIL ")
    }
    assert failures == set(PENDING), run.stdout
