"""Capacity and the waitlist on the embedded `local` provider, on a real SQLite file.

`[registration] capacity = N`: past N approved people, newcomers are waitlisted, with a place
in the queue and a mail that tells it; a freed seat goes to the first in line, whose
confirmation follows; a higher capacity seats as many as fit. The racing processes are in
test_waitlist_race.py, Zoom in test_waitlist_zoom.py.
"""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

import pytest
import requests
from conftest import NOW, SAMPLE_SLUG, TEST_SECRET_KEY, definition_variant
from test_registration_page import submit
from web_server import serving

from webinar_ops.config import Settings
from webinar_ops.definition import load_definition
from webinar_ops.deliver import send_due
from webinar_ops.errors import InputError
from webinar_ops.people import Person
from webinar_ops.plan import manual_audience, plan_webinar
from webinar_ops.providers import load_provider
from webinar_ops.registrants import add_person, cancel_person, decide_people
from webinar_ops.store import NewRegistrant, Store, WebinarRecord
from webinar_ops.sync import sync_webinar
from webinar_ops.transports.maildir import MaildirSettings, MaildirTransport
from webinar_ops.web import create_app

BASE_URL = "https://webinars.example.org"
ANA, BOB, CLEO, DAN, EVE = (f"{name}@example.org" for name in ("ana", "bob", "cleo", "dan", "eve"))


def with_capacity(capacity: int | str, extra: str = "") -> dict[str, str]:
    return {"[schedule]": f"[registration]\ncapacity = {capacity}\n{extra}\n[schedule]"}


@pytest.fixture
def settings(workdir: Path) -> Settings:
    return Settings(db_path=workdir / "data" / "test.db", secret_key=TEST_SECRET_KEY, base_url=BASE_URL).with_plugin(
        MaildirSettings(outbox_dir=workdir / "out")
    )


def save(store: Store, folder: Path, replacements: dict[str, str]) -> WebinarRecord:
    path = definition_variant(folder, replacements, name="webinar.toml")
    return store.save_webinar(load_definition(path), path.read_text(encoding="utf-8"), "local", NOW).record


@pytest.fixture
def webinar(store: Store, workdir: Path) -> WebinarRecord:
    """The sample webinar with two seats."""
    return save(store, workdir, with_capacity(2))


def register(store: Store, webinar: WebinarRecord, *addresses: str) -> None:
    for address in addresses:
        add_person(store, webinar, {"email": address, "first_name": address.split("@")[0].title()}, NOW)


def statuses(store: Store, webinar: WebinarRecord) -> dict[str, str]:
    return {row.email: row.status for row in store.registrants(webinar.id)}


def queue(store: Store, webinar: WebinarRecord) -> list[str]:
    return [row.email for row in store.waitlist(webinar.id)]


def mails(store: Store, address: str) -> dict[str, tuple[str, str | None]]:
    sql = (
        "SELECT d.kind, d.state, d.reason FROM deliveries d JOIN registrants r ON r.id = d.registrant_id "
        "WHERE r.email = ?"
    )
    return {row["kind"]: (row["state"], row["reason"]) for row in store.db.query(sql, [address])}


def sync_plan_send(store: Store, settings: Settings) -> None:
    record = store.webinar(SAMPLE_SLUG)
    sync_webinar(store, load_provider("local", settings, store), record, NOW)
    plan_webinar(store, store.webinar(SAMPLE_SLUG), NOW, "example.org")
    send_due(store, settings, MaildirTransport(settings.of(MaildirSettings).outbox_dir), clock=lambda: NOW)


def received(settings: Settings, address: str) -> list[email.message.EmailMessage]:
    folder = settings.of(MaildirSettings).outbox_dir / "new"
    found = [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted(folder.glob("*"))]
    return [m for m in found if address in str(m["To"])]


# -- the definition ---------------------------------------------------------------------------


def test_the_capacity_is_read_from_the_registration_table(webinar):
    assert webinar.definition.registration.capacity == 2


