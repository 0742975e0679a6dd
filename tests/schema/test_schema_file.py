"""schema.graphql is the printed schema, committed, so that every API change shows in review."""

from __future__ import annotations

from pathlib import Path

from config import Settings
from schema import build_schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_committed_schema_is_current() -> None:
    printed = build_schema(Settings(environment="test", _env_file=None)).as_str()  # type: ignore[call-arg]
    assert SCHEMA_FILE.read_text() == printed + "\n", "run: python server.py schema > schema.graphql"
