"""Shared fixtures: a fresh project folder, the real command line, a real SQLite store."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from webinar_ops.config import Settings, known_keys
from webinar_ops.definition import Definition, load_definition
from webinar_ops.store import Registrant, Store

KEYS = known_keys()  # every key webinar-ops reads, its plugins' too

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DEFINITION = REPO / "data" / "webinars" / "undesa-snu-session-5.toml"
SAMPLE_CSV = REPO / "data" / "registrants-sample.csv"
SAMPLE_SLUG = "undesa-snu-session-5"
TEST_SECRET_KEY = "test-secret-key-0123456789-abcdefghijklmnop"
NOW = datetime(2021, 4, 1, 9, 0, tzinfo=UTC)

# Names that carry a web or mail address into signed mail, each with the address a reader
# would see in it, which no mail may show.
HOSTILE_NAMES = {
    "evil.com?claim=1": "evil.com",
    "Visit evil.com now": "evil.com",
    "bit.ly": "bit.ly",
    "192.168.1.1/x": "192.168.1.1",
    "Ana 10.0.0.1": "10.0.0.1",
    "evil\u3002com/x": "evil\u3002com",  # the ideographic full stop, a dot to browsers
    "evil\uff0ecom": "evil\uff0ecom",  # the full-width full stop
    "evil\uff61com": "evil\uff61com",  # the half-width ideographic full stop
    "http\uff1a//evil.com": "evil.com",  # a full-width colon
    "bob\uff20evil.com": "evil.com",  # a full-width @
    "evil\u200b.com": "evil\u200b.com",  # a zero-width space before the dot
    "example.co.uk": "example.co.uk",
    "Evil.Com": "Evil.Com",
    "EVIL.COM": "EVIL.COM",
    "evil.com.Smith": "evil.com",
    "пример.рф": "пример.рф",
    "xn--e1afmkfd.xn--p1ai": "xn--p1ai",
    "www.evil": "www.evil",
    "mailto:bob": "mailto:bob",
    "javascript:alert(1)": "javascript:",
    "win@evil.example": "evil.example",
}

# Real names, with dots, apostrophes, hyphens and any script: kept as typed.
LEGITIMATE_NAMES = (
    "J. R. R. Tolkien",
    "J.R.R. Tolkien",
    "J.R.R.Tolkien",
    "Mr.Smith",
    "Dr. Ana María López-García",
    "O'Brien",
    "St. John",
    "Jean-Luc Picard",
    "Ana López, Ph.D.",
    "Ana López, M.Sc.",
    "Dr.med. Hans Müller",
    "이민준",
    "محمد بن سلمان",
    "Nguyễn Văn An",
    "А.С.Пушкин",
    "ana.lima",
)


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


def run_cli(
    workdir: Path, args: tuple[str, ...], env: dict[str, str] | None, preexec_fn: Callable[[], None] | None = None
) -> Ran:
    """`webinar-ops ARGS` in the project folder, as a separate process."""
    base_env = {k: v for k, v in os.environ.items() if k not in KEYS}
    process = subprocess.run(
        [sys.executable, "-m", "webinar_ops", *map(str, args)],
        cwd=workdir,
        capture_output=True,
        text=True,
        env={**base_env, **(env or {})},
        timeout=120,
        preexec_fn=preexec_fn,
    )
    return Ran(process.returncode, process.stdout, process.stderr)


@pytest.fixture
def run(workdir: Path):
    """Run the real `webinar-ops` entry point in the project folder, as a separate process."""

    def run(*args: str, env: dict[str, str] | None = None) -> Ran:
        return run_cli(workdir, args, env)

    return run


# Root ignores file modes, so a command run by root cannot show what a chmod does to an
# organiser. For root, `run_as_user` takes away, in the command's process only, the
# capabilities that set root apart where files are concerned (CAP_CHOWN, CAP_DAC_OVERRIDE,
# CAP_DAC_READ_SEARCH, CAP_FOWNER): the process stays uid 0, the owner of the test's files,
# and modes and owners bind it as they bind any user. Becoming another user (`nobody`) would
# need the interpreter and the project to be readable by that user, which a virtualenv built
# from an interpreter in root's home is not.
PR_CAPBSET_DROP = 24
FILE_MODE_OVERRIDES = (0, 1, 2, 3)  # CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
_LIBC = ctypes.CDLL(None, use_errno=True)


def _give_up_file_mode_overrides() -> None:
    # Runs in the child between fork and exec: what the bounding set lacks, the program
    # exec'd next never gets.
    for capability in FILE_MODE_OVERRIDES:
        _LIBC.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0)


def _modes_bind(folder: Path) -> bool:
    """Whether a process started by `run_as_user` is refused a write to a 0444 file."""
    probe = folder / "mode-probe"
    probe.write_text("")
    probe.chmod(0o444)
    try:
        attempt = subprocess.run(
            [sys.executable, "-c", f"open({str(probe)!r}, 'a')"],
            capture_output=True,
            preexec_fn=_give_up_file_mode_overrides,
            timeout=60,
        )
    finally:
        probe.unlink()
    return attempt.returncode != 0


@pytest.fixture
def run_as_user(workdir: Path, tmp_path_factory: pytest.TempPathFactory):
    """Like `run`, in a process that file modes bind as they bind an organiser, also when the
    tests run as root (see above)."""
    if os.geteuid() != 0:
        return lambda *args, env=None: run_cli(workdir, args, env)
    if not _modes_bind(tmp_path_factory.mktemp("probe")):
        pytest.skip("running as root, and this process may not give up root's power to ignore file modes")
    return lambda *args, env=None: run_cli(workdir, args, env, preexec_fn=_give_up_file_mode_overrides)


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


def reader(**fields) -> Registrant:
    """Someone to compose a mail for, as the store gives a registrant: approved, and not
    stored (no id, so no personal links, as for a preview) unless `fields` give one."""
    stamp = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    given = {
        "id": None,
        "webinar_id": 1,
        "status": "approved",
        "source": "cli",
        "created_at": stamp,
        "updated_at": stamp,
    }
    return Registrant(**{**given, **fields})


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
