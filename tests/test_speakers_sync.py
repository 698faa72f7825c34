"""The speakers at the provider (issue 17, part 2): the sync makes each speaker with an address
a panelist with a join link of their own, removes those taken out of the programme, asks the
provider nothing when all is in step, and records a refusal against that speaker alone; Zoom's
practice session follows `[practice]`; `webinar-ops speakers` lists them, their links masked.
On the local provider and on the local Zoom (every exchange checked against Zoom's OpenAPI
document), with real SQLite files and the real command line."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import requests
from conftest import NOW, REPO, TEST_SECRET_KEY
from test_zoom_provider import NOW as ZOOM_NOW
from zoom_openapi import checked_zoom_provider, host_token

from webinar_ops.definition import load_definition
from webinar_ops.jobs import sync_registrations
from webinar_ops.providers.local.provider import LocalProvider
from webinar_ops.providers.zoom.standin import FakeZoom
from webinar_ops.registrants import add_person
from webinar_ops.store import Store
from webinar_ops.sync import sync_webinar

SPEAKERS_COPY = REPO / "tests" / "data" / "undesa-snu-session-5-speakers.toml"
SLUG = "undesa-snu-session-5"
PARK, SHIM, YAO, SON = (
    "mikyoung.park@example.org",
    "bokyun.shim@example.org",
    "keping.yao@example.org",
    "sungjoo.son@example.org",
)
ADDRESSES = {PARK, SHIM, YAO, SON}
SON_ADDRESS_LINE = 'email = "sungjoo.son@example.org"\n'
# Taken out after IN_2031 is applied: the practice's start is in 2031 by then.
NO_PRACTICE = {
    '[practice]\nstart = "2031-04-28 15:00"   # wall time in the webinar\'s zone\n'
    'duration = "1h"\nreminder = "3h"\n': ""
}
IN_2031 = {'start = "2021-04-30 15:00"': 'start = "2031-04-30 15:00"', "2021-04-28": "2031-04-28"}


def speakers_copy(folder: Path, replacements: dict[str, str] | None = None, name: str = "speakers.toml") -> Path:
    """The model webinar with its four people's addresses, some text replaced (each must occur)."""
    text = SPEAKERS_COPY.read_text(encoding="utf-8")
    for old, new in (replacements or {}).items():
        assert old in text, f"{old!r} is not in the speakers' copy"
        text = text.replace(old, new)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def save(store: Store, path: Path, provider: str = "local", now=NOW):
    return store.save_webinar(load_definition(path), path.read_text(encoding="utf-8"), provider, now).record


def synced(store: Store, provider, now=NOW):
    return sync_webinar(store, provider, store.webinar(SLUG), now)


def by_address(store: Store, removed: bool = False) -> dict:
    return {row.email: row for row in store.speakers(store.webinar(SLUG).id, removed=removed)}


# -- on the local provider ------------------------------------------------------------------


@pytest.fixture
def local(store: Store) -> LocalProvider:
    return LocalProvider(store, "https://w.example.org", TEST_SECRET_KEY, clock=lambda: NOW)


def test_the_model_webinars_four_people_become_panelists_each_with_a_link_of_their_own(store, local, tmp_path):
    save(store, speakers_copy(tmp_path))

    report = synced(store, local)

    stored = by_address(store)
    assert report.panelists_added == 4
    assert not report.panelists_refused
    assert set(stored) == ADDRESSES
    assert all(row.panelist_status == "panelist" for row in stored.values())
    held = {p.email: p for p in local.panelists(store.webinar(SLUG).provider_webinar_id)}
    assert set(held) == ADDRESSES
    assert {email: row.join_url for email, row in stored.items()} == {e: p.join_url for e, p in held.items()}
    assert len({row.join_url for row in stored.values()}) == 4


def test_a_second_sync_changes_nothing_for_the_speakers(store, local, tmp_path):
    save(store, speakers_copy(tmp_path))
    synced(store, local)
    before = by_address(store)

    again = synced(store, local)

    assert (again.panelists_added, again.panelists_removed, again.panelists_refused) == (0, 0, [])
    assert not again.changed_anything
    assert by_address(store) == before


