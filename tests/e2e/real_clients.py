"""Tests with the users' real clients (a browser, the frontends' npm libraries) skip with a
reason where those clients are not installed, and fail instead in CI, which installs them
(`.ci/run` sets CAMPUSGRAPH_REAL_CLIENTS=required)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
NODE_PROJECT = Path(__file__).resolve().parents[1] / "node"


def required() -> bool:
    return os.environ.get("CAMPUSGRAPH_REAL_CLIENTS") == "required"


def need(available: bool, reason: str) -> None:
    """Skips (or, in CI, fails) the calling test when its client is not available."""
    if available:
        return
    if required():
        pytest.fail(f"{reason} (CAMPUSGRAPH_REAL_CLIENTS=required)")
    pytest.skip(reason)


def need_chromium() -> None:
    need(CHROMIUM.exists(), "Debian's chromium is not installed (apt-get install chromium)")


def need_node_clients() -> None:
    installed = shutil.which("node") is not None and (NODE_PROJECT / "node_modules").is_dir()
    need(installed, "the Node clients are not installed (npm ci --prefix tests/node)")
