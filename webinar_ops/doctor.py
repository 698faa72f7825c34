"""`webinar-ops doctor`: is this installation ready to send?

Each check gives one `Finding`: fine, or what to fix. The checks only read: the database is
opened read-only (no migration is applied, nothing is created), the provider is asked for
one access token and the mail server for one login. A provider or transport plugin takes
part through its `doctor_checks(settings)`: each check returns what it found and raises the
provider's or transport's own error when something is wrong.
"""

from __future__ import annotations

import contextlib
import sqlite3
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

from webinar_ops import db_files
from webinar_ops.config import ENV_FILE, Settings, load_settings
from webinar_ops.errors import InputError, Problem, WebinarOpsError
from webinar_ops.providers import ProviderError, available_providers, provider_plugin
from webinar_ops.store import migrations
from webinar_ops.transports import TemporaryFailure, TransportConfigError, available_transports, transport_plugin


@dataclass(frozen=True)
class Finding:
    """One line of the diagnosis: `ok`, and either what was found or what to fix."""

    check: str
    ok: bool
    detail: str


def diagnose(env_file: Path = ENV_FILE, environ: Mapping[str, str] | None = None) -> list[Finding]:
    """Run every check that the configuration allows; a broken configuration stops the rest."""
    try:
        settings = load_settings(env_file, environ)
    except InputError as exc:
        return [Finding("configuration", False, str(exc))]
    findings = [check_configuration(settings)]
    findings += check_database(settings.db_path)
    findings += [check_provider(name, settings) for name in providers_in_use(settings)]
    findings.append(check_transport(settings))
    findings.append(check_dkim(settings))
    return findings


def check_configuration(settings: Settings) -> Finding:
    """The keys that every command needs are set."""
    if not settings.secret_key:
        return Finding(
            "configuration",
            False,
            "WEBINAR_OPS_SECRET_KEY is not set: run `webinar-ops init`, which writes one to .env",
        )
    return Finding(
        "configuration", True, f"provider {settings.provider}, transport {settings.mail_transport}, signing key set"
    )


def check_database(path: Path) -> list[Finding]:
    """The database exists, is private, may be read and written by this user (with its
    folder and its -wal and -shm), passes SQLite's integrity check and is migrated."""
    if not path.exists():
        return [Finding("database", False, f"there is no database at {path}: run `webinar-ops init`")]
    files = _check_files(path)
    findings = [files]
    try:
        with _read_only(path) as connection:
            findings.append(_check_integrity(path, connection))
            findings.append(_check_migrations(Database(connection)))
    except sqlite3.DatabaseError as exc:
        if files.ok:
            detail = f"{path} cannot be read as a database ({exc}): restore it from a backup"
        else:  # not damage: what keeps SQLite from using it is on the line above
            detail = f"not checked: SQLite cannot use {path} ({exc}) until the database's files are put right"
        findings.append(Finding("integrity", False, detail))
    return findings