def test_a_speaker_taken_out_of_the_programme_is_removed_at_the_provider(store, local, tmp_path):
    save(store, speakers_copy(tmp_path))
    synced(store, local)
    son_link = by_address(store)[SON].join_url
    without_son = {
        'name = "Mr. Sung Joo Son"': 'name = "Mr. Somebody Else"',
        SON_ADDRESS_LINE: 'email = "somebody.else@example.org"\n',
    }
    save(store, speakers_copy(tmp_path, without_son))

    report = synced(store, local)

    assert (report.panelists_added, report.panelists_removed) == (1, 1)
    held = {p.email for p in local.panelists(store.webinar(SLUG).provider_webinar_id)}
    assert held == {PARK, SHIM, YAO, "somebody.else@example.org"}
    son = by_address(store, removed=True)[SON]
    assert (son.panelist_id, son.join_url, son.panelist_status) == (None, None, "removed")
    assert son_link not in {row.join_url for row in by_address(store).values()}


def test_a_speakers_new_address_makes_them_a_new_panelist_and_the_old_address_is_let_go(store, local, tmp_path):
    save(store, speakers_copy(tmp_path))
    synced(store, local)
    save(store, speakers_copy(tmp_path, {SON_ADDRESS_LINE: 'email = "ssj@example.org"\n'}))

    report = synced(store, local)

    assert (report.panelists_added, report.panelists_removed) == (1, 1)
    held = {p.email for p in local.panelists(store.webinar(SLUG).provider_webinar_id)}
    assert held == {PARK, SHIM, YAO, "ssj@example.org"}
    assert by_address(store)["ssj@example.org"].name == "Mr. Sung Joo Son"


def test_a_speaker_without_an_address_is_no_panelist_and_is_shown_as_such(store, local, tmp_path):
    save(store, speakers_copy(tmp_path, {SON_ADDRESS_LINE: ""}))

    report = synced(store, local)

    assert report.panelists_added == 3
    [son] = [row for row in store.speakers(store.webinar(SLUG).id) if row.email is None]
    assert (son.name, son.panelist_id, son.panelist_status) == ("Mr. Sung Joo Son", None, "no address")


def test_a_speaker_registered_as_an_attendee_too_stays_a_registrant_and_is_named_as_one_who_speaks(
    store, local, tmp_path
):
    save(store, speakers_copy(tmp_path))
    add_person(store, store.webinar(SLUG), {"email": "Keping.Yao@example.org", "first_name": "Keping"}, NOW)
    add_person(store, store.webinar(SLUG), {"email": "ana@example.org", "first_name": "Ana"}, NOW)
    synced(store, local)
    webinar = store.webinar(SLUG)

    assert store.registrant_addresses_that_speak(webinar.id) == {YAO}
    assert by_address(store)[YAO].panelist_status == "panelist"
    assert [r.email for r in store.registrants(webinar.id)] == ["ana@example.org", "keping.yao@example.org"]
    save(store, speakers_copy(tmp_path, {'email = "keping.yao@example.org"\n': 'email = "k.yao@example.org"\n'}))
    assert store.registrant_addresses_that_speak(webinar.id) == set()


def test_a_provider_without_panelists_is_left_alone_and_the_speakers_wait(store, local, tmp_path):
    class BeforePanelists:
        """A provider plugin written before panelists existed: every other method, none of theirs."""

        name, batch_size = local.name, local.batch_size

        def __getattr__(self, name):
            if name in ("add_panelists", "panelists", "remove_panelist"):
                raise AttributeError(name)
            return getattr(local, name)

    save(store, speakers_copy(tmp_path))

    report = synced(store, BeforePanelists())

    assert report.panelists_added == 0
    assert not report.panelists_refused
    assert {row.panelist_status for row in by_address(store).values()} == {"waiting for the next sync"}


