"""`webinar-ops doctor`, run as an organiser would, against real servers on loopback.

Each line says OK or what to fix, and the command exits 0 only when everything is fine. The
checks only look: doctor creates no database, applies no migration and sends no mail.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from smtp_servers import smtp_server

from webinar_ops.providers.zoom.standin import FakeZoom

SMTP_PASSWORD = "doctor-smtp-password-31415"


def lines(output: str) -> dict[str, str]:
    """Each check's line, by check name: {"database": "OK   database: …", …}."""
    found = {}
    for line in output.splitlines():
        if line[:3] in ("OK ", "FIX"):
            found[line[5:].split(":", 1)[0]] = line
    return found


@pytest.fixture
def ready(run) -> None:
    """A project folder after `webinar-ops init`."""
    assert run("init").code == 0


def test_a_fresh_folder_is_told_to_run_init_and_nothing_is_created(run, workdir: Path):
    result = run("doctor")

    assert result.code == 1
    found = lines(result.stdout)
    assert found["configuration"].startswith("FIX")
    assert "webinar-ops init" in found["configuration"]
    assert found["database"].startswith("FIX")
    assert "webinar-ops init" in found["database"]
    assert not (workdir / "data" / "webinar_ops.db").exists()
    assert "Traceback" not in result.stderr


def test_after_init_every_check_is_ok(run, ready):
    result = run("doctor")

    assert result.code == 0, result.stdout
    found = lines(result.stdout)
    assert set(found) == {
        "configuration",
        "database",
        "integrity",
        "migrations",
        "provider local",
        "mail maildir",
        "dkim",
    }
    assert all(line.startswith("OK ") for line in found.values())
    assert "PRAGMA integrity_check: ok" in found["integrity"]


def test_json_lists_every_check(run, ready):
    report = run("doctor", "--json").json()

    assert report["ok"] is True
    assert [c["check"] for c in report["checks"]][:4] == ["configuration", "database", "integrity", "migrations"]


def test_a_database_others_can_read_is_to_be_made_private(run, ready, workdir: Path):
    database = workdir / "data" / "webinar_ops.db"
    database.chmod(0o644)

    result = run("doctor")

    assert result.code == 1
    assert f"chmod 600 {Path('data/webinar_ops.db')}" in lines(result.stdout)["database"]


def test_a_shm_this_user_may_not_write_is_reported_with_the_fix(run_as_user, workdir: Path):
    assert run_as_user("init").code == 0
    shm = workdir / "data" / "webinar_ops.db-shm"
    shm.write_bytes(b"")
    shm.chmod(0o444)  # as SQLite leaves it after reading the database while that was 0444

    result = run_as_user("doctor")

    assert result.code == 1
    line = lines(result.stdout)["database"]
    assert line.startswith("FIX")
    shown = Path("data/webinar_ops.db-shm")
    assert f"{shown} is read-only for this user (mode 444): run `chmod 600 {shown}`" in line
    assert "restore it from a backup" not in result.stdout
    assert "Traceback" not in result.stderr


def test_a_read_only_database_is_to_be_made_writable(run_as_user, workdir: Path):
    assert run_as_user("init").code == 0
    (workdir / "data" / "webinar_ops.db").chmod(0o400)

    result = run_as_user("doctor")

    assert result.code == 1
    shown = Path("data/webinar_ops.db")
    assert f"{shown} is read-only for this user (mode 400): run `chmod 600 {shown}`" in lines(result.stdout)["database"]


def test_a_database_folder_this_user_may_not_write_is_reported_with_the_fix(run_as_user, workdir: Path):
    assert run_as_user("init").code == 0
    folder = workdir / "data"
    folder.chmod(0o555)
    try:
        result = run_as_user("doctor")
    finally:
        folder.chmod(0o755)

    assert result.code == 1
    assert "the folder data is not writable for this user (mode 555)" in lines(result.stdout)["database"]
    assert "run `chmod u+rwx data`" in lines(result.stdout)["database"]


