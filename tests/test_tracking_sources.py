"""Where people came from: `/register/SLUG?source=newsletter`, kept through the form, stored as
the registrant's `tracking_source`, checked as a short token, and counted by `status`."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import requests
from conftest import NOW, SAMPLE_DEFINITION, SAMPLE_SLUG, TEST_SECRET_KEY
from test_zoom import zoom_settings
from zoom_openapi import SPEC_PATH, check_exchange, load_zoom_openapi

from webinar_ops import validate
from webinar_ops.config import Settings
from webinar_ops.definition import load_definition, parse_definition
from webinar_ops.providers import load_provider
from webinar_ops.providers.zoom.client import source_token
from webinar_ops.providers.zoom.standin import FakeZoom
from webinar_ops.store import Store
from webinar_ops.sync import sync_webinar
from webinar_ops.web import create_app

PAGE = f"/register/{SAMPLE_SLUG}"
SAME_SITE = {"Sec-Fetch-Site": "same-origin"}


@pytest.fixture
def client(settings: Settings):
    with Store.open(settings.db_path) as store:
        store.save_webinar(
            load_definition(SAMPLE_DEFINITION), SAMPLE_DEFINITION.read_text(encoding="utf-8"), "local", NOW
        )
        sync_webinar(store, load_provider("local", settings, store), store.webinar(SAMPLE_SLUG), NOW)
    return create_app(settings, clock=lambda: NOW).test_client()


def sources(settings: Settings) -> dict[str, str | None]:
    with Store.open(settings.db_path) as store:
        return {row.email: row.tracking_source for row in store.registrants(store.webinar(SAMPLE_SLUG).id)}


def register(client, email: str, query: str = "", hidden: str | None = None) -> int:
    """Open the page at `PAGE + query`, then send its form as the browser does (to the same
    address, with the hidden fields the page holds, or `hidden` as the source field)."""
    page = client.get(PAGE + query).get_data(as_text=True)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    if hidden is not None:
        fields["source"] = hidden
    answer = client.post(PAGE + query, data={**fields, "first_name": "Ana", "email": email}, headers=SAME_SITE)
    return answer.status_code


def test_the_source_of_the_link_is_kept_through_the_form_and_stored(client, settings):
    page = client.get(PAGE + "?source=Newsletter").get_data(as_text=True)

    assert '<input type="hidden" name="source" value="newsletter">' in page
    assert register(client, "ana@example.org", "?source=Newsletter") == 200
    assert sources(settings) == {"ana@example.org": "newsletter"}


def test_the_form_carries_the_source_even_when_posted_to_the_bare_address(client, settings):
    page = client.get(PAGE + "?source=un-news.2026").get_data(as_text=True)
    [hidden] = re.findall(r'name="source" value="([^"]*)"', page)
    sent = client.post(
        PAGE, data={"source": hidden, "first_name": "Ana", "email": "ana@example.org"}, headers=SAME_SITE
    )

    assert sent.status_code == 200
    assert sources(settings) == {"ana@example.org": "un-news.2026"}


@pytest.mark.parametrize(
    "source",
    ['"><script>alert(1)</script>', "news letter", "a" * 41, "café", "\u212aelvin", "x\ny", "https://evil.example/x"],
)
def test_a_source_that_is_not_a_short_token_is_dropped_and_never_shown(client, settings, source):
    from urllib.parse import quote

    page = client.get(PAGE + "?source=" + quote(source)).get_data(as_text=True)

    assert 'name="source"' not in page
    assert "<script>alert" not in page
    assert register(client, "ana@example.org", hidden=source) == 200
    assert sources(settings) == {"ana@example.org": None}, "the person registers; the source is dropped"


def test_the_local_providers_link_passes_a_good_source_on_and_drops_a_bad_one(client, settings):
    with Store.open(settings.db_path) as store:
        local_id = store.webinar(SAMPLE_SLUG).registration_url.rsplit("/", 1)[1]

    good = client.get(f"/r/{local_id}?source=Newsletter")
    bad = client.get(f"/r/{local_id}?source=%3Cscript%3E")

    assert good.status_code == bad.status_code == 302
    assert good.headers["Location"].endswith(f"{PAGE}?source=newsletter")
    assert bad.headers["Location"].endswith(PAGE)


def test_without_a_source_nothing_is_stored(client, settings):
    assert register(client, "ana@example.org") == 200
    assert sources(settings) == {"ana@example.org": None}


def test_the_command_line_keeps_a_source_and_refuses_a_bad_one_clearly(run):
    assert run("init").code == 0
    assert run("webinar", "add", str(SAMPLE_DEFINITION)).code == 0
    add = ("registrants", "add", SAMPLE_SLUG, "--email", "ana@example.org", "--first-name", "Ana")

    refused = run(*add, "--source", "<b>news</b>")
    kept = run(*add, "--source", "Flyer")
    listed = run("registrants", "list", SAMPLE_SLUG, "--json").json()

    assert refused.code == 2
    assert "--source" in refused.stderr
    assert "is not a source" in refused.stderr
    assert kept.code == 0, kept.stderr
    assert [(row["email"], row["tracking_source"]) for row in listed] == [("ana@example.org", "flyer")]


def test_a_source_is_checked_as_a_token_in_lower_case():
    assert validate.tracking_source(" Twitter_2026 ") == "twitter_2026"
    for bad in ("", "a b", "x" * 41, "\u212a", "é", "<b>"):
        with pytest.raises(ValueError, match="is not a source"):
            validate.tracking_source(bad)


def test_status_counts_registrants_by_source(client, settings, workdir, run):
    for email, query in (("a@example.org", "?source=newsletter"), ("b@example.org", "?source=newsletter")):
        assert register(client, email, query) == 200
    assert register(client, "c@example.org", "?source=twitter") == 200
    assert register(client, "d@example.org") == 200
    env = {"WEBINAR_OPS_DB": str(settings.db_path), "WEBINAR_OPS_SECRET_KEY": TEST_SECRET_KEY}

    shown = run("status", SAMPLE_SLUG, env=env)
    data = run("status", SAMPLE_SLUG, "--json", env=env).json()[0]["sources"]

    assert shown.code == 0, shown.stderr
    assert "came from: newsletter 2, no source 1, twitter 1" in shown.stdout
    assert data == [
        {"source": "newsletter", "registrants": 2},
        {"source": None, "registrants": 1},
        {"source": "twitter", "registrants": 1},
    ]


# -- Zoom's tracking sources -------------------------------------------------------------------

ZOOM_NOW = datetime(2031, 4, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def zoom():
    with FakeZoom(plan="business", seed=7) as fake:
        yield fake


def test_a_zoom_sign_up_through_a_tracking_link_comes_in_with_that_source(zoom, tmp_path):
    openapi = load_zoom_openapi(SPEC_PATH)
    settings = zoom_settings(zoom, tmp_path / "zoom.db")
    text = SAMPLE_DEFINITION.read_text(encoding="utf-8").replace('"2021-04-30 15:00"', '"2031-04-30 15:00"')
    with Store.open(settings.db_path) as store:
        webinar = store.save_webinar(parse_definition(text, "zoom.toml"), text, "zoom", ZOOM_NOW).record
        provider = load_provider("zoom", settings, store)
        exchanges: list[requests.Response] = []
        provider.client.session.hooks["response"].append(lambda response, *args, **kwargs: exchanges.append(response))
        sync_webinar(store, provider, webinar, ZOOM_NOW)
        held = store.webinar(SAMPLE_SLUG).provider_webinar_id
        linkedin = zoom.add_tracking_source(held, "LinkedIn")
        zoom.add_tracking_source(held, "UN Newsletter (Dec.)")
        zoom.add_registrant_from_zoom_page(held, email="lin@example.org", first_name="Lin", source_id=linkedin["id"])
        zoom.add_registrant_from_zoom_page(held, email="pat@example.org", first_name="Pat")
        report = sync_webinar(store, provider, store.webinar(SAMPLE_SLUG), ZOOM_NOW)
        found = {row.email: row.tracking_source for row in store.registrants(webinar.id)}

    assert report.pulled_new == 2
    assert found == {"lin@example.org": "linkedin", "pat@example.org": None}
    narrowed = [r for r in exchanges if "tracking_source_id=" in r.url]
    assert narrowed, "each source's registrants are listed on their own"
    assert any(r.url.endswith("/tracking_sources") for r in exchanges)
    for response in exchanges:
        if response.url.startswith(zoom.api_url):
            check_exchange(openapi, response, request_valid=True)


def test_a_zoom_source_name_becomes_a_short_token():
    assert source_token("LinkedIn") == "linkedin"
    assert source_token("UN Newsletter (Dec.)") == "un-newsletter-dec"
    assert source_token("https://example.com") == "https-example.com"
    assert source_token("社交媒体") is None
    assert source_token(None) is None
    assert len(source_token("x" * 100)) == 40