def test_the_background_sync_makes_the_speakers_panelists_and_logs_no_address_or_link(
    store, settings, tmp_path, caplog
):
    save(store, speakers_copy(tmp_path))

    with caplog.at_level(logging.INFO, logger="webinar_ops"):
        sync_registrations.run(settings, clock=lambda: NOW)  # what `webinar-ops run` does every few minutes

    stored = by_address(store)
    assert {row.panelist_status for row in stored.values()} == {"panelist"}
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "4 speakers made panelists, 0 let go, 0 refused" in logged
    assert not any(secret in logged for row in stored.values() for secret in (row.email, row.join_url))


# -- on the local Zoom ----------------------------------------------------------------------


@pytest.fixture
def zoom():
    with FakeZoom(plan="business", seed=17) as fake:
        yield fake


@pytest.fixture
def checked_zoom(zoom):
    """The zoom provider talking to the local Zoom; after the test, every exchange it had must
    match Zoom's OpenAPI document, requests and answers alike."""
    with checked_zoom_provider(zoom) as provider:
        yield provider


def at_zoom(store: Store, folder: Path, replacements: dict[str, str] | None = None):
    return save(store, speakers_copy(folder, {**IN_2031, **(replacements or {})}), "zoom", ZOOM_NOW)


def panelist_calls(zoom: FakeZoom) -> list:
    return [r for r in zoom.requests if "/panelists" in r.path]


def test_at_zoom_the_four_people_become_panelists_and_zoom_mails_none_of_them(zoom, checked_zoom, store, tmp_path):
    at_zoom(store, tmp_path)

    report = synced(store, checked_zoom, ZOOM_NOW)

    webinar_id = store.webinar(SLUG).provider_webinar_id
    held = {p.email: p for p in checked_zoom.panelists(webinar_id)}
    stored = by_address(store)
    assert report.panelists_added == 4
    assert set(held) == ADDRESSES
    assert {e: (r.panelist_id, r.join_url) for e, r in stored.items()} == {
        e: (p.panelist_id, p.join_url) for e, p in held.items()
    }
    assert len({r.join_url for r in stored.values()}) == 4
    assert not zoom.panelist_invitations(webinar_id)
    assert [r.email for r in checked_zoom.registrants(webinar_id)] == []


def test_at_zoom_a_second_sync_asks_nothing_about_panelists(zoom, checked_zoom, store, tmp_path):
    at_zoom(store, tmp_path)
    synced(store, checked_zoom, ZOOM_NOW)
    zoom.clear_requests()

    report = synced(store, checked_zoom, ZOOM_NOW)

    assert (report.panelists_added, report.panelists_removed) == (0, 0)
    assert panelist_calls(zoom) == []


def test_at_zoom_a_speaker_taken_out_is_removed_as_a_panelist(zoom, checked_zoom, store, tmp_path):
    at_zoom(store, tmp_path)
    synced(store, checked_zoom, ZOOM_NOW)
    at_zoom(store, tmp_path, {SON_ADDRESS_LINE: 'email = "ssj@example.org"\n'})

    report = synced(store, checked_zoom, ZOOM_NOW)

    held = {p.email for p in checked_zoom.panelists(store.webinar(SLUG).provider_webinar_id)}
    assert (report.panelists_added, report.panelists_removed) == (1, 1)
    assert held == {PARK, SHIM, YAO, "ssj@example.org"}
    assert [r.method for r in panelist_calls(zoom)].count("DELETE") == 1