def test_a_damaged_database_is_to_be_restored(run, ready, workdir: Path):
    database = workdir / "data" / "webinar_ops.db"
    data = bytearray(database.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the schema page after the header
    database.write_bytes(bytes(data))

    result = run("doctor")

    assert result.code == 1
    assert "restore it from a backup" in result.stdout
    assert "Traceback" not in result.stderr


def test_a_pending_migration_is_reported_and_left_for_a_command_to_apply(run, ready, workdir: Path):
    database = workdir / "data" / "webinar_ops.db"
    with sqlite3.connect(database) as db:
        db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm003_provider_retry_after'")
    db.close()

    result = run("doctor")

    assert result.code == 1
    assert "1 pending (m003_provider_retry_after)" in lines(result.stdout)["migrations"]
    with sqlite3.connect(database) as db:
        assert not db.execute("SELECT 1 FROM _sqlite_migrations WHERE name = 'm003_provider_retry_after'").fetchall()
    db.close()


def test_a_database_from_a_newer_version_asks_for_an_upgrade(run, ready, workdir: Path):
    with sqlite3.connect(workdir / "data" / "webinar_ops.db") as db:
        db.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
            "VALUES ('webinar_ops', 'm999_from_the_future', '2031-01-01')"
        )
    db.close()

    result = run("doctor")

    assert "m999_from_the_future" in lines(result.stdout)["migrations"]
    assert "upgrade" in lines(result.stdout)["migrations"]


def smtp_env(server, password: str = SMTP_PASSWORD) -> dict[str, str]:
    return {
        "MAIL_TRANSPORT": "smtp",
        "SMTP_HOST": server.host,
        "SMTP_PORT": str(server.port),
        "SMTP_SECURITY": "none",
        "SMTP_USERNAME": "organiser",
        "SMTP_PASSWORD": password,
    }


def test_the_smtp_login_is_tried_and_no_mail_is_sent(run, ready):
    with smtp_server(username="organiser", password=SMTP_PASSWORD) as server:
        result = run("doctor", env=smtp_env(server))

        assert result.code == 0, result.stdout
        assert "logged in as organiser" in lines(result.stdout)["mail smtp"]
        assert server.handler.connections == 1
        assert server.handler.received == []


def test_a_refused_smtp_login_is_explained_without_the_password(run, ready):
    with smtp_server(username="organiser", password=SMTP_PASSWORD) as server:
        result = run("doctor", env=smtp_env(server, password="wrong-password-27182"))

    assert result.code == 1
    assert "login refused for user 'organiser'" in lines(result.stdout)["mail smtp"]
    assert "wrong-password-27182" not in result.stdout + result.stderr


def test_an_smtp_server_that_is_not_there_names_the_settings_to_check(run, ready):
    with smtp_server() as server:
        env = smtp_env(server)
    result = run("doctor", env=env)  # the server has gone

    assert result.code == 1
    assert "check SMTP_HOST, SMTP_PORT and SMTP_SECURITY" in lines(result.stdout)["mail smtp"]


@pytest.fixture
def zoom():
    fake = FakeZoom(plan="pro").start()
    yield fake
    fake.stop()


def test_zoom_credentials_are_tried_with_one_token_request(run, ready, zoom: FakeZoom):
    env = {**zoom.environment(), "WEBINAR_OPS_PROVIDER": "zoom"}

    result = run("doctor", env=env)

    assert result.code == 0, result.stdout
    assert "granted a token" in lines(result.stdout)["provider zoom"]
    assert [r.path for r in zoom.requests] == ["/oauth/token"]


def test_a_wrong_zoom_secret_is_explained_without_repeating_it(run, ready, zoom: FakeZoom):
    env = {**zoom.environment(), "WEBINAR_OPS_PROVIDER": "zoom", "ZOOM_CLIENT_SECRET": "not-the-secret-16180"}

    result = run("doctor", env=env)

    assert result.code == 1
    assert "check ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET" in lines(result.stdout)["provider zoom"]
    assert "not-the-secret-16180" not in result.stdout + result.stderr


def test_missing_zoom_keys_are_named(run, ready):
    result = run("doctor", env={"WEBINAR_OPS_PROVIDER": "zoom"})

    assert result.code == 1
    line = lines(result.stdout)["provider zoom"]
    for key in ("ZOOM_ACCOUNT_ID", "ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET"):
        assert f"{key} is not set (fix: see docs/zoom.md)" in line


def test_a_broken_configuration_is_reported_by_key(run, ready):
    result = run("doctor", env={"SMTP_PORT": "seventy"})

    assert result.code == 1
    assert lines(result.stdout)["configuration"].startswith("FIX")
    assert "SMTP_PORT: 'seventy'" in result.stdout
