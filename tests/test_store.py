"""The SQLite store: a private file, safe connection settings, migrations, webinars."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import NOW, SAMPLE_DEFINITION, SAMPLE_SLUG, definition_variant

from webinar_ops.definition import load_definition
from webinar_ops.people import Person
from webinar_ops.store import NewRegistrant, Store, migrations


def mode_of(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def save(store: Store, path=SAMPLE_DEFINITION, provider: str = "local", now=NOW):
    return store.save_webinar(load_definition(path), path.read_text(encoding="utf-8"), provider, now)


def person(webinar_id: int, email: str, first_name: str = "Ana", **provider) -> NewRegistrant:
    """Ana (by default), to add to the webinar as the command line adds her."""
    someone = Person(email=email, first_name=first_name)
    return NewRegistrant(webinar_id=webinar_id, person=someone, status="approved", source="cli", **provider)


# -- the file and the connection --------------------------------------------------------------


def test_the_database_file_is_readable_by_its_owner_only(workdir):
    path = workdir / "fresh" / "ops.db"
    with Store.open(path) as store:
        save(store)
        assert mode_of(path) == 0o600
        assert mode_of(path.with_name("ops.db-wal")) == 0o600


def test_the_connection_uses_wal_foreign_keys_and_a_busy_timeout(store):
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.db.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000


def test_a_registrant_must_belong_to_a_webinar(store):
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        store.add_registrants([person(999, "ana@example.org")], NOW)


# -- migrations ----------------------------------------------------------------------------------


def applied_migrations(store: Store) -> list[tuple[str, str, str]]:
    sql = "SELECT migration_set, name, applied_at FROM _sqlite_migrations ORDER BY rowid"
    return [tuple(row) for row in store.db.execute(sql).fetchall()]


def test_migrations_are_recorded(store):
    names = [(s, n) for s, n, _ in applied_migrations(store)]
    assert names == [("webinar_ops", m.name) for m in migrations._migrations]
    assert {"webinars", "registrants", "deliveries"} <= set(store.db.table_names())


def test_reopening_applies_nothing_twice_and_keeps_the_data(settings):
    with Store.open(settings.db_path) as store:
        save(store)
        first = applied_migrations(store)
    with Store.open(settings.db_path) as store:
        assert applied_migrations(store) == first
        assert [w.slug for w in store.webinars()] == [SAMPLE_SLUG]


# -- registrants ---------------------------------------------------------------------------------


def test_one_address_is_registered_once_per_webinar(store):
    webinar = save(store).record
    store.add_registrants([person(webinar.id, "ana@example.org")], NOW)
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        store.add_registrants([person(webinar.id, "ana@example.org", first_name="Ana Maria")], NOW)
    assert [r.first_name for r in store.registrants(webinar.id)] == ["Ana"]


def test_the_same_address_may_register_for_two_webinars(store, workdir):
    first = save(store).record
    other = save(store, definition_variant(workdir, {'slug = "undesa-snu-session-5"': 'slug = "session-6"'})).record
    store.add_registrants([person(first.id, "ana@example.org"), person(other.id, "ana@example.org")], NOW)
    assert store.registrant(first.id, "ana@example.org").webinar_id == first.id
    assert store.registrant(other.id, "ana@example.org").webinar_id == other.id


def test_a_failed_transaction_writes_nothing(store):
    webinar = save(store).record

    def add_ana_twice():
        with store.transaction():
            store.add_registrants([person(webinar.id, "ana@example.org")], NOW)
            store.add_registrants([person(webinar.id, "ana@example.org")], NOW)

    with pytest.raises(sqlite3.IntegrityError):
        add_ana_twice()
    assert store.registrants(webinar.id) == []


# -- saving webinars --------------------------------------------------------------------------------

LATER = NOW + timedelta(hours=1)
MOVED = {'start = "2021-04-30 15:00"': 'start = "2021-05-07 15:00"'}
RETITLED = {'title = "Strengthening Data Governance': 'title = "Better Data Governance'}
REWORDED = {"All governments have fully recognized": "Most governments have recognized"}


def test_saving_a_new_webinar_creates_it_at_revision_0(store):
    saved = save(store)
    assert saved.outcome == "created"
    assert saved.changes == ()
    assert saved.record.slug == SAMPLE_SLUG
    assert saved.record.revision == 0
    assert saved.record.provider == "local"
    assert saved.record.needs_publishing


def test_saving_the_same_definition_again_changes_nothing(store):
    created = save(store).record
    saved = save(store, now=LATER)
    assert saved.outcome == "unchanged"
    assert saved.changes == ()
    assert saved.record == created


def test_moving_the_start_updates_it_and_raises_the_revision(store, workdir):
    save(store)
    saved = save(store, definition_variant(workdir, MOVED), now=LATER)
    assert saved.outcome == "updated"
    assert "start: 2021-04-30 15:00 Asia/Seoul → 2021-05-07 15:00 Asia/Seoul" in saved.changes
    assert saved.record.revision == 1
    assert saved.record.definition.start.isoformat() == "2021-05-07T06:00:00+00:00"
    assert saved.record.updated_at == "2021-04-01T10:00:00Z"


def test_a_new_title_raises_the_revision(store, workdir):
    save(store)
    saved = save(store, definition_variant(workdir, RETITLED), now=LATER)
    assert saved.outcome == "updated"
    assert [c.split(":")[0] for c in saved.changes] == ["title"]
    assert saved.record.revision == 1
    assert saved.record.title.startswith("Better Data Governance")


def test_a_new_description_is_saved_without_raising_the_revision(store, workdir):
    webinar = save(store).record
    store.set_hosted(webinar, "81234567890", "https://example.org/w/1", None)
    saved = save(store, definition_variant(workdir, REWORDED), now=LATER)
    assert saved.outcome == "updated"
    assert [c.split(":")[0] for c in saved.changes] == ["description"]
    assert saved.record.revision == 0
    assert saved.record.definition.description.startswith("Most governments")
    assert not saved.record.needs_publishing


def test_a_new_approval_is_published_without_raising_the_revision(store, workdir):
    webinar = save(store).record
    store.set_hosted(webinar, "81234567890", "https://example.org/w/1", None)
    saved = save(store, definition_variant(workdir, {'approval = "automatic"': 'approval = "manual"'}), now=LATER)
    assert saved.record.revision == 0
    assert saved.record.needs_publishing


def test_each_significant_change_raises_the_revision_once(store, workdir):
    save(store)
    assert save(store, definition_variant(workdir, MOVED)).record.revision == 1
    assert save(store, definition_variant(workdir, {**MOVED, **RETITLED})).record.revision == 2
    assert save(store, definition_variant(workdir, {**MOVED, **RETITLED, **REWORDED})).record.revision == 2


def test_moving_a_webinar_to_another_provider_forgets_its_provider_ids(store):
    webinar = save(store).record
    store.set_hosted(webinar, "81234567890", "https://example.org/w/1", "https://example.org/r/1")
    store.add_registrants(
        [
            person(
                webinar.id,
                "ana@example.org",
                provider_registrant_id="r-1",
                provider_status="approved",
                join_url="https://example.org/j/secret",
            )
        ],
        NOW,
    )
    store.update_registrant(store.registrant(webinar.id, "ana@example.org").id, {"sync_error": "old error"}, NOW)
    saved = save(store, provider="zoom", now=LATER)
    assert saved.outcome == "updated"
    assert "provider: local → zoom" in saved.changes
    record = saved.record
    assert (record.provider, record.provider_webinar_id, record.provider_join_url, record.provider_revision) == (
        "zoom",
        None,
        None,
        None,
    )
    assert record.needs_publishing
    row = store.registrant(webinar.id, "ana@example.org")
    assert (row.provider_registrant_id, row.provider_status, row.join_url, row.sync_error) == (
        None,
        None,
        None,
        None,
    )
    assert row.status == "approved"


# -- another process holding the write lock -----------------------------------------------------------

HOLD_THE_WRITE_LOCK = textwrap.dedent(
    """
    import sqlite3, sys, time
    connection = sqlite3.connect(sys.argv[1], isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")
    connection.execute("UPDATE webinars SET updated_at = updated_at")
    print("locked", flush=True)
    time.sleep(1)
    connection.execute("COMMIT")
    """
)


def test_a_write_waits_for_another_process_holding_the_lock(store, workdir):
    save(store)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_WRITE_LOCK, str(store.path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        saved = save(store, definition_variant(workdir, RETITLED), now=LATER)
        waited = time.monotonic() - started
    finally:
        holder.wait(timeout=30)
    assert holder.returncode == 0
    assert saved.outcome == "updated"
    assert waited >= 0.5
    assert store.webinar(SAMPLE_SLUG).title.startswith("Better Data Governance")


# -- a database whose mode was changed -----------------------------------------------------------------
# These run the real command line in a process that file modes bind (`run_as_user`), since
# root would write a 0444 file anyway.

NOBODY = 65534


def database_files(workdir) -> dict[str, int]:
    """The database's files as {name: mode}: the file itself and any -wal and -shm."""
    return {path.name: mode_of(path) for path in sorted((workdir / "data").glob("webinar_ops.db*"))}


def a_database_with_a_read_only_shm(run_as_user, workdir) -> Path:
    """A new project's database, with what an earlier version left after reading it while it
    was 0444: SQLite made its -wal and -shm as it makes them, with the database's mode, and
    nobody may write them any more."""
    assert run_as_user("init").code == 0
    database = workdir / "data" / "webinar_ops.db"
    database.chmod(0o444)
    reader = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
    reader.execute("SELECT count(*) FROM webinars").fetchall()
    reader.close()
    assert mode_of(database.with_name("webinar_ops.db-shm")) == 0o444
    database.chmod(0o600)
    return database


def test_a_database_that_was_read_only_for_a_while_takes_writes_again_once_its_mode_is_mended(run_as_user, workdir):
    assert run_as_user("init").code == 0
    database = workdir / "data" / "webinar_ops.db"
    database.chmod(0o444)
    assert run_as_user("status").code == 0
    database.chmod(0o600)

    added = run_as_user("webinar", "add", SAMPLE_DEFINITION)

    assert added.code == 0, added.stderr
    assert SAMPLE_SLUG in run_as_user("webinar", "list").stdout


def test_reading_a_read_only_database_leaves_no_read_only_wal_or_shm_behind(run_as_user, workdir):
    assert run_as_user("init").code == 0
    database = workdir / "data" / "webinar_ops.db"
    database.chmod(0o444)

    assert run_as_user("status").code == 0
    assert run_as_user("status").code == 0  # SQLite gives an empty -wal it opens the database's mode

    files = database_files(workdir)
    assert files.pop("webinar_ops.db") == 0o444
    assert all(mode & 0o600 == 0o600 for mode in files.values()), files


def test_a_read_only_shm_left_by_an_earlier_reader_is_made_writable_again(run_as_user, workdir):
    a_database_with_a_read_only_shm(run_as_user, workdir)

    added = run_as_user("webinar", "add", SAMPLE_DEFINITION)

    assert added.code == 0, added.stderr
    assert all(mode == 0o600 for mode in database_files(workdir).values())


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_a_stale_shm_of_another_user_is_removed_when_no_one_has_the_database_open(run_as_user, workdir):
    database = a_database_with_a_read_only_shm(run_as_user, workdir)
    shm = database.with_name("webinar_ops.db-shm")
    os.chown(shm, NOBODY, NOBODY)  # so the owner of the database may not chmod it

    added = run_as_user("webinar", "add", SAMPLE_DEFINITION)

    assert added.code == 0, added.stderr
    assert not shm.exists() or shm.stat().st_uid != NOBODY


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_a_shm_of_another_user_is_kept_while_another_process_has_the_database_open(run_as_user, workdir):
    database = a_database_with_a_read_only_shm(run_as_user, workdir)
    shm = database.with_name("webinar_ops.db-shm")
    # Root may use the -shm whatever its mode; SQLite run by root gives it to the database's
    # owner when it opens it, so it is given away afterwards.
    reader = sqlite3.connect(database)
    reader.execute("SELECT count(*) FROM webinars").fetchall()
    os.chown(shm, NOBODY, NOBODY)
    try:
        added = run_as_user("webinar", "add", SAMPLE_DEFINITION)
        assert shm.stat().st_uid == NOBODY
    finally:
        reader.close()

    assert added.code == 1
    assert f"{Path('data/webinar_ops.db-shm')} belongs to nobody" in added.stderr
    assert "Traceback" not in added.stderr


def test_writing_to_a_read_only_database_names_the_file_and_the_fix(run_as_user, workdir):
    assert run_as_user("init").code == 0
    (workdir / "data" / "webinar_ops.db").chmod(0o444)

    added = run_as_user("webinar", "add", SAMPLE_DEFINITION)

    assert added.code == 1
    database = Path("data/webinar_ops.db")
    assert f"error: Cannot write to the database {database}: " in added.stderr
    assert f"{database} is read-only for this user (mode 444): run `chmod 600 {database}`" in added.stderr
    assert "Traceback" not in added.stderr
    assert "unexpected" not in added.stderr


def test_publishing_to_a_read_only_database_names_the_file_and_the_fix(run_as_user, workdir):
    """`sync` records the provider's ids with a plain update, outside a transaction."""
    assert run_as_user("init").code == 0
    assert run_as_user("webinar", "add", SAMPLE_DEFINITION).code == 0
    (workdir / "data" / "webinar_ops.db").chmod(0o444)

    synced = run_as_user("sync", SAMPLE_SLUG)

    assert synced.code == 1
    database = Path("data/webinar_ops.db")
    assert f"run `chmod 600 {database}`" in synced.stderr
    assert "unexpected" not in synced.stderr
    assert "Traceback" not in synced.stderr
