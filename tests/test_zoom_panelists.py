"""Panelists at Zoom: the zoom provider adds, lists and removes the speakers as panelists of a
webinar at the local Zoom, and every exchange is checked against Zoom's OpenAPI document."""

from __future__ import annotations

import pytest
import requests
from test_zoom import zoom_settings
from test_zoom_provider import NOW, webinar_at_zoom, webinar_created_on_zoom
from zoom_openapi import SPEC_PATH, check_exchange, checked_zoom_provider, host_token, load_zoom_openapi

from webinar_ops import tokens
from webinar_ops.people import Person
from webinar_ops.providers import NewPanelist, Panelist, load_provider
from webinar_ops.providers.zoom.standin import FakeZoom
from webinar_ops.store import Store
from webinar_ops.sync import sync_webinar

SPEAKERS = [
    NewPanelist("amina@example.org", "Amina Diallo"),
    NewPanelist("kenji@example.org", "Kenji Sato"),
    NewPanelist("lucia@example.org", "Lucía Pérez"),
]


@pytest.fixture
def zoom():
    with FakeZoom(plan="business", seed=17) as fake:
        yield fake


@pytest.fixture
def checked_provider(zoom):
    """A provider talking to the local Zoom; after the test, every exchange it had must match
    Zoom's OpenAPI document, requests and answers alike."""
    with checked_zoom_provider(zoom) as provider:
        yield provider


def a_webinar(zoom: FakeZoom) -> str:
    return str(webinar_created_on_zoom(zoom)["id"])


def api(zoom: FakeZoom, method: str, path: str, **kwargs) -> requests.Response:
    """One request to the local Zoom as any client would send it, with a fresh token."""
    token = host_token(zoom)
    headers = {"Authorization": f"Bearer {token}"}
    return requests.request(method, f"{zoom.api_url}{path}", headers=headers, timeout=5, **kwargs)


def test_three_speakers_become_panelists_each_with_a_join_link_of_their_own(zoom, checked_provider):
    webinar_id = a_webinar(zoom)
    results = checked_provider.add_panelists(webinar_id, SPEAKERS)

    assert [r.email for r in results] == [s.email for s in SPEAKERS]
    assert all(r.ok for r in results)
    listed = checked_provider.panelists(webinar_id)
    assert {(p.email, p.name) for p in listed} == {(s.email, s.name) for s in SPEAKERS}
    assert {r.panelist_id for r in results} == {p.panelist_id for p in listed}
    assert len({p.join_url for p in listed}) == 3
    assert {r.join_url for r in results} == {p.join_url for p in listed}


def test_panelists_are_never_registrants_and_their_links_are_not_a_registrants(zoom, checked_provider):
    webinar_id = a_webinar(zoom)
    api(zoom, "PATCH", f"/webinars/{webinar_id}", json={"settings": {"approval_type": 0}}).raise_for_status()
    [registered] = checked_provider.register(webinar_id, [Person("ana@example.org", "Ana")], approve=True)
    checked_provider.add_panelists(webinar_id, SPEAKERS)

    assert [r.email for r in checked_provider.registrants(webinar_id)] == ["ana@example.org"]
    assert registered.join_url not in {p.join_url for p in checked_provider.panelists(webinar_id)}


def test_a_removed_panelist_is_gone_and_removing_them_again_is_no_error(zoom, checked_provider):
    webinar_id = a_webinar(zoom)
    checked_provider.add_panelists(webinar_id, SPEAKERS)
    kenji = next(p for p in checked_provider.panelists(webinar_id) if p.email == "kenji@example.org")

    checked_provider.remove_panelist(webinar_id, kenji.panelist_id, kenji.email)
    checked_provider.remove_panelist(webinar_id, kenji.panelist_id, kenji.email)

    assert {p.email for p in checked_provider.panelists(webinar_id)} == {"amina@example.org", "lucia@example.org"}


def test_a_panelist_without_an_id_is_removed_by_address(zoom, checked_provider):
    webinar_id = a_webinar(zoom)
    checked_provider.add_panelists(webinar_id, SPEAKERS)

    checked_provider.remove_panelist(webinar_id, "", "Lucia@Example.org")

    assert "lucia@example.org" not in {p.email for p in checked_provider.panelists(webinar_id)}