def test_a_definition_without_a_registration_table_has_no_capacity(sample):
    assert sample.registration.capacity is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "must be at least 1, not 0"),
        ("-5", "must be at least 1, not -5"),
        ('"ten"', "must be a whole number, not text"),
        ("2.5", "must be a whole number, not a number"),
        ("true", "must be a whole number, not true or false"),
        ("2000000", "2,000,000 is more than 1,000,000 seats"),
    ],
)
def test_a_capacity_that_is_not_a_positive_whole_number_is_refused_with_its_line_and_a_fix(workdir, value, message):
    path = definition_variant(workdir, with_capacity(value))

    with pytest.raises(InputError) as caught:
        load_definition(path)

    [problem] = caught.value.problems
    assert problem.field == "registration.capacity"
    assert message in problem.message
    assert problem.line == path.read_text(encoding="utf-8").splitlines().index(f"capacity = {value}") + 1
    assert problem.fix


def test_a_misspelt_key_of_the_registration_table_is_refused_with_the_right_name(workdir):
    path = definition_variant(workdir, {"[schedule]": "[registration]\ncapacty = 10\n\n[schedule]"})

    with pytest.raises(InputError) as caught:
        load_definition(path)

    [problem] = caught.value.problems
    assert problem.field == "registration.capacty"
    assert "capacity" in problem.fix


# -- the seat rule in the store -------------------------------------------------------------------


def test_past_the_capacity_newcomers_are_waitlisted_in_the_order_they_came(store, webinar):
    register(store, webinar, ANA, BOB, CLEO, DAN, EVE)

    assert statuses(store, webinar) == {
        ANA: "approved",
        BOB: "approved",
        CLEO: "waitlisted",
        DAN: "waitlisted",
        EVE: "waitlisted",
    }
    assert queue(store, webinar) == [CLEO, DAN, EVE]
    assert [store.waitlist_place(store.registrant(webinar.id, a).id) for a in (CLEO, DAN, EVE)] == [1, 2, 3]
    assert store.waitlist_place(store.registrant(webinar.id, ANA).id) is None
    cleo = store.registrant(webinar.id, CLEO)
    assert cleo.approved_at is None
    assert cleo.waitlisted_at == "2021-04-01T09:00:00Z"
    assert store.seats(webinar.id).__dict__ == {"capacity": 2, "taken": 2, "waiting": 3}


def test_an_import_past_the_capacity_waitlists_the_rest_of_the_file_in_its_order(store, webinar):
    people = [Person(email=a, first_name="X") for a in (ANA, BOB, CLEO, DAN)]
    store.add_registrants(
        [NewRegistrant(webinar_id=webinar.id, person=p, status="approved", source="import") for p in people], NOW
    )

    assert queue(store, webinar) == [CLEO, DAN]


def test_a_cancellation_gives_the_seat_to_the_first_in_line(store, webinar):
    register(store, webinar, ANA, BOB, CLEO, DAN)

    cancel_person(store, webinar, BOB, NOW)

    assert statuses(store, webinar) == {ANA: "approved", BOB: "cancelled", CLEO: "approved", DAN: "waitlisted"}
    assert store.registrant(webinar.id, CLEO).approved_at == "2021-04-01T09:00:00Z"
    assert store.waitlist_place(store.registrant(webinar.id, DAN).id) == 1


def test_cancelling_someone_who_waits_promotes_nobody(store, webinar):
    register(store, webinar, ANA, BOB, CLEO, DAN)

    cancel_person(store, webinar, CLEO, NOW)

    assert statuses(store, webinar)[DAN] == "waitlisted"
    assert queue(store, webinar) == [DAN]


def test_someone_back_after_cancelling_goes_to_the_end_of_the_queue(store, webinar):
    register(store, webinar, ANA, BOB, CLEO, DAN)
    cancel_person(store, webinar, CLEO, NOW)

    register(store, webinar, CLEO)

    assert queue(store, webinar) == [DAN, CLEO]