def _check_files(path: Path) -> Finding:
    problems = db_files.access_problems(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077 and not problems:  # a problem with the database's own access has the same fix
        problems.append(f"{path} is readable by others (mode {mode:o}): run `chmod 600 {path}`")
    if problems:
        return Finding("database", False, "; ".join(problems))
    return Finding(
        "database",
        True,
        f"{path}, readable by its owner only; this user may write it, its folder and its -wal and -shm",
    )


def _check_integrity(path: Path, connection: sqlite3.Connection) -> Finding:
    answers = [row[0] for row in connection.execute("PRAGMA integrity_check")]
    if answers == ["ok"]:
        return Finding("integrity", True, "PRAGMA integrity_check: ok")
    shown = "; ".join(answers[:3])
    return Finding("integrity", False, f"{path} is damaged ({shown}): restore it from a backup")


def _check_migrations(db: Database) -> Finding:
    known = {m.name for m in migrations.pending(Database(memory=True))}
    unknown = [m.name for m in migrations.applied(db) if m.name not in known]
    if unknown:
        return Finding(
            "migrations", False, f"the database has migrations this version lacks ({', '.join(unknown)}): upgrade"
        )
    pending = [m.name for m in migrations.pending(db)]
    if pending:
        return Finding(
            "migrations",
            False,
            f"{len(pending)} pending ({', '.join(pending)}): any command that opens the database, such as "
            "`webinar-ops status`, applies them",
        )
    return Finding("migrations", True, f"all {len(known)} applied")


def _read_only(path: Path) -> contextlib.closing[sqlite3.Connection]:
    """A read-only connection, closed at the end of the `with` (sqlite3's own context
    manager only ends a transaction)."""
    return contextlib.closing(db_files.connect_read_only(path, timeout=5))


def providers_in_use(settings: Settings) -> list[str]:
    """The default provider and every provider a stored webinar uses."""
    names = [settings.provider]
    if settings.db_path.exists():
        try:
            with _read_only(settings.db_path) as connection:
                rows = connection.execute("SELECT DISTINCT provider FROM webinars ORDER BY provider").fetchall()
        except sqlite3.DatabaseError:
            rows = []
        names += [name for (name,) in rows if name not in names]
    return names


def check_provider(name: str, settings: Settings) -> Finding:
    """Ask the provider for access as the settings describe it (for Zoom: one token)."""
    label = f"provider {name}"
    if name not in available_providers():
        return Finding(label, False, f"no such provider: use one of {', '.join(available_providers())}")
    return _run_checks(label, provider_plugin(name).doctor_checks(settings), (ProviderError, WebinarOpsError))


def check_transport(settings: Settings) -> Finding:
    """Try the mail transport as configured (for SMTP: connect, secure, log in, quit)."""
    name = settings.mail_transport
    label = f"mail {name}"
    if name not in available_transports():
        return Finding(label, False, f"no such transport: use one of {', '.join(available_transports())}")
    failures = (TransportConfigError, TemporaryFailure, WebinarOpsError)
    return _run_checks(label, transport_plugin(name).doctor_checks(settings), failures)


def check_dkim(settings: Settings) -> Finding:
    """Whether mail is DKIM-signed; if it is, that the key loads and signs, that only its
    owner can read it, that it signs for the sender's domain, and the DNS record to publish."""
    from webinar_ops.signing import KeyRefused, Signer

    try:
        signer = Signer.from_settings(settings)
    except KeyRefused as exc:  # the file changed since the settings were read
        return Finding("dkim", False, f"{exc} (fix: {exc.fix})")
    if signer is None:
        return Finding(
            "dkim", True, "off: mail goes unsigned; set DKIM_DOMAIN, DKIM_SELECTOR and DKIM_PRIVATE_KEY_FILE to sign it"
        )
    path = settings.dkim_private_key_file
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        return Finding("dkim", False, f"the key {path} is readable by others (mode {mode:o}): run `chmod 600 {path}`")
    sender_domain = settings.mail_domain
    if _organisational(sender_domain) != _organisational(signer.domain):
        return Finding(
            "dkim",
            False,
            f"mail comes from {sender_domain} but is signed for {signer.domain}, so DMARC does not count the "
            f"signature: set DKIM_DOMAIN to {sender_domain} (or a parent of it), or MAIL_FROM to an address there",
        )
    return Finding(
        "dkim",
        True,
        f"on: the {signer.key.describe()} key in {path} loads and signs for {signer.domain}; "
        f"publish this TXT record at {signer.record_name}: {signer.key.dns_record}",
    )


def _organisational(domain: str) -> str:
    # The last two labels: DMARC's relaxed alignment compares organisational domains. Exact
    # would need the public suffix list; under a suffix such as co.uk this errs towards OK.
    return ".".join(domain.lower().split(".")[-2:])


def _run_checks(label: str, checks: list[Callable[[], str]], failures: tuple[type[Exception], ...]) -> Finding:
    """One finding for a plugin's checks: the first that fails, or what they all found."""
    if not checks:
        return Finding(label, True, "this module has no check; nothing was tried")
    found = []
    for check in checks:
        try:
            found.append(check())
        except InputError as exc:
            return Finding(label, False, f"{exc.summary} {'; '.join(_one_line(p) for p in exc.problems)}".strip())
        except failures as exc:
            return Finding(label, False, str(exc))
    return Finding(label, True, "; ".join(found))


def _one_line(problem: Problem) -> str:
    what = f"{problem.field} {problem.message}" if problem.field else problem.message
    return f"{what} (fix: {problem.fix})" if problem.fix else what


def healthy(findings: Iterator[Finding] | list[Finding]) -> bool:
    """True when every finding is fine."""
    return all(finding.ok for finding in findings)
