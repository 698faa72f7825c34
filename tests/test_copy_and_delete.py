"""Copy and tidy: `registrants copy` carries people to a follow-on session, which registers and
mails them as its own; `webinar delete` removes a test webinar and all that belongs to it."""

from __future__ import annotations

import mailbox
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from pathlib import Path

import pytest
from conftest import SAMPLE_DEFINITION, SAMPLE_SLUG
from test_zoom import zoom_settings

from webinar_ops.definition import load_definition
from webinar_ops.errors import InputError, OperationError
from webinar_ops.providers import load_provider
from webinar_ops.providers.zoom.standin import FakeZoom
from webinar_ops.registrants import apply_import, plan_import
from webinar_ops.store import Store
from webinar_ops.sync import sync_webinar
from webinar_ops.tidy import copy_registrants, delete_webinar

FOLLOW_ON = "undesa-snu-session-6"


def session(folder: Path, slug: str, start: datetime, extra: str = "") -> Path:
    """The sample as webinar `slug`, on the day of `start` at 15:00 Seoul time, with `extra` lines."""
    text = SAMPLE_DEFINITION.read_text(encoding="utf-8")
    text = text.replace('"2021-04-30 15:00"', f'"{start:%Y-%m-%d} 15:00"').replace(
        f'slug = "{SAMPLE_SLUG}"', f'slug = "{slug}"'
    )
    path = folder / f"{slug}.toml"
    path.write_text(text + extra, encoding="utf-8")
    return path


@pytest.fixture
def two_sessions(run, workdir, write):
    """The sample and its follow-on a week later, both ahead of now, on the local provider;
    the sample's three people imported, one of them cancelled, and its mail sent."""
    start = datetime.now(UTC) + timedelta(days=20)
    assert run("init").code == 0
    for slug, when in ((SAMPLE_SLUG, start), (FOLLOW_ON, start + timedelta(days=7))):
        added = run("webinar", "add", str(session(workdir, slug, when)))
        assert added.code == 0, added.stderr
    people = write(
        "email,first_name,time_zone\nana@example.org,Ana,Europe/Paris\nben@example.org,Ben,\ncy@example.org,Cy,\n"
    )
    assert run("registrants", "import", SAMPLE_SLUG, str(people)).code == 0
    assert run("registrants", "cancel", SAMPLE_SLUG, "cy@example.org").code == 0
    assert run("sync", SAMPLE_SLUG).code == 0
    assert run("run", "--once").code == 0
    return workdir


def delivered(workdir: Path) -> list[tuple[str, str]]:
    """(to, subject) of every mail in the Maildir outbox."""
    box = mailbox.Maildir(workdir / "data" / "outbox", create=False)
    return sorted((parseaddr(str(m["To"]))[1], str(m["Subject"])) for m in box)


def test_copying_registers_the_approved_people_for_the_follow_on_and_they_get_its_confirmation_once(run, two_sessions):
    before = delivered(two_sessions)
    copied = run("registrants", "copy", SAMPLE_SLUG, FOLLOW_ON, "--json")
    listed = {row["email"]: row for row in run("registrants", "list", FOLLOW_ON, "--json").json()}
    quiet = run("run", "--once")
    after_sync = delivered(two_sessions)
    again = run("run", "--once")

    assert copied.code == 0, copied.stderr
    assert copied.json()["added"] == ["ana@example.org", "ben@example.org"]
    assert set(listed) == {"ana@example.org", "ben@example.org"}, "the cancelled person stays behind"
    assert listed["ana@example.org"]["time_zone"] == "Europe/Paris"
    assert listed["ana@example.org"]["status"] == "approved"
    assert quiet.code == 0
    new = [mail for mail in after_sync if mail not in before]
    assert len(new) == 2, "one confirmation each, of the follow-on, after its sync (run --once syncs)"
    assert {to for to, _ in new} == {"ana@example.org", "ben@example.org"}
    assert delivered(two_sessions) == after_sync, again.stdout


