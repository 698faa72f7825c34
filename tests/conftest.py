"""Shared fixtures: a fresh project folder, the real command line, a real SQLite store."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from webinar_ops.config import KEYS, Settings
from webinar_ops.definition import Definition, load_definition
from webinar_ops.store import Store

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DEFINITION = REPO / "data" / "webinars" / "undesa-snu-session-5.toml"
SAMPLE_CSV = REPO / "data" / "registrants-sample.csv"
SAMPLE_SLUG = "undesa-snu-session-5"
TEST_SECRET_KEY = "test-secret-key-0123456789-abcdefghijklmnop"
NOW = datetime(2021, 4, 1, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Ran:
    """The outcome of one `webinar-ops` command."""

    code: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An organiser's project folder holding the sample data, and nothing else."""
    shutil.copytree(REPO / "data", tmp_path / "data", ignore=shutil.ignore_patterns("*.db*", "outbox"))
    monkeypatch.chdir(tmp_path)
    for key in KEYS:
        monkeypatch.delenv(key, raising=False)
    return tmp_path


@pytest.fixture
def run(workdir: Path):
    """Run the real `webinar-ops` entry point in the project folder, as a separate process."""
    base_env = {k: v for k, v in os.environ.items() if k not in KEYS}

    def run(*args: str, env: dict[str, str] | None = None) -> Ran:
        process = subprocess.run(
            [sys.executable, "-m", "webinar_ops", *map(str, args)],
            cwd=workdir,
            capture_output=True,
            text=True,
            env={**base_env, **(env or {})},
            timeout=120,
        )
        return Ran(process.returncode, process.stdout, process.stderr)

    return run


@pytest.fixture
def write(workdir: Path):
    """Write a file into the project folder, byte for byte (str is written as UTF-8)."""

    def write(content: str | bytes, name: str = "people.csv") -> Path:
        path = workdir / name
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        return path

    return write


@pytest.fixture
def settings(workdir: Path) -> Settings:
    return Settings(db_path=workdir / "data" / "test.db", secret_key=TEST_SECRET_KEY)


@pytest.fixture
def store(settings: Settings):
    with Store.open(settings.db_path) as store:
        yield store


@pytest.fixture
def sample() -> Definition:
    return load_definition(SAMPLE_DEFINITION)


def definition_variant(folder: Path, replacements: dict[str, str], name: str = "variant.toml") -> Path:
    """A copy of the sample definition with some text replaced; each `old` must occur."""
    text = SAMPLE_DEFINITION.read_text(encoding="utf-8")
    for old, new in replacements.items():
        assert old in text, f"{old!r} is not in the sample definition"
        text = text.replace(old, new, 1)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for the session (see tests/browser.py)."""
    from browser import CHROMIUM_FLAGS, chromium_path
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()