def test_at_zoom_a_speaker_refused_keeps_the_others_and_is_added_once_there_is_room(
    zoom, checked_zoom, store, tmp_path
):
    at_zoom(store, tmp_path, {SON_ADDRESS_LINE: ""})
    synced(store, checked_zoom, ZOOM_NOW)
    webinar_id = store.webinar(SLUG).provider_webinar_id
    # The host fills the webinar's 100 panelist places on Zoom's site.
    zoom_api(zoom, "POST", f"/webinars/{webinar_id}/panelists", 30, 0)
    zoom_api(zoom, "POST", f"/webinars/{webinar_id}/panelists", 30, 30)
    zoom_api(zoom, "POST", f"/webinars/{webinar_id}/panelists", 30, 60)
    zoom_api(zoom, "POST", f"/webinars/{webinar_id}/panelists", 7, 90)
    at_zoom(store, tmp_path)  # Mr. Son's address is given

    refused = synced(store, checked_zoom, ZOOM_NOW)

    stored = by_address(store)
    assert [email for email, _ in refused.panelists_refused] == [SON]
    assert stored[SON].panelist_status.startswith("refused: ")
    assert "limit for the number of panelists" in stored[SON].panelist_status
    assert {stored[e].panelist_status for e in (PARK, SHIM, YAO)} == {"panelist"}
    zoom_api(zoom, "DELETE", f"/webinars/{webinar_id}/panelists/host.guest0@example.org")

    retried = synced(store, checked_zoom, ZOOM_NOW)

    assert retried.panelists_added == 1
    assert not retried.panelists_refused
    assert by_address(store)[SON].panelist_status == "panelist"


def test_at_zoom_a_panelist_the_host_removed_is_made_one_again_when_the_webinar_is_compared(
    zoom, checked_zoom, store, tmp_path
):
    at_zoom(store, tmp_path)
    synced(store, checked_zoom, ZOOM_NOW)
    webinar_id = store.webinar(SLUG).provider_webinar_id
    zoom_api(zoom, "DELETE", f"/webinars/{webinar_id}/panelists/{by_address(store)[YAO].panelist_id}")
    unnoticed = synced(store, checked_zoom, ZOOM_NOW)
    assert unnoticed.panelists_added == 0

    compared = sync_webinar(store, checked_zoom, store.republish(store.webinar(SLUG)), ZOOM_NOW)

    held = {p.email: p for p in checked_zoom.panelists(webinar_id)}
    assert compared.panelists_added == 1
    assert set(held) == ADDRESSES
    assert (by_address(store)[YAO].panelist_id, by_address(store)[YAO].join_url) == (
        held[YAO].panelist_id,
        held[YAO].join_url,
    )


def test_at_zoom_comparing_a_webinar_in_step_lists_its_panelists_once_and_adds_nobody(
    zoom, checked_zoom, store, tmp_path
):
    at_zoom(store, tmp_path)
    synced(store, checked_zoom, ZOOM_NOW)
    before = by_address(store)
    zoom.clear_requests()

    compared = sync_webinar(store, checked_zoom, store.republish(store.webinar(SLUG)), ZOOM_NOW)

    assert compared.panelists_added == 0
    assert [r.method for r in panelist_calls(zoom)] == ["GET"]
    assert by_address(store) == before