def test_every_panelist_of_a_webinar_can_be_removed_at_once(zoom, checked_provider):
    webinar_id = a_webinar(zoom)
    checked_provider.add_panelists(webinar_id, SPEAKERS)

    checked_provider.remove_all_panelists(webinar_id)

    assert checked_provider.panelists(webinar_id) == []


def test_adding_a_speaker_twice_keeps_one_panelist_with_the_same_link(zoom, checked_provider):
    webinar_id = a_webinar(zoom)
    [first] = checked_provider.add_panelists(webinar_id, SPEAKERS[:1])
    [again, same_call] = checked_provider.add_panelists(
        webinar_id, [NewPanelist("Amina@Example.org", "Amina D."), SPEAKERS[0]]
    )

    assert (again.panelist_id, again.join_url) == (first.panelist_id, first.join_url)
    assert (same_call.panelist_id, same_call.join_url) == (first.panelist_id, first.join_url)
    [amina] = checked_provider.panelists(webinar_id)
    assert amina.name == "Amina D."
    sent = [r for r in zoom.requests if r.method == "POST" and r.path.endswith("/panelists")]
    assert [len(r.body["panelists"]) for r in sent] == [1, 1]  # the address given twice went once


def test_thirty_one_speakers_go_to_zoom_in_two_calls(zoom, checked_provider):
    webinar_id = a_webinar(zoom)
    speakers = [NewPanelist(f"speaker{i}@example.org", f"Speaker {i}") for i in range(31)]

    results = checked_provider.add_panelists(webinar_id, speakers)

    assert all(r.ok for r in results)
    sent = [r for r in zoom.requests if r.method == "POST" and r.path.endswith("/panelists")]
    assert [len(r.body["panelists"]) for r in sent] == [30, 1]
    assert len(checked_provider.panelists(webinar_id)) == 31


def test_zoom_refuses_thirty_one_panelists_in_one_call_and_adds_none(zoom):
    webinar_id = a_webinar(zoom)
    body = {"panelists": [{"email": f"speaker{i}@example.org", "name": f"Speaker {i}"} for i in range(31)]}

    refused = api(zoom, "POST", f"/webinars/{webinar_id}/panelists", json=body)

    # The document's `maximum: 30` sits on the array, where a schema validator does not read it.
    check_exchange(load_zoom_openapi(SPEC_PATH), refused, request_valid=None)
    assert (refused.status_code, refused.json()["code"]) == (400, 300)
    assert zoom.panelists(webinar_id) == []


def test_zoom_refuses_an_entry_without_a_name_or_with_an_address_twice(zoom):
    webinar_id = a_webinar(zoom)
    openapi = load_zoom_openapi(SPEC_PATH)
    nameless = api(zoom, "POST", f"/webinars/{webinar_id}/panelists", json={"panelists": [{"email": "a@example.org"}]})
    twice = api(
        zoom,
        "POST",
        f"/webinars/{webinar_id}/panelists",
        json={"panelists": [{"email": "a@example.org", "name": "A"}, {"email": "A@example.org", "name": "A"}]},
    )

    for refused in (nameless, twice):
        check_exchange(openapi, refused, request_valid=True)
        assert (refused.status_code, refused.json()["code"]) == (400, 300)
    assert zoom.panelists(webinar_id) == []


def test_names_are_cut_to_zooms_limits(zoom, checked_provider):
    webinar_id = a_webinar(zoom)
    long_name = "Maria " + "Longname" * 10
    chinese = "欧阳" + "娜娜" * 6

    results = checked_provider.add_panelists(
        webinar_id, [NewPanelist("maria@example.org", long_name), NewPanelist("nana@example.org", chinese)]
    )

    assert all(r.ok for r in results)
    names = {p.email: p.name for p in checked_provider.panelists(webinar_id)}
    assert names == {"maria@example.org": long_name[:64].rstrip(), "nana@example.org": chinese[:12]}


def test_a_lost_answer_to_an_add_still_gives_each_speaker_their_one_link(zoom, checked_provider):
    webinar_id = a_webinar(zoom)
    zoom.set_faults(late_error_next=1)  # the add is made, then the answer is a 5xx

    results = checked_provider.add_panelists(webinar_id, SPEAKERS)

    assert all(r.ok for r in results)
    assert zoom.faults_injected.get("late_error") == 1
    assert len(zoom.panelists(webinar_id)) == 3