def test_raising_the_capacity_seats_as_many_as_now_fit_in_their_order(store, webinar, workdir):
    register(store, webinar, ANA, BOB, CLEO, DAN, EVE)

    saved = store.save_webinar(
        load_definition(definition_variant(workdir, with_capacity(4))),
        definition_variant(workdir, with_capacity(4)).read_text(encoding="utf-8"),
        "local",
        NOW,
    )

    assert "registration.capacity: 2 → 4" in saved.changes
    assert statuses(store, webinar)[CLEO] == statuses(store, webinar)[DAN] == "approved"
    assert queue(store, webinar) == [EVE]


def test_lowering_the_capacity_takes_nobody_s_seat_and_waitlists_the_next_newcomers(store, webinar, workdir):
    register(store, webinar, ANA, BOB)
    save(store, workdir, with_capacity(1))

    register(store, webinar, CLEO)
    cancel_person(store, webinar, ANA, NOW)

    assert statuses(store, webinar) == {ANA: "cancelled", BOB: "approved", CLEO: "waitlisted"}


def test_lifting_the_capacity_seats_everyone_waiting(store, webinar, workdir):
    register(store, webinar, ANA, BOB, CLEO, DAN)

    save(store, workdir, {"[schedule]": "[registration]\n\n[schedule]"})
    register(store, webinar, EVE)

    assert set(statuses(store, webinar).values()) == {"approved"}
    assert store.seats(webinar.id).__dict__ == {"capacity": None, "taken": 5, "waiting": 0}


def test_approving_a_pending_person_when_every_seat_is_taken_waitlists_them_at_the_end(store, workdir):
    webinar = save(store, workdir, {**with_capacity(1), 'approval = "automatic"': 'approval = "manual"'})
    register(store, webinar, ANA, BOB)
    cleo = Person(email=CLEO, first_name="Cleo")
    store.add_registrants([NewRegistrant(webinar_id=webinar.id, person=cleo, status="pending", source="web")], NOW)

    store.update_registrant(store.registrant(webinar.id, CLEO).id, {"status": "approved"}, NOW)

    assert statuses(store, webinar) == {ANA: "approved", BOB: "waitlisted", CLEO: "waitlisted"}
    assert queue(store, webinar) == [BOB, CLEO]


def test_an_organiser_who_approves_into_a_full_webinar_is_told_the_person_waits(store, workdir):
    webinar = save(store, workdir, {**with_capacity(1), 'approval = "automatic"': 'approval = "manual"'})
    register(store, webinar, ANA)
    cleo = Person(email=CLEO, first_name="Cleo")
    store.add_registrants([NewRegistrant(webinar_id=webinar.id, person=cleo, status="pending", source="web")], NOW)

    decisions = decide_people(store, webinar, [CLEO], "approved", NOW)

    assert [(d.email, d.was, d.became) for d in decisions.changed] == [(CLEO, "pending", "waitlisted")]


def test_the_places_of_the_whole_queue_read_at_once_are_each_person_s_own(store, webinar):
    register(store, webinar, ANA, BOB, CLEO, DAN, EVE)
    cancel_person(store, webinar, BOB, NOW)  # a seat frees: Cleo takes it, Dan and Eve move up

    places = store.waitlist_places(webinar.id)

    waiting = store.waitlist(webinar.id)
    assert [row.email for row in waiting] == [DAN, EVE]
    assert places == {row.id: store.waitlist_place(row.id) for row in waiting} == {waiting[0].id: 1, waiting[1].id: 2}


def test_approving_someone_waiting_keeps_their_place_in_the_queue(store, webinar):
    register(store, webinar, ANA, BOB, CLEO, DAN)

    store.update_registrant(store.registrant(webinar.id, DAN).id, {"status": "approved"}, NOW)

    assert queue(store, webinar) == [CLEO, DAN]