def zoom_api(zoom: FakeZoom, method: str, path: str, guests: int = 0, first: int = 0) -> None:
    """A call the host's own tools make to the local Zoom (with `guests` panelists of theirs)."""
    token = host_token(zoom)
    body = {
        "panelists": [
            {"email": f"host.guest{i}@example.org", "name": f"Guest {i}"} for i in range(first, first + guests)
        ]
    }
    response = requests.request(
        method,
        f"{zoom.api_url}{path}",
        json=body if guests else None,
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    response.raise_for_status()


def test_at_zoom_the_practice_session_follows_the_definition(zoom, checked_zoom, store, tmp_path):
    at_zoom(store, tmp_path)
    synced(store, checked_zoom, ZOOM_NOW)
    webinar_id = store.webinar(SLUG).provider_webinar_id
    created = next(r for r in zoom.requests if r.method == "POST" and r.path.endswith("/webinars"))
    assert created.body["settings"]["practice_session"] is True
    assert zoom.webinar(webinar_id)["settings"]["practice_session"] is True
    at_zoom(store, tmp_path, NO_PRACTICE)

    report = synced(store, checked_zoom, ZOOM_NOW)

    assert report.published == "updated"
    assert zoom.webinar(webinar_id)["settings"]["practice_session"] is False


def test_without_a_practice_zoom_is_asked_for_none(zoom, checked_zoom, store, tmp_path):
    at_zoom(store, tmp_path, NO_PRACTICE)

    synced(store, checked_zoom, ZOOM_NOW)

    created = next(r for r in zoom.requests if r.method == "POST" and r.path.endswith("/webinars"))
    assert created.body["settings"]["practice_session"] is False


# -- the command line -----------------------------------------------------------------------


@pytest.fixture
def cli(run, workdir):
    """The real command line in a project holding the model webinar with its speakers' addresses,
    in 2031, on the local provider, with the sample's registrants."""
    speakers_copy(workdir, IN_2031, "speakers.toml")
    assert run("init").code == 0
    assert run("webinar", "add", "speakers.toml").code == 0
    assert run("registrants", "import", SLUG, "data/registrants-sample.csv").code == 0
    return run


def test_sync_says_how_many_speakers_became_panelists_and_then_that_all_is_in_step(cli):
    first = cli("sync", SLUG)
    again = cli("sync", SLUG)

    assert first.code == 0, first.stderr
    assert "Speakers: 4 made panelists, 0 removed as panelists, 0 refused" in first.stdout
    assert again.code == 0
    assert "Already in step: nothing to do." in again.stdout
    assert "Speakers:" not in again.stdout


def links_in(workdir: Path) -> dict[str, str]:
    """The speakers' join links, as the command line's own database holds them."""
    with Store.open(workdir / "data" / "webinar_ops.db") as store:
        return {row.email: row.join_url for row in store.speakers(store.webinar(SLUG).id)}


def test_the_speakers_command_lists_each_person_once_with_their_part_and_no_join_link(cli, workdir):
    assert cli("sync", SLUG).code == 0
    links = links_in(workdir).values()

    shown = cli("speakers", SLUG)

    assert shown.code == 0, shown.stderr
    for text in ("Ms. Mi Kyoung Park", "UNPOG/DPIDG/UNDESA", PARK, "15:45–16:05 Country Case Presentation", "panelist"):
        assert text in shown.stdout
    assert "4 speakers" in shown.stdout
    assert len(links) == 4
    assert all(links)
    assert not any(link in shown.stdout for link in links)


def test_the_speakers_command_gives_json_and_shows_links_only_when_asked(cli, workdir):
    assert cli("sync", SLUG).code == 0
    links = links_in(workdir)

    masked = json.loads(cli("speakers", SLUG, "--json").stdout)
    shown = json.loads(cli("speakers", SLUG, "--json", "--show-links").stdout)

    assert [p["email"] for p in masked] == [PARK, SHIM, YAO, SON]
    assert [p["moderates"] for p in masked] == [True, False, False, False]
    assert masked[3]["items"] == [
        {
            "title": "Country Case Presentation",
            "start": "2031-04-30T06:45:00Z",
            "end": "2031-04-30T07:05:00Z",
            "clock": "15:45–16:05",
        }
    ]
    assert {p["panelist_status"] for p in masked} == {"panelist"}
    assert not set(links.values()) & {p["join_url"] for p in masked}
    assert {p["email"]: p["join_url"] for p in shown} == links


def test_panelists_are_in_no_registrant_listing_and_no_status_count(cli):
    before = json.loads(cli("status", SLUG, "--json").stdout)
    assert cli("sync", SLUG).code == 0

    listed = json.loads(cli("registrants", "list", SLUG, "--json").stdout)
    after = json.loads(cli("status", SLUG, "--json").stdout)

    assert not ADDRESSES & {row["email"] for row in listed}
    assert after[0]["registrants"] == before[0]["registrants"]


def test_the_speakers_command_lists_the_mails_each_speaker_was_sent(cli):
    assert cli("sync", SLUG).code == 0
    assert cli("run", "--once").code == 0

    listed = json.loads(cli("speakers", SLUG, "--json").stdout)
    shown = cli("speakers", SLUG).stdout

    for person in listed:
        kinds_sent = {mail["kind"]: mail["state"] for mail in person["mails"]}
        assert kinds_sent["briefing-0"] == "sent", person["email"]
        assert {"speaker-reminder-2d", "speaker-reminder-2h", "practice-reminder"} <= set(kinds_sent)
    assert "briefing-0 sent" in shown
