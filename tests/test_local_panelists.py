"""The local provider's panelists: each speaker gets a join link of their own, their page says
they join as a panelist (over real HTTP to the web service, in the webinar's language), and a
panelist is never a registrant, in no listing and no count. On a real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from conftest import NOW, SAMPLE_DEFINITION, SAMPLE_SLUG, TEST_SECRET_KEY, definition_variant
from web_server import serving

from webinar_ops.config import Settings
from webinar_ops.definition import load_definition
from webinar_ops.providers import AttendanceNotReady, NewPanelist, Panelist
from webinar_ops.providers.local.provider import LocalProvider
from webinar_ops.registrants import add_person
from webinar_ops.store import Store
from webinar_ops.sync import sync_webinar
from webinar_ops.web import create_app

ANA = "ana.silva@example.org"
SPEAKERS = [NewPanelist("amina@example.org", "Amina Diallo"), NewPanelist("kenji@example.org", "Kenji Sato")]


@pytest.fixture
def settings(workdir: Path) -> Settings:
    return Settings(db_path=workdir / "data" / "test.db", secret_key=TEST_SECRET_KEY, base_url="https://w.example.org")


def published(store: Store, settings: Settings, definition: Path = SAMPLE_DEFINITION) -> LocalProvider:
    """The sample webinar at the local provider, with Ana registered."""
    store.save_webinar(load_definition(definition), definition.read_text(encoding="utf-8"), "local", NOW)
    add_person(store, store.webinar(SAMPLE_SLUG), {"email": ANA, "first_name": "Ana"}, NOW)
    local = LocalProvider(store, settings.base_url, TEST_SECRET_KEY, clock=lambda: NOW)
    sync_webinar(store, local, store.webinar(SAMPLE_SLUG), NOW)
    return local


@pytest.fixture
def provider(store: Store, settings: Settings) -> LocalProvider:
    return published(store, settings)


@pytest.fixture
def site(settings: Settings, provider: LocalProvider) -> Iterator[str]:
    with serving(create_app(settings)) as base_url:
        yield base_url


def webinar_id(store: Store) -> str:
    return store.webinar(SAMPLE_SLUG).provider_webinar_id


def path_of(link: str) -> str:
    return urlsplit(link).path


def test_each_speaker_gets_a_join_link_of_their_own_that_is_no_registrants(store, provider):
    results = provider.add_panelists(webinar_id(store), SPEAKERS)

    assert all(r.ok for r in results)
    links = {r.join_url for r in results}
    assert len(links) == 2
    assert all(link.startswith("https://w.example.org/j/") for link in links)
    registrant_links = {r.join_url for r in provider.registrants(webinar_id(store))}
    assert links.isdisjoint(registrant_links)
    assert [(p.email, p.name) for p in provider.panelists(webinar_id(store))] == [
        ("amina@example.org", "Amina Diallo"),
        ("kenji@example.org", "Kenji Sato"),
    ]


def test_a_panelist_who_is_also_registered_keeps_two_distinct_links(store, provider):
    [registered] = provider.registrants(webinar_id(store))
    [as_panelist] = provider.add_panelists(webinar_id(store), [NewPanelist(ANA, "Ana Silva")])

    assert as_panelist.join_url != registered.join_url


def test_panelists_are_never_registrants_nor_counted(store, provider):
    webinar = store.webinar(SAMPLE_SLUG)
    counts_before = store.registrant_counts(webinar.id)
    provider.add_panelists(webinar_id(store), SPEAKERS)

    sync_webinar(store, provider, store.webinar(SAMPLE_SLUG), NOW)

    assert [r.email for r in provider.registrants(webinar_id(store))] == [ANA]
    assert [r.email for r in store.registrants(webinar.id)] == [ANA]
    assert store.registrant_counts(webinar.id) == counts_before


def test_adding_a_speaker_again_keeps_their_link_and_takes_the_new_name(store, provider):
    [first] = provider.add_panelists(webinar_id(store), SPEAKERS[:1])
    [again] = provider.add_panelists(webinar_id(store), [NewPanelist("Amina@Example.org", "Amina D.")])

    assert (again.panelist_id, again.join_url) == (first.panelist_id, first.join_url)
    [amina] = provider.panelists(webinar_id(store))
    assert amina.name == "Amina D."


def test_a_webinar_the_local_provider_does_not_hold_fails_each_speaker_alone(provider):
    results = provider.add_panelists("10000000001", SPEAKERS)

    assert [r.ok for r in results] == [False, False]
    assert "does not exist at the local provider" in results[0].error


def test_a_panelists_join_link_stays_out_of_its_repr(store, provider):
    provider.add_panelists(webinar_id(store), SPEAKERS[:1])
    [panelist] = provider.panelists(webinar_id(store))

    assert isinstance(panelist, Panelist)
    assert panelist.join_url not in repr(panelist)


def test_a_panelists_page_says_they_join_as_a_panelist(store, provider, site):
    [amina] = provider.add_panelists(webinar_id(store), SPEAKERS[:1])

    page = requests.get(site + path_of(amina.join_url), timeout=10)

    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert "Amina Diallo" in page.text
    assert "You join as a panelist, not as an attendee." in page.text


def test_a_registrants_page_does_not_say_panelist(store, provider, site):
    [ana] = provider.registrants(webinar_id(store))

    page = requests.get(site + path_of(ana.join_url), timeout=10)

    assert page.status_code == 200
    assert "panelist" not in page.text


def test_a_french_webinars_panelist_page_says_it_in_french(store, settings, workdir):
    french = definition_variant(workdir, {'language = "en"': 'language = "fr"'})
    provider = published(store, settings, french)
    [amina] = provider.add_panelists(webinar_id(store), SPEAKERS[:1])

    with serving(create_app(settings)) as site:
        page = requests.get(site + path_of(amina.join_url), timeout=10)

    assert "Vous rejoignez le webinaire en tant que panéliste" in page.text


def test_a_removed_panelists_link_opens_nothing_and_adding_them_again_restores_it(store, provider, site):
    [amina, _] = provider.add_panelists(webinar_id(store), SPEAKERS)

    provider.remove_panelist(webinar_id(store), amina.panelist_id, amina.email)
    provider.remove_panelist(webinar_id(store), "", "Kenji@Example.org")  # by address, as a plugin may have to
    provider.remove_panelist(webinar_id(store), amina.panelist_id, amina.email)  # gone already: no error

    assert provider.panelists(webinar_id(store)) == []
    assert requests.get(site + path_of(amina.join_url), timeout=10).status_code == 404
    [back] = provider.add_panelists(webinar_id(store), SPEAKERS[:1])
    assert back.join_url == amina.join_url
    assert requests.get(site + path_of(back.join_url), timeout=10).status_code == 200


def test_a_cancelled_webinars_panelist_link_is_closed(store, provider, site):
    [amina] = provider.add_panelists(webinar_id(store), SPEAKERS[:1])
    provider.cancel_webinar(webinar_id(store))

    page = requests.get(site + path_of(amina.join_url), timeout=10)

    assert page.status_code == 410
    assert "cancelled" in page.text


def test_a_panelist_opening_their_page_is_not_attendance(store, settings):
    webinar_start = load_definition(SAMPLE_DEFINITION).start
    at = {"now": webinar_start}
    store.save_webinar(load_definition(SAMPLE_DEFINITION), SAMPLE_DEFINITION.read_text(encoding="utf-8"), "local", NOW)
    provider = LocalProvider(store, settings.base_url, TEST_SECRET_KEY, clock=lambda: at["now"])
    sync_webinar(store, provider, store.webinar(SAMPLE_SLUG), NOW)
    [amina] = provider.add_panelists(webinar_id(store), SPEAKERS[:1])

    with serving(create_app(settings, clock=lambda: at["now"])) as site:
        assert requests.get(site + path_of(amina.join_url), timeout=10).status_code == 200
    with pytest.raises(AttendanceNotReady):
        provider.attendance(webinar_id(store))  # still running: nothing to tell yet
    at["now"] = webinar_start + timedelta(days=1)

    assert provider.attendance(webinar_id(store)) == []


def test_deleting_the_webinar_removes_its_panelists(store, provider):
    provider.add_panelists(webinar_id(store), SPEAKERS)

    with store.transaction():
        provider.delete_webinar(webinar_id(store))

    assert provider.panelists(webinar_id(store)) == []