def test_copying_twice_adds_nobody_twice_and_reports_who_was_there(run, two_sessions):
    assert run("registrants", "copy", SAMPLE_SLUG, FOLLOW_ON).code == 0

    again = run("registrants", "copy", SAMPLE_SLUG, FOLLOW_ON)

    assert again.code == 0
    assert "Copied 0 people" in again.stdout
    assert "ana@example.org (approved)" in again.stdout
    assert len(run("registrants", "list", FOLLOW_ON, "--json").json()) == 2


def test_a_webinar_cannot_be_copied_onto_itself(run, two_sessions):
    refused = run("registrants", "copy", SAMPLE_SLUG, SAMPLE_SLUG)

    assert refused.code == 2
    assert "both the webinar to copy from" in refused.stderr


def test_copying_into_a_closed_registration_needs_force(run, two_sessions, workdir):
    closes = (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%d 12:00")
    start = datetime.now(UTC) + timedelta(days=27)
    extra = f'\n[registration]\ncloses = "{closes}"\n'
    assert run("webinar", "add", str(session(workdir, FOLLOW_ON, start, extra))).code == 0

    refused = run("registrants", "copy", SAMPLE_SLUG, FOLLOW_ON)
    forced = run("registrants", "copy", SAMPLE_SLUG, FOLLOW_ON, "--force")

    assert refused.code == 2
    assert "--force" in refused.stderr
    assert forced.code == 0
    assert "warning:" in forced.stderr


def test_deleting_a_webinar_that_sent_mail_needs_force(run, two_sessions):
    refused = run("webinar", "delete", SAMPLE_SLUG, "--yes")

    assert refused.code == 2
    assert "has sent 2 mails" in refused.stderr
    assert run("webinar", "show", SAMPLE_SLUG).code == 0


def test_deleting_asks_once_and_a_no_deletes_nothing(run, two_sessions, workdir):
    answered = subprocess.run(
        [sys.executable, "-m", "webinar_ops", "webinar", "delete", FOLLOW_ON],
        cwd=workdir,
        input="n\n",
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert answered.returncode == 2
    assert f"Delete {FOLLOW_ON}" in answered.stderr
    assert "Nothing was deleted" in answered.stderr
    assert run("webinar", "show", FOLLOW_ON).code == 0


def test_delete_removes_the_webinar_and_everything_of_it_and_leaves_the_others(run, two_sessions, workdir):
    assert run("registrants", "copy", SAMPLE_SLUG, FOLLOW_ON).code == 0
    assert run("sync", FOLLOW_ON).code == 0

    deleted = run("webinar", "delete", SAMPLE_SLUG, "--yes", "--force", "--json")

    assert deleted.code == 0, deleted.stderr
    removed = deleted.json()["removed"]
    assert removed["webinars"] == 1
    assert removed["registrants"] == 3
    assert removed["deliveries"] >= 2, "the two confirmations sent, and the reminders still to come"
    assert deleted.json()["provider"] == "deleted"
    assert run("webinar", "show", SAMPLE_SLUG).code == 2
    with Store.open(workdir / "data" / "webinar_ops.db") as store:
        tables = {
            table: store.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in (
                "webinars",
                "registrants",
                "deliveries",
                "webinar_revisions",
                "local_webinars",
                "local_registrants",
            )
        }
        mail_of_the_deleted = store.db.execute(
            "SELECT count(*) FROM deliveries WHERE webinar_id NOT IN (SELECT id FROM webinars)"
        ).fetchone()[0]
    assert {table: count for table, count in tables.items() if table != "deliveries"} == {
        "webinars": 1,
        "registrants": 2,
        "webinar_revisions": 1,
        "local_webinars": 1,
        "local_registrants": 2,
    }
    assert mail_of_the_deleted == 0
    assert run("status", FOLLOW_ON).code == 0, "the other webinar is whole"


def test_a_deletion_that_fails_half_way_leaves_everything(store, workdir, settings, monkeypatch):
    path = session(workdir, SAMPLE_SLUG, datetime(2031, 4, 30, 15, 0))
    now = datetime(2031, 4, 1, tzinfo=UTC)
    webinar = store.save_webinar(load_definition(path), path.read_text(encoding="utf-8"), "local", now).record
    people = workdir / "p.csv"
    people.write_text("email,first_name\nana@example.org,Ana\n", encoding="utf-8")
    apply_import(store, webinar, plan_import(store, webinar, people), now)
    provider = load_provider("local", settings, store)
    sync_webinar(store, provider, webinar, now)
    webinar = store.webinar(SAMPLE_SLUG)

    def broken(_):
        raise RuntimeError("the disk went away")

    monkeypatch.setattr(store, "delete_webinar", broken)
    with pytest.raises(RuntimeError):
        delete_webinar(store, webinar, lambda: provider)

    assert store.db.execute("SELECT count(*) FROM local_registrants").fetchone()[0] == 1
    assert store.db.execute("SELECT count(*) FROM local_webinars").fetchone()[0] == 1
    assert store.find_webinar(SAMPLE_SLUG) is not None


# -- Zoom -----------------------------------------------------------------------------------

ZOOM_NOW = datetime(2031, 4, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def zoom():
    with FakeZoom(plan="business", seed=7) as fake:
        yield fake


def zoom_session(store: Store, folder: Path, slug: str, extra: str = ""):
    path = session(folder, slug, datetime(2031, 4, 30, 15, 0), extra)
    return store.save_webinar(load_definition(path), path.read_text(encoding="utf-8"), "zoom", ZOOM_NOW).record


def test_with_zoom_copied_people_are_registered_at_the_follow_ons_webinar(zoom, tmp_path):
    settings = zoom_settings(zoom, tmp_path / "zoom.db")
    with Store.open(settings.db_path) as store:
        provider = load_provider("zoom", settings, store)
        first = zoom_session(store, tmp_path, SAMPLE_SLUG)
        people = tmp_path / "p.csv"
        people.write_text("email,first_name\nana@example.org,Ana\nben@example.org,Ben\n", encoding="utf-8")
        apply_import(store, first, plan_import(store, first, people), ZOOM_NOW)
        sync_webinar(store, provider, first, ZOOM_NOW)
        second = zoom_session(store, tmp_path, FOLLOW_ON)
        copy_registrants(store, store.webinar(SAMPLE_SLUG), second, "approved", ZOOM_NOW)
        report = sync_webinar(store, provider, second, ZOOM_NOW)
        rows = store.registrants(second.id)
        at_zoom = store.webinar(FOLLOW_ON).provider_webinar_id

    assert report.registered == 2
    assert at_zoom != store_id_of_first(settings)
    assert {r["email"] for r in zoom.registrants(at_zoom)} == {"ana@example.org", "ben@example.org"}
    assert all(row.join_url and row.provider_registrant_id for row in rows)


def store_id_of_first(settings) -> str:
    with Store.open(settings.db_path) as store:
        return store.webinar(SAMPLE_SLUG).provider_webinar_id


def test_with_zoom_a_created_webinar_is_deleted_there_and_an_attached_one_left_alone(zoom, tmp_path):
    settings = zoom_settings(zoom, tmp_path / "zoom.db")
    with Store.open(settings.db_path) as store:
        provider = load_provider("zoom", settings, store)
        sync_webinar(store, provider, zoom_session(store, tmp_path, SAMPLE_SLUG), ZOOM_NOW)
        created = store.webinar(SAMPLE_SLUG)
        # The follow-on attaches to the same Zoom webinar, as to one its host made by hand.
        text = session(tmp_path, FOLLOW_ON, datetime(2031, 4, 30, 15, 0)).read_text(encoding="utf-8")
        text = text.replace('webinar_id = "create"', f'webinar_id = "{created.provider_webinar_id}"')
        path = tmp_path / "attached.toml"
        path.write_text(text, encoding="utf-8")
        store.save_webinar(load_definition(path), text, "zoom", ZOOM_NOW)
        sync_webinar(store, provider, store.webinar(FOLLOW_ON), ZOOM_NOW)

        left = delete_webinar(store, store.webinar(FOLLOW_ON), lambda: provider)
        still_there = [str(w["id"]) for w in zoom.state()["webinars"]]
        gone = delete_webinar(store, created, lambda: provider)

    assert left.at_provider == "left alone"
    assert still_there == [created.provider_webinar_id]
    assert gone.at_provider == "deleted"
    assert zoom.state()["webinars"] == []
    deletes = [r for r in zoom.requests if r.method == "DELETE"]
    assert len(deletes) == 1
    assert deletes[0].query.get("cancel_webinar_reminder") == "false"


def test_a_refusal_at_zoom_deletes_nothing_here(zoom, tmp_path):
    settings = zoom_settings(zoom, tmp_path / "zoom.db")
    with Store.open(settings.db_path) as store:
        provider = load_provider("zoom", settings, store)
        sync_webinar(store, provider, zoom_session(store, tmp_path, SAMPLE_SLUG), ZOOM_NOW)
        zoom.scopes = "webinar:read:admin"  # the app may no longer write: Zoom answers 4711

        with pytest.raises(OperationError, match="nothing was deleted"):
            delete_webinar(store, store.webinar(SAMPLE_SLUG), lambda: provider)

        assert store.find_webinar(SAMPLE_SLUG) is not None
    assert len(zoom.state()["webinars"]) == 1


def test_a_copy_names_two_webinars(store, workdir):
    path = session(workdir, SAMPLE_SLUG, datetime(2031, 4, 30, 15, 0))
    record = store.save_webinar(load_definition(path), path.read_text(encoding="utf-8"), "local", ZOOM_NOW).record

    with pytest.raises(InputError):
        copy_registrants(store, record, record, "approved", ZOOM_NOW)


def test_pending_people_are_copied_only_when_asked_and_stay_pending(store, workdir):
    first = session(workdir, SAMPLE_SLUG, datetime(2031, 4, 30), "").read_text(encoding="utf-8")
    manual = first.replace('approval = "automatic"', 'approval = "manual"')
    origin = store.save_webinar(
        load_definition(write_toml(workdir, "a.toml", manual)), manual, "local", ZOOM_NOW
    ).record
    follow = session(workdir, FOLLOW_ON, datetime(2031, 5, 7), "")
    target = store.save_webinar(load_definition(follow), follow.read_text(encoding="utf-8"), "local", ZOOM_NOW).record
    people = workdir / "p.csv"
    people.write_text("email,first_name\nana@example.org,Ana\n", encoding="utf-8")
    apply_import(store, origin, plan_import(store, origin, people), ZOOM_NOW)
    store.update_registrant(store.registrant(origin.id, "ana@example.org").id, {"status": "pending"}, ZOOM_NOW)

    approved_only = copy_registrants(store, origin, target, "approved", ZOOM_NOW)
    pending = copy_registrants(store, origin, target, "pending", ZOOM_NOW)

    assert approved_only.added == []
    assert pending.added == ["ana@example.org"]
    assert store.registrant(target.id, "ana@example.org").status == "pending"


def write_toml(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


SECTOR = '\n[[registration.questions]]\nid = "sector"\ntext = "Your sector"\ntype = "choice"\nchoices = [{}]\n'


def test_a_copy_carries_the_answers_the_follow_on_asks_too_and_a_full_follow_on_waitlists_the_rest(run, workdir, write):
    start = datetime.now(UTC) + timedelta(days=20)
    origin = session(workdir, SAMPLE_SLUG, start, "\n[registration]" + SECTOR.format('"Government", "Academia"'))
    # The follow-on asks the same question with fewer choices, and seats one person.
    follow = "\n[registration]\ncapacity = 1" + SECTOR.format('"Government"')
    target = session(workdir, FOLLOW_ON, start + timedelta(days=7), follow)
    assert run("init").code == 0
    assert run("webinar", "add", str(origin)).code == 0
    assert run("webinar", "add", str(target)).code == 0
    people = write("email,first_name,sector\nana@example.org,Ana,Government\nben@example.org,Ben,Academia\n")
    assert run("registrants", "import", SAMPLE_SLUG, str(people)).code == 0

    copied = run("registrants", "copy", SAMPLE_SLUG, FOLLOW_ON, "--json")
    listed = {row["email"]: row for row in run("registrants", "list", FOLLOW_ON, "--json").json()}

    assert copied.code == 0, copied.stderr
    assert copied.json()["waitlisted"] == ["ben@example.org"], "one seat: the second in line waits"
    assert listed["ana@example.org"]["answers"] == {"sector": "Government"}
    assert listed["ben@example.org"]["answers"] == {}, "Academia is no choice of the follow-on's"
    assert listed["ben@example.org"]["status"] == "waitlisted"
