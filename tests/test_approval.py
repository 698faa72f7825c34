"""Approval by hand: `registrants approve` and `registrants deny`, the mails they bring (a word
that a request awaits approval, the confirmation, a denial), the provider told at once or at the
next sync, decisions taken on Zoom's site coming back, and `status`.

On the embedded `local` provider and on the local Zoom (a real HTTP server on loopback), through
the real command line in its own process, on the real SQLite file of an organiser's folder, with
the mail in the real Maildir `data/outbox`. People ask to register through `register_online`, the
function behind the registration page (the page itself is in test_registration_page.py).
"""

from __future__ import annotations

import email
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
import requests
from conftest import SAMPLE_SLUG, Ran, definition_variant
from test_zoom import zoom_settings
from web_server import serving
from zoom_openapi import SPEC_PATH, check_exchange, load_zoom_openapi

from webinar_ops import times
from webinar_ops.definition import load_definition
from webinar_ops.mail.compose import Composer
from webinar_ops.plan import plan_webinar
from webinar_ops.providers import load_provider
from webinar_ops.providers.zoom.client import Credentials, ZoomClient, ZoomProvider
from webinar_ops.providers.zoom.standin import FakeZoom
from webinar_ops.registrants import decide_people, register_online
from webinar_ops.store import Store
from webinar_ops.sync import sync_webinar
from webinar_ops.web import create_app

FUTURE = {'start = "2021-04-30 15:00"': 'start = "2031-04-30 15:00"'}
MANUAL = {'approval = "automatic"': 'approval = "manual"'}
LATER = {'start = "2021-04-30 15:00"': 'start = "2031-05-07 15:00"'}
ANA, BEN, CHLOE = "ana.lima@example.org", "ben.okafor@example.org", "chloe.martin@example.org"
NOW = datetime(2031, 4, 1, 9, 0, tzinfo=UTC)


# -- the organiser's folder ---------------------------------------------------------------------


def ok(ran: Ran) -> Ran:
    assert ran.code == 0, (ran.stdout, ran.stderr)
    return ran


def database(workdir: Path) -> Path:
    return workdir / "data" / "webinar_ops.db"


@pytest.fixture
def manual(run, workdir: Path) -> Path:
    """The sample webinar, moved to 2031, whose registrations wait for the organisers'
    approval, added in a fresh folder; returns its definition."""
    path = definition_variant(workdir, {**FUTURE, **MANUAL}, name="webinar.toml")
    ok(run("init"))
    ok(run("webinar", "add", str(path)))
    return path


def ask_to_register(workdir: Path, address: str, first_name: str, language: str | None = None, at=None) -> None:
    """Someone fills in the registration page of a webinar that approves by hand."""
    with Store.open(database(workdir)) as store:
        values = {"email": address, "first_name": first_name, "language": language}
        _, outcome = register_online(store, store.webinar(SAMPLE_SLUG), values, at or times.utc_now())
    assert outcome == "added"


def row(workdir: Path, address: str) -> dict:
    with Store.open(database(workdir)) as store:
        return next(iter(store.db.query("SELECT * FROM registrants WHERE email = ?", [address])))


def at_the_local_provider(workdir: Path, address: str) -> str:
    with Store.open(database(workdir)) as store:
        sql = "SELECT status FROM local_registrants WHERE email = ?"
        return store.db.execute(sql, [address]).fetchone()[0]


def mails_to(workdir: Path, address: str) -> list[EmailMessage]:
    """The messages in the Maildir for `address`, oldest first."""
    folder = workdir / "data" / "outbox" / "new"
    paths = sorted(folder.glob("*"), key=lambda path: path.stat().st_mtime_ns) if folder.exists() else []
    found = [email.message_from_bytes(path.read_bytes(), policy=policy.default) for path in paths]
    return [message for message in found if message["To"].addresses[0].addr_spec == address]


def by_subject(messages: list[EmailMessage], start: str) -> EmailMessage:
    [message] = [m for m in messages if str(m["Subject"]).startswith(start)]
    return message