def test_promoting_out_of_turn_seats_the_person_past_the_capacity(store, webinar):
    register(store, webinar, ANA, BOB, CLEO, DAN)

    store.promote(store.registrant(webinar.id, DAN).id, NOW)

    assert statuses(store, webinar)[DAN] == "approved"
    assert store.seats(webinar.id).__dict__ == {"capacity": 2, "taken": 3, "waiting": 1}
    cancel_person(store, webinar, ANA, NOW)
    assert statuses(store, webinar)[CLEO] == "waitlisted", "seats taken are still at the capacity"
    cancel_person(store, webinar, BOB, NOW)
    assert statuses(store, webinar)[CLEO] == "approved"


def test_only_someone_waiting_can_be_promoted(store, webinar):
    register(store, webinar, ANA)

    with pytest.raises(InputError, match="this registration is approved"):
        store.promote(store.registrant(webinar.id, ANA).id, NOW)


# -- the mail ---------------------------------------------------------------------------------------


def test_a_waitlisted_person_gets_their_place_by_mail_without_a_join_link_or_invite(store, webinar, settings):
    register(store, webinar, ANA, BOB, CLEO, DAN)

    sync_plan_send(store, settings)

    assert mails(store, DAN) == {"waitlisted": ("sent", None)}
    [mail] = received(settings, DAN)
    assert mail["Subject"].startswith("Waiting list: Strengthening Data Governance")
    text = mail.get_body(("plain",)).get_content()
    assert "You are number 2 on the waiting list." in text
    assert "/j/" not in text
    assert "/w/" not in text
    assert "calendar.google.com" not in text
    assert not [part for part in mail.walk() if part.get_content_type() == "text/calendar"]
    assert "You are number 2 on the waiting list." in mail.get_body(("html",)).get_content()
    assert store.registrant(webinar.id, DAN).provider_registrant_id is None, "not registered with the provider"


def test_when_the_webinar_is_cancelled_those_waiting_are_told_too_without_an_invite(store, webinar, settings):
    register(store, webinar, ANA, BOB, CLEO)
    sync_plan_send(store, settings)

    store.cancel_webinar(store.webinar(SAMPLE_SLUG), "The session moves to next year.", NOW)
    sync_plan_send(store, settings)

    assert mails(store, CLEO) == {"waitlisted": ("sent", None), "called_off": ("sent", None)}
    assert mails(store, ANA)["cancellation"] == ("sent", None)
    assert "called_off" not in mails(store, ANA), "a seat holder gets the cancellation and its invite"
    called_off = received(settings, CLEO)[-1]
    text = called_off.get_body(("plain",)).get_content()
    assert called_off["Subject"].startswith("Cancelled: Strengthening Data Governance")
    assert "is cancelled. It will not take place" in text
    assert "The session moves to next year." in text
    assert "/c/" not in text, "nothing to cancel any more"
    assert "/j/" not in text, "nothing to join"
    assert not [part for part in called_off.walk() if part.get_content_type() == "text/calendar"]


def test_waitlisted_people_get_no_reminders_and_are_left_out_of_a_send_by_hand(store, webinar, settings):
    register(store, webinar, ANA, BOB, CLEO)
    sync_plan_send(store, settings)

    assert set(mails(store, CLEO)) == {"waitlisted"}
    assert set(mails(store, ANA)) == {"confirmation", "reminder-7d", "reminder-1d", "reminder-1h"}
    audience = manual_audience(store, store.webinar(SAMPLE_SLUG), "reminder", NOW)
    assert (CLEO, "registration waitlisted") in audience.left_out


def test_a_promoted_person_gets_the_confirmation_with_their_join_link(store, webinar, settings):
    register(store, webinar, ANA, BOB, CLEO)
    sync_plan_send(store, settings)

    cancel_person(store, webinar, ANA, NOW)
    sync_plan_send(store, settings)

    assert mails(store, CLEO)["waitlisted"] == ("sent", None)
    assert mails(store, CLEO)["confirmation"] == ("sent", None)
    [_, confirmation] = received(settings, CLEO)
    assert f"{BASE_URL}/j/" in confirmation.get_body(("plain",)).get_content()