def test_a_webinar_zoom_does_not_hold_fails_each_speaker_with_zooms_words(zoom, checked_provider):
    results = checked_provider.add_panelists("12345678901", SPEAKERS)

    assert not any(r.ok for r in results)
    assert all("3001" in r.error and "x-zm-trackingid" in r.error for r in results)
    sent = [r for r in zoom.requests if r.method == "POST" and r.path.endswith("/panelists")]
    assert len(sent) == 1


def test_a_full_webinar_refuses_more_panelists_and_says_why(zoom, checked_provider):
    webinar_id = a_webinar(zoom)
    checked_provider.add_panelists(webinar_id, [NewPanelist(f"s{i}@example.org", f"S {i}") for i in range(100)])

    [refused, already] = checked_provider.add_panelists(
        webinar_id, [NewPanelist("one.more@example.org", "One More"), NewPanelist("s0@example.org", "S 0")]
    )

    assert "limit for the number of panelists" in refused.error
    assert "3000" in refused.error
    assert already.ok  # a panelist already, whatever became of the call


def test_a_panelists_join_link_stays_out_of_its_repr_and_is_known_as_a_secret(zoom, checked_provider):
    webinar_id = a_webinar(zoom)
    [result] = checked_provider.add_panelists(webinar_id, SPEAKERS[:1])
    [panelist] = checked_provider.panelists(webinar_id)

    assert isinstance(panelist, Panelist)
    assert panelist.join_url not in repr(panelist)
    assert result.join_url not in repr(result)
    assert tokens.conceal(f"refused {panelist.join_url}", panelist.join_url) == "refused [the join link]"


def test_publishing_switches_off_zooms_own_panelist_invitation(zoom, tmp_path):
    settings = zoom_settings(zoom, tmp_path / "zoom.db")
    with Store.open(settings.db_path) as store:
        webinar = webinar_at_zoom(store, tmp_path, 1)
        provider = load_provider("zoom", settings, store)
        sync_webinar(store, provider, webinar, NOW)
        webinar_id = store.webinar(webinar.slug).provider_webinar_id
        provider.add_panelists(webinar_id, SPEAKERS)

    created = next(r for r in zoom.requests if r.method == "POST" and r.path.endswith("/webinars"))
    assert created.body["settings"]["panelists_invitation_email_notification"] is False
    assert zoom.webinar(webinar_id)["settings"]["panelists_invitation_email_notification"] is False
    assert not zoom.panelist_invitations(webinar_id)


def test_a_webinar_made_on_zooms_site_keeps_zooms_invitation_as_its_host_set_it(zoom, tmp_path):
    existing = webinar_created_on_zoom(zoom)
    settings = zoom_settings(zoom, tmp_path / "zoom.db")
    with Store.open(settings.db_path) as store:
        attached = {'webinar_id = "create"': f'webinar_id = "{existing["id"]}"'}
        webinar = webinar_at_zoom(store, tmp_path, 0, attached)
        provider = load_provider("zoom", settings, store)
        sync_webinar(store, provider, webinar, NOW)
        provider.add_panelists(str(existing["id"]), SPEAKERS[:1])

    assert zoom.webinar(existing["id"])["settings"]["panelists_invitation_email_notification"] is True
    assert zoom.panelist_invitations(existing["id"]) == {"amina@example.org": 1}


def test_a_webinar_published_before_panelists_has_zooms_invitation_switched_off_at_the_next_sync(zoom, tmp_path):
    settings = zoom_settings(zoom, tmp_path / "zoom.db")
    with Store.open(settings.db_path) as store:
        webinar = webinar_at_zoom(store, tmp_path, 1)
        provider = load_provider("zoom", settings, store)
        sync_webinar(store, provider, webinar, NOW)
        webinar_id = store.webinar(webinar.slug).provider_webinar_id
        api(
            zoom,
            "PATCH",
            f"/webinars/{webinar_id}",
            json={"settings": {"panelists_invitation_email_notification": True}},
        )
        zoom.clear_requests()
        report = sync_webinar(store, provider, store.republish(store.webinar(webinar.slug)), NOW)

    assert report.published == "updated"
    assert zoom.webinar(webinar_id)["settings"]["panelists_invitation_email_notification"] is False