def text_of(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


def html_of(message: EmailMessage) -> str:
    return message.get_body(("html",)).get_content()


def has_invite(message: EmailMessage) -> bool:
    return any(part.get_content_type() in ("text/calendar", "application/ics") for part in message.walk())


def calendar_or_join_links(message: EmailMessage, join_url: str) -> list[str]:
    """Whatever in the message would let its reader in or put the webinar in a calendar."""
    raw = message.as_string()
    signs = (join_url, "/j/", "calendar.google.com", "outlook.office.com", "outlook.live.com", "invite.ics")
    return [sign for sign in signs if sign in raw]


# -- on the local provider ----------------------------------------------------------------------


def test_a_request_is_told_it_awaits_approval_and_the_approval_brings_the_confirmation_with_the_join_link(
    run, workdir, manual
):
    ask_to_register(workdir, ANA, "Ana")
    ok(run("sync", SAMPLE_SLUG))
    ok(run("run", "--once"))

    [awaiting] = mails_to(workdir, ANA)
    join_url = row(workdir, ANA)["join_url"]
    assert join_url.startswith("http"), "the local provider holds the request, with a link not yet given"
    assert str(awaiting["Subject"]).startswith("Your request is received: Strengthening Data Governance")
    assert "The organisers approve each registration, and yours now awaits their approval." in " ".join(
        text_of(awaiting).split()
    )
    assert "awaits their approval" in html_of(awaiting)
    assert not has_invite(awaiting)
    assert calendar_or_join_links(awaiting, join_url) == []

    approved = ok(run("registrants", "approve", SAMPLE_SLUG, ANA, "--json")).json()

    assert approved["changed"] == [{"email": ANA, "was": "pending", "now": "approved"}]
    assert approved["unchanged"] == []
    assert approved["provider"] == "1 decision sent to local"
    assert at_the_local_provider(workdir, ANA) == "approved"
    ok(run("run", "--once"))
    ok(run("run", "--once"))
    messages = mails_to(workdir, ANA)
    assert len(messages) == 2, "the confirmation follows once"
    confirmation = by_subject(messages, "You are registered")
    assert join_url in text_of(confirmation)
    assert has_invite(confirmation)


def test_a_denied_person_gets_a_short_courteous_mail_in_their_language_without_a_join_link(run, workdir, manual):
    ask_to_register(workdir, BEN, "Ben", language="fr")
    ok(run("sync", SAMPLE_SLUG))
    ok(run("run", "--once"))
    words = "La salle ne compte que 40 places ; nous vous écrirons\nquand l'enregistrement sera en ligne."

    denied = ok(run("registrants", "deny", SAMPLE_SLUG, BEN, "--message", words))
    ok(run("run", "--once"))

    assert f"Denied 1 person for {SAMPLE_SLUG}:" in denied.stdout
    assert f"{BEN} (was pending)" in denied.stdout
    assert "1 decision sent to local" in denied.stdout
    assert at_the_local_provider(workdir, BEN) == "denied"
    awaiting, denial = mails_to(workdir, BEN)
    assert "est en attente de leur approbation" in " ".join(text_of(awaiting).split())
    assert str(denial["Subject"]).startswith("Votre demande d'inscription\u00a0: Strengthening Data Governance")
    text = text_of(denial)
    assert text.startswith("Bonjour Ben,")
    assert "n'ont pas pu donner suite à votre demande d'inscription" in " ".join(text.split())
    assert words in text, "the organiser's words, their line break kept"
    assert "La salle ne compte que 40 places ; nous vous écrirons" in html_of(denial)
    assert not has_invite(denial)
    assert calendar_or_join_links(denial, row(workdir, BEN)["join_url"]) == []


def test_the_denial_message_is_shown_as_text_and_a_control_character_is_refused_with_nothing_changed(
    run, workdir, manual
):
    ask_to_register(workdir, BEN, "Ben")
    ok(run("sync", SAMPLE_SLUG))

    refused = run("registrants", "deny", SAMPLE_SLUG, BEN, "--message", "Sorry\x1b[2J")
    assert refused.code == 2
    assert "--message" in refused.stderr
    assert "control character" in refused.stderr
    assert row(workdir, BEN)["status"] == "pending"

    markup = 'Please see <a href="https://evil.example/claim">our page</a>.'
    ok(run("registrants", "deny", SAMPLE_SLUG, BEN, "--message", markup))
    ok(run("run", "--once"))
    denial = by_subject(mails_to(workdir, BEN), "About your registration")
    assert markup in text_of(denial)
    assert "&lt;a href=&#34;https://evil.example/claim&#34;&gt;" in html_of(denial)
    assert '<a href="https://evil.example' not in html_of(denial)


def test_approve_and_deny_say_what_did_not_change_and_fail_only_when_a_mistake_changed_nothing(run, workdir, manual):
    ask_to_register(workdir, ANA, "Ana")
    ask_to_register(workdir, BEN, "Ben")
    ask_to_register(workdir, CHLOE, "Chloé")
    ok(run("sync", SAMPLE_SLUG))

    unknown = run("registrants", "approve", SAMPLE_SLUG, "nobody@example.org")
    assert unknown.code == 2
    assert f"nobody@example.org: not a registrant of {SAMPLE_SLUG}" in unknown.stdout
    assert "nobody was approved" in unknown.stderr

    mixed = run("registrants", "approve", SAMPLE_SLUG, ANA.upper(), "nobody@example.org", ANA)
    assert mixed.code == 0, mixed.stderr
    assert f"Approved 1 person for {SAMPLE_SLUG}:" in mixed.stdout
    assert "nobody@example.org: not a registrant" in mixed.stdout

    again = ok(run("registrants", "approve", SAMPLE_SLUG, ANA, "--json")).json()
    assert again["changed"] == []
    assert again["unchanged"] == [{"email": ANA, "why": "already approved", "mistake": False}]

    taken_back = run("registrants", "deny", SAMPLE_SLUG, ANA)
    assert taken_back.code == 2
    assert "already approved: to take their place back, cancel their registration" in taken_back.stdout
    assert row(workdir, ANA)["status"] == "approved"

    neither = run("registrants", "deny", SAMPLE_SLUG)
    both = run("registrants", "deny", SAMPLE_SLUG, BEN, "--all-pending")
    assert (neither.code, both.code) == (2, 2)
    assert "or give --all-pending (not both)" in neither.stderr
    assert run("registrants", "approve", SAMPLE_SLUG, "not an address").code == 2

    everyone = ok(run("registrants", "deny", SAMPLE_SLUG, "--all-pending", "--json")).json()
    assert [change["email"] for change in everyone["changed"]] == [BEN, CHLOE]
    assert everyone["provider"] == "2 decisions sent to local"
    assert ok(run("registrants", "deny", SAMPLE_SLUG, "--all-pending", "--json")).json()["changed"] == []


def test_status_shows_how_many_requests_wait_and_how_long_the_oldest_has(run, workdir, manual):
    ask_to_register(workdir, ANA, "Ana", at=times.utc_now() - timedelta(days=2, hours=3, minutes=1))
    ask_to_register(workdir, BEN, "Ben")

    shown = ok(run("status", SAMPLE_SLUG))
    [summary] = ok(run("status", SAMPLE_SLUG, "--json")).json()

    assert "awaiting approval: 2, the oldest for 2d3h" in shown.stdout
    approval = summary["approval"]
    assert (approval["mode"], approval["pending"]) == ("manual", 2)
    assert approval["oldest_since"] == row(workdir, ANA)["pending_since"]
    assert 2 * 86400 + 3 * 3600 <= approval["oldest_waited_seconds"] < 2 * 86400 + 4 * 3600

    ok(run("registrants", "approve", SAMPLE_SLUG, "--all-pending"))
    assert "awaiting approval" not in ok(run("status", SAMPLE_SLUG)).stdout
    assert ok(run("status", SAMPLE_SLUG, "--json")).json()[0]["approval"]["pending"] == 0


HANGING_SENDER = """
import sys, time
from webinar_ops.deliver import claim
from webinar_ops.store import Store
from webinar_ops.times import utc_now
store = Store.open(sys.argv[1])
print(len(claim(store, utc_now(), 25)), flush=True)
time.sleep(600)
"""


def test_a_denial_claimed_by_a_sender_killed_with_sigkill_still_goes_once(run, workdir, manual):
    ask_to_register(workdir, BEN, "Ben")
    ok(run("sync", SAMPLE_SLUG))
    ok(run("run", "--once"))
    ok(run("registrants", "deny", SAMPLE_SLUG, BEN))
    sender = subprocess.Popen(
        [sys.executable, "-c", HANGING_SENDER, str(database(workdir))], stdout=subprocess.PIPE, text=True
    )
    try:
        assert sender.stdout.readline().strip() == "1", "the sender holds the denial"
    finally:
        sender.kill()
        sender.wait(timeout=30)

    ok(run("run", "--once"))
    ok(run("run", "--once"))

    denials = [m for m in mails_to(workdir, BEN) if str(m["Subject"]).startswith("About your registration")]
    assert len(denials) == 1


def test_a_request_approved_after_the_webinar_moved_gets_the_confirmation_and_no_update(workdir, settings, store):
    # The awaiting mail carries no invite, so no calendar holds an older revision to update.
    first = definition_variant(workdir, {**FUTURE, **MANUAL}, name="first.toml")
    moved = definition_variant(workdir, {**LATER, **MANUAL}, name="moved.toml")
    store.save_webinar(load_definition(first), first.read_text(encoding="utf-8"), "local", NOW)
    provider = load_provider("local", settings, store)
    register_online(store, store.webinar(SAMPLE_SLUG), {"email": ANA, "first_name": "Ana"}, NOW)
    sync_webinar(store, provider, store.webinar(SAMPLE_SLUG), NOW)
    plan_webinar(store, store.webinar(SAMPLE_SLUG), NOW, settings.mail_domain)
    store.write("UPDATE deliveries SET state = 'sent', sent_at = ?", [times.iso_utc(NOW)])
    store.save_webinar(load_definition(moved), moved.read_text(encoding="utf-8"), "local", NOW)

    decide_people(store, store.webinar(SAMPLE_SLUG), [ANA], "approved", NOW)
    plan_webinar(store, store.webinar(SAMPLE_SLUG), NOW, settings.mail_domain)

    kinds = {r["kind"]: (r["state"], r["revision"]) for r in store.db.query("SELECT * FROM deliveries")}
    assert kinds["awaiting"] == ("sent", 0)
    assert kinds["confirmation"] == ("pending", 1)
    assert not [kind for kind in kinds if kind.startswith("update")]


def test_a_request_approved_before_its_awaiting_mail_went_gets_only_the_confirmation(workdir, settings, store):
    path = definition_variant(workdir, {**FUTURE, **MANUAL}, name="webinar.toml")
    store.save_webinar(load_definition(path), path.read_text(encoding="utf-8"), "local", NOW)
    register_online(store, store.webinar(SAMPLE_SLUG), {"email": ANA, "first_name": "Ana"}, NOW)
    plan_webinar(store, store.webinar(SAMPLE_SLUG), NOW, settings.mail_domain)
    pending = {r["kind"]: r["state"] for r in store.db.query("SELECT * FROM deliveries")}

    decide_people(store, store.webinar(SAMPLE_SLUG), [ANA], "approved", NOW)
    sync_webinar(store, load_provider("local", settings, store), store.webinar(SAMPLE_SLUG), NOW)
    plan_webinar(store, store.webinar(SAMPLE_SLUG), NOW, settings.mail_domain)

    assert pending == {"awaiting": "pending"}, "the word about the request needs no provider"
    after = {r["kind"]: (r["state"], r["reason"]) for r in store.db.query("SELECT * FROM deliveries")}
    assert after["awaiting"] == ("skipped", "registration approved")
    assert after["confirmation"] == ("pending", None)


def test_a_preview_of_the_denial_shows_the_organisers_words_and_no_link(workdir, settings, store):
    path = definition_variant(workdir, {**FUTURE, **MANUAL}, name="webinar.toml")
    store.save_webinar(load_definition(path), path.read_text(encoding="utf-8"), "local", NOW)
    register_online(store, store.webinar(SAMPLE_SLUG), {"email": ANA, "first_name": "Ana"}, NOW)
    sync_webinar(store, load_provider("local", settings, store), store.webinar(SAMPLE_SLUG), NOW)
    decide_people(store, store.webinar(SAMPLE_SLUG), [ANA], "denied", NOW, message="We are full, sorry.")
    reader = store.registrant(store.webinar(SAMPLE_SLUG).id, ANA)

    words = Composer(store.webinar(SAMPLE_SLUG), settings).render("denial", reader, NOW)

    assert "We are full, sorry." in words.text
    assert reader.join_url not in words.text + words.html
    assert reader.denial_message == "We are full, sorry."


def test_a_denied_persons_local_join_link_answers_410_gone(workdir, settings, store):
    path = definition_variant(workdir, {**FUTURE, **MANUAL}, name="webinar.toml")
    store.save_webinar(load_definition(path), path.read_text(encoding="utf-8"), "local", NOW)
    for address in (ANA, BEN):
        register_online(store, store.webinar(SAMPLE_SLUG), {"email": address, "first_name": "Someone"}, NOW)
    provider = load_provider("local", settings, store)
    sync_webinar(store, provider, store.webinar(SAMPLE_SLUG), NOW)
    decide_people(store, store.webinar(SAMPLE_SLUG), [ANA], "approved", NOW)
    decide_people(store, store.webinar(SAMPLE_SLUG), [BEN], "denied", NOW)
    report = sync_webinar(store, provider, store.webinar(SAMPLE_SLUG), NOW)
    webinar_id = store.webinar(SAMPLE_SLUG).id
    links = {address: store.registrant(webinar_id, address).join_url.rpartition("/j/")[2] for address in (ANA, BEN)}

    with serving(create_app(settings, clock=lambda: NOW)) as base_url:
        answers = {address: requests.get(f"{base_url}/j/{token}", timeout=10) for address, token in links.items()}

    assert report.decided == 2
    assert answers[ANA].status_code == 200
    assert answers[BEN].status_code == 410
    assert "This registration was cancelled." in answers[BEN].text


# -- on the local Zoom --------------------------------------------------------------------------


@pytest.fixture
def zoom() -> Iterator[FakeZoom]:
    with FakeZoom(plan="business", seed=11) as fake:
        yield fake


@pytest.fixture
def at_zoom(run, workdir: Path, zoom: FakeZoom):
    """The manual webinar created at the local Zoom by the real `sync`; returns a runner with
    the environment that points the command line at it, and Zoom's webinar id."""
    env = {"WEBINAR_OPS_PROVIDER": "zoom", **zoom.environment()}
    path = definition_variant(workdir, {**FUTURE, **MANUAL}, name="webinar.toml")
    for args in (("init",), ("webinar", "add", str(path)), ("sync", SAMPLE_SLUG)):
        ok(run(*args, env=env))
    [webinar] = zoom.state()["webinars"]
    assert webinar["settings"]["approval_type"] == 1

    def on_zoom(*args: str, **overrides: str) -> Ran:
        return run(*args, env={**env, **overrides})

    return on_zoom, str(webinar["id"])


def statuses_at(zoom: FakeZoom, webinar_id: str) -> dict[str, str]:
    return {r["email"]: r["status"] for r in zoom.registrants(webinar_id)}


def status_updates(zoom: FakeZoom) -> list[tuple[str, int]]:
    puts = [r for r in zoom.requests if r.method == "PUT" and r.path.endswith("/registrants/status")]
    return [(r.body["action"], len(r.body["registrants"])) for r in puts]


def test_on_zoom_approvals_go_at_once_30_a_call_and_bring_each_their_zoom_join_link(at_zoom, zoom, workdir):
    on_zoom, webinar_id = at_zoom
    people = [f"person{i:02d}@example.org" for i in range(35)]
    for address in people:
        zoom.add_registrant_from_zoom_page(webinar_id, address, "Person")
    assert "35 new from zoom" in ok(on_zoom("sync", SAMPLE_SLUG)).stdout
    assert "Sent 35," in ok(on_zoom("run", "--once")).stdout, "each is told their request awaits approval"
    zoom.clear_requests()

    approved = ok(on_zoom("registrants", "approve", SAMPLE_SLUG, "--all-pending", "--json")).json()

    assert len(approved["changed"]) == 35
    assert approved["provider"] == "35 decisions sent to zoom"
    assert status_updates(zoom) == [("approve", 30), ("approve", 5)]
    assert set(statuses_at(zoom, webinar_id).values()) == {"approved"}
    assert "Sent 35," in ok(on_zoom("run", "--once")).stdout
    links = {r["email"]: r["join_url"] for r in zoom.registrants(webinar_id)}
    for address in people:
        confirmation = by_subject(mails_to(workdir, address), "You are registered")
        assert links[address] in text_of(confirmation)
    zoom.clear_requests()
    assert "Already in step" in ok(on_zoom("sync", SAMPLE_SLUG)).stdout
    assert status_updates(zoom) == []


def test_on_zoom_a_denial_reaches_zoom_and_the_person_gets_the_denial(at_zoom, zoom, workdir):
    on_zoom, webinar_id = at_zoom
    zoom.add_registrant_from_zoom_page(webinar_id, BEN, "Ben")
    ok(on_zoom("sync", SAMPLE_SLUG))

    ok(on_zoom("registrants", "deny", SAMPLE_SLUG, BEN, "--message", "We are full."))
    ok(on_zoom("run", "--once"))

    assert status_updates(zoom) == [("deny", 1)]
    assert statuses_at(zoom, webinar_id) == {BEN: "denied"}
    denial = by_subject(mails_to(workdir, BEN), "About your registration")
    assert "We are full." in text_of(denial)
    assert calendar_or_join_links(denial, zoom.registrants(webinar_id)[0]["join_url"]) == []
    assert row(workdir, BEN)["provider_status"] == "denied"


def test_on_zoom_a_decision_the_command_could_not_send_goes_with_the_next_sync(at_zoom, zoom, workdir):
    on_zoom, webinar_id = at_zoom
    zoom.add_registrant_from_zoom_page(webinar_id, ANA, "Ana")
    ok(on_zoom("sync", SAMPLE_SLUG))

    approved = ok(on_zoom("registrants", "approve", SAMPLE_SLUG, ANA, ZOOM_CLIENT_SECRET="not-the-secret"))

    assert "0 decisions sent to zoom; 1 refused, tried again at the next sync" in approved.stdout
    assert "not-the-secret" not in approved.stdout + approved.stderr
    assert statuses_at(zoom, webinar_id) == {ANA: "pending"}
    assert row(workdir, ANA)["status"] == "approved", "the decision is the store's"
    synced = on_zoom("sync", SAMPLE_SLUG)
    assert synced.code == 0, synced.stderr
    assert "1 decisions sent" in synced.stdout
    assert statuses_at(zoom, webinar_id) == {ANA: "approved"}
    assert (row(workdir, ANA)["provider_status"], row(workdir, ANA)["sync_error"]) == ("approved", None)


def test_a_decision_taken_on_zooms_site_comes_back_with_the_sync(at_zoom, zoom, workdir):
    on_zoom, webinar_id = at_zoom
    for address, name in ((ANA, "Ana"), (BEN, "Ben"), (CHLOE, "Chloé")):
        zoom.add_registrant_from_zoom_page(webinar_id, address, name)
    zoom.decide_on_zoom_site(webinar_id, CHLOE, "deny")  # before webinar-ops first saw her
    ok(on_zoom("sync", SAMPLE_SLUG))
    zoom.decide_on_zoom_site(webinar_id, ANA, "approve")
    zoom.decide_on_zoom_site(webinar_id, BEN, "deny")

    ok(on_zoom("sync", SAMPLE_SLUG))
    ok(on_zoom("run", "--once"))

    assert (row(workdir, ANA)["status"], row(workdir, BEN)["status"]) == ("approved", "denied")
    confirmation = by_subject(mails_to(workdir, ANA), "You are registered")
    assert row(workdir, ANA)["join_url"] in text_of(confirmation)
    assert by_subject(mails_to(workdir, BEN), "About your registration")
    assert row(workdir, CHLOE)["status"] == "denied"
    assert mails_to(workdir, CHLOE) == [], "Zoom lists those who cancelled as denied: no denial for them"


def test_every_decision_exchange_with_zoom_matches_its_openapi_document(zoom, tmp_path):
    openapi = load_zoom_openapi(SPEC_PATH)
    settings = zoom_settings(zoom, tmp_path / "zoom.db")
    client = ZoomClient(Credentials(zoom.account_id, zoom.client_id, zoom.client_secret), zoom.api_url, zoom.oauth_url)
    exchanges: list[requests.Response] = []
    client.session.hooks["response"].append(lambda response, *args, **kwargs: exchanges.append(response))
    provider = ZoomProvider(client)
    path = definition_variant(tmp_path, {**FUTURE, **MANUAL}, name="webinar.toml")
    with Store.open(settings.db_path) as store:
        store.save_webinar(load_definition(path), path.read_text(encoding="utf-8"), "zoom", NOW)
        sync_webinar(store, provider, store.webinar(SAMPLE_SLUG), NOW)
        webinar_id = store.webinar(SAMPLE_SLUG).provider_webinar_id
        for address in (ANA, BEN, CHLOE):
            zoom.add_registrant_from_zoom_page(webinar_id, address, "Someone")
        sync_webinar(store, provider, store.webinar(SAMPLE_SLUG), NOW)
        decide_people(store, store.webinar(SAMPLE_SLUG), [ANA, BEN], "approved", NOW)
        decide_people(store, store.webinar(SAMPLE_SLUG), [CHLOE], "denied", NOW)
        report = sync_webinar(store, provider, store.webinar(SAMPLE_SLUG), NOW)

    assert (report.decided, report.failed) == (3, [])
    decisions = [r for r in exchanges if r.request.method == "PUT" and r.url.endswith("/registrants/status")]
    assert len(decisions) == 2
    for response in (r for r in exchanges if r.url.startswith(zoom.api_url)):
        check_exchange(openapi, response, request_valid=True)