def test_a_waitlisted_mail_not_yet_sent_when_a_seat_comes_is_skipped(store, webinar, settings):
    register(store, webinar, ANA, BOB, CLEO)
    plan_webinar(store, store.webinar(SAMPLE_SLUG), NOW, "example.org")
    cancel_person(store, webinar, ANA, NOW)

    sync_plan_send(store, settings)

    assert mails(store, CLEO)["waitlisted"] == ("skipped", "registration approved")
    assert mails(store, CLEO)["confirmation"] == ("sent", None)


# -- the command line --------------------------------------------------------------------------------


@pytest.fixture
def cli(run, workdir):
    """The command line in a project that has run `init` and added the sample with two seats."""
    future = {'start = "2021-04-30 15:00"': 'start = "2031-04-30 15:00"'}  # the command line runs on today's clock
    definition_variant(workdir, {**with_capacity(2), **future}, name="webinar.toml")
    assert run("init").code == 0
    assert run("webinar", "add", "webinar.toml").code == 0
    return run


def test_the_command_line_says_who_is_waitlisted_and_lists_the_queue(cli, write):
    write(
        "email,first_name,last_name\nana@example.org,Ana,Lima\nbob@example.org,Bob,Stone\ncleo@example.org,Cleo,Park\n"
    )
    dry = cli("registrants", "import", SAMPLE_SLUG, "people.csv", "--dry-run", "--json")
    imported = cli("registrants", "import", SAMPLE_SLUG, "people.csv")
    added = cli("registrants", "add", SAMPLE_SLUG, "--email", DAN, "--first-name", "Dan")
    listed = cli("registrants", "waitlist", SAMPLE_SLUG, "--json")
    table = cli("registrants", "waitlist", SAMPLE_SLUG)

    assert dry.json()["waitlisted"] == 1
    assert "1 of them is on the waitlist" in imported.stdout
    assert "number 2 on the waitlist" in added.stdout
    assert listed.code == 0, listed.stderr
    assert listed.json()["capacity"] == 2
    assert listed.json()["seats_taken"] == 2
    assert [(p["place"], p["email"], p["first_name"]) for p in listed.json()["waitlist"]] == [
        (1, CLEO, "Cleo"),
        (2, DAN, "Dan"),
    ]
    assert all(p["since"] for p in listed.json()["waitlist"])
    assert "capacity 2: 2 seats taken, 2 on the waitlist" in table.stdout
    assert CLEO in table.stdout


def test_cancelling_on_the_command_line_promotes_the_first_and_registers_them_at_once(cli):
    for address in (ANA, BOB, CLEO):
        assert cli("registrants", "add", SAMPLE_SLUG, "--email", address, "--first-name", "X").code == 0
    assert cli("sync", SAMPLE_SLUG).code == 0

    cancelled = cli("registrants", "cancel", SAMPLE_SLUG, ANA)
    cleo = next(r for r in cli("registrants", "list", SAMPLE_SLUG, "--json").json() if r["email"] == CLEO)

    assert cancelled.code == 0, cancelled.stderr
    assert f"{CLEO} moved from the waitlist to a seat" in cancelled.stdout
    assert cleo["status"] == "approved"
    assert cleo["provider_registrant_id"], "registered with the provider by the cancel itself"
    mail = cli("status", SAMPLE_SLUG, "--json").json()[0]["mail"]["confirmation"]
    assert (mail.get("pending"), mail.get("skipped")) == (2, 1), "Bob's and Cleo's wait for `run`; Ana's is dropped"


def test_promote_seats_someone_out_of_turn_past_the_capacity_and_says_so(cli):
    for address in (ANA, BOB, CLEO, DAN):
        assert cli("registrants", "add", SAMPLE_SLUG, "--email", address, "--first-name", "X").code == 0

    promoted = cli("registrants", "promote", SAMPLE_SLUG, DAN)
    again = cli("registrants", "promote", SAMPLE_SLUG, DAN)
    stranger = cli("registrants", "promote", SAMPLE_SLUG, "nobody@example.org")

    assert promoted.code == 0, promoted.stderr
    assert "capacity 2: 3 seats taken, 1 on the waitlist" in promoted.stdout
    assert "1 over the capacity" in promoted.stdout
    assert again.code == 2
    assert "is not on the waitlist" in again.stderr
    assert stranger.code == 2
    assert "is not registered" in stranger.stderr


def test_webinar_show_gives_the_capacity(cli):
    shown = cli("webinar", "show", SAMPLE_SLUG)

    assert shown.code == 0, shown.stderr
    assert "2 seats" in shown.stdout
    assert cli("webinar", "show", SAMPLE_SLUG, "--json").json()["definition"]["registration"]["capacity"] == 2


def test_status_shows_the_capacity_the_seats_taken_and_the_waitlist(cli):
    for address in (ANA, BOB, CLEO):
        assert cli("registrants", "add", SAMPLE_SLUG, "--email", address, "--first-name", "X").code == 0

    shown = cli("status", SAMPLE_SLUG)
    summary = cli("status", SAMPLE_SLUG, "--json").json()[0]

    assert "capacity: 2, 2 seats taken, 1 on the waitlist" in shown.stdout
    assert summary["seats"] == {"capacity": 2, "taken": 2, "waiting": 1}
    assert summary["registrants"]["waitlisted"] == 1
    listed = cli("registrants", "list", SAMPLE_SLUG, "--status", "waitlisted", "--json").json()
    assert [r["email"] for r in listed] == [CLEO]


# -- the registration page -------------------------------------------------------------------------


def test_the_registration_page_tells_someone_past_the_capacity_they_are_on_the_waitlist(store, webinar, settings):
    register(store, webinar, ANA, BOB)
    sync_webinar(store, load_provider("local", settings, store), store.webinar(SAMPLE_SLUG), NOW)

    with serving(create_app(settings, clock=lambda: NOW)) as base_url:
        page = f"{base_url}/register/{SAMPLE_SLUG}"
        form = requests.get(page, timeout=10)
        answer = submit(page, {"first_name": "Mei", "email": "mei@example.org"})
        again = submit(page, {"first_name": "Ana", "email": ANA})

    assert "Every place at this webinar is taken. You can still register" in form.text
    assert answer.status_code == 200
    assert "on the waiting list" in answer.text
    assert "mei@example.org" in answer.text
    assert statuses(store, webinar)["mei@example.org"] == "waitlisted"
    assert "on the waiting list" in again.text, "a full webinar's page reads the same for someone registered before"
    assert statuses(store, webinar)[ANA] == "approved"


def test_the_registration_page_with_a_free_seat_registers_as_before(store, webinar, settings):
    with serving(create_app(settings, clock=lambda: NOW)) as base_url:
        form = requests.get(f"{base_url}/register/{SAMPLE_SLUG}", timeout=10)
        answer = submit(f"{base_url}/register/{SAMPLE_SLUG}", {"first_name": "Mei", "email": "mei@example.org"})

    assert "Every place" not in form.text
    assert "You are registered." in answer.text
    assert "waiting list" not in answer.text
    assert requests.codes.ok == answer.status_code


def test_a_french_reader_gets_the_waitlisted_mail_in_french(store, webinar, settings):
    register(store, webinar, ANA, BOB)
    add_person(store, webinar, {"email": CLEO, "first_name": "Cléo", "language": "fr"}, NOW)

    sync_plan_send(store, settings)

    [mail] = received(settings, CLEO)
    assert mail["Subject"].startswith("Liste d'attente : Strengthening Data Governance")
    text = mail.get_body(("plain",)).get_content()
    assert "Votre rang sur la liste d'attente : 1." in text
    assert "Toutes les places étant prises" in text


def test_preview_shows_the_waitlisted_mail_with_a_place(cli):
    shown = cli("preview", SAMPLE_SLUG, "--kind", "waitlisted")

    assert shown.code == 0, shown.stderr
    assert "You are number 1 on the waiting list." in shown.stdout
