"""When registration opens and closes (`[registration] opens` and `closes`): the definition's
checks, the registration page (and the local provider's link to it), the command line, and
Zoom's own page (`settings.close_registration`) against the local Zoom."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from conftest import NOW, SAMPLE_DEFINITION, SAMPLE_SLUG, TEST_SECRET_KEY, definition_variant
from test_zoom import zoom_settings
from zoom_openapi import SPEC_PATH, check_exchange, load_zoom_openapi

from webinar_ops.config import Settings
from webinar_ops.definition import load_definition
from webinar_ops.errors import InputError
from webinar_ops.providers import load_provider
from webinar_ops.providers.zoom.standin import FakeZoom, ZoomRefusal
from webinar_ops.store import Store
from webinar_ops.sync import sync_webinar
from webinar_ops.web import create_app

# The sample starts on 2021-04-30 at 15:00 Seoul time (06:00 UTC) and lasts 90 minutes.
START = datetime(2021, 4, 30, 6, 0, tzinfo=UTC)
OPENS, CLOSES = "2021-04-05 09:00", "2021-04-29 18:00"  # Seoul time: 00:00 UTC, 09:00 UTC


def with_window(folder: Path, table: str, name: str = "window.toml") -> Path:
    """The sample with a `[registration]` table of `table`'s lines."""
    text = SAMPLE_DEFINITION.read_text(encoding="utf-8") + f"\n[registration]\n{table}\n"
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path) -> list:
    with pytest.raises(InputError) as caught:
        load_definition(path)
    return caught.value.problems


# -- the definition -------------------------------------------------------------------------


def test_opens_and_closes_are_wall_times_in_the_webinars_zone(tmp_path):
    options = load_definition(with_window(tmp_path, f'opens = "{OPENS}"\ncloses = "{CLOSES}"')).registration

    assert options.opens == datetime(2021, 4, 5, 0, 0, tzinfo=UTC)
    assert options.closes == datetime(2021, 4, 29, 9, 0, tzinfo=UTC)
    assert not options.closes_at_start
    assert options.window(datetime(2021, 4, 4, 23, 59, tzinfo=UTC)) == "not_open"
    assert options.window(datetime(2021, 4, 5, 0, 0, tzinfo=UTC)) == "open"
    assert options.window(datetime(2021, 4, 29, 9, 0, tzinfo=UTC)) == "closed"


def test_without_the_table_registration_is_open_until_the_end(sample):
    assert (sample.registration.opens, sample.registration.closes) == (None, None)
    assert sample.registration.window(START + timedelta(minutes=80)) == "open"


def test_closes_start_follows_the_webinar_when_it_moves(tmp_path):
    path = with_window(tmp_path, 'closes = "start"')
    first = load_definition(path).registration
    moved = path.read_text(encoding="utf-8").replace('"2021-04-30 15:00"', '"2021-05-07 15:00"')
    path.write_text(moved, encoding="utf-8")

    assert (first.closes, first.closes_at_start) == (START, True)
    assert load_definition(path).registration.closes == START + timedelta(days=7)


def test_a_closing_before_the_opening_is_refused_with_the_fix(tmp_path):
    path = with_window(tmp_path, f'opens = "{CLOSES}"\ncloses = "{OPENS}"')
    (problem,) = problems_of(path)

    assert problem.field == "registration.closes"
    assert problem.message == "is not after opens"
    assert problem.line == path.read_text(encoding="utf-8").splitlines().index(f'closes = "{OPENS}"') + 1
    assert problem.fix


def test_a_closing_after_the_end_is_refused_naming_the_end(tmp_path):
    (problem,) = problems_of(with_window(tmp_path, 'closes = "2021-04-30 17:00"'))

    assert problem.field == "registration.closes"
    assert "after the webinar ends" in problem.message
    assert "2021-04-30 16:30 Asia/Seoul" in problem.fix


def test_an_opening_after_the_end_is_refused(tmp_path):
    (problem,) = problems_of(with_window(tmp_path, 'opens = "2021-05-01 09:00"'))

    assert (problem.field, problem.message) == ("registration.opens", "is not before the webinar ends")


def test_a_closing_in_the_hour_clocks_skip_is_refused(tmp_path):
    path = definition_variant(
        tmp_path,
        {'"2021-04-30 15:00"': '"2021-04-02 15:00"', '"Asia/Seoul"': '"Europe/Paris"'},
    )
    path.write_text(path.read_text(encoding="utf-8") + '\n[registration]\ncloses = "2021-03-28 02:30"\n')
    (problem,) = problems_of(path)

    assert problem.field == "registration.closes"
    assert "does not exist in Europe/Paris" in problem.message
    assert "skipped hour" in problem.fix


def test_a_closing_with_a_zone_of_its_own_is_refused_as_no_time(tmp_path):
    (problem,) = problems_of(with_window(tmp_path, 'closes = "2021-04-29 18:00 Mars/Olympus"'))

    assert problem.field == "registration.closes"
    assert "is not a date and time" in problem.message
    assert "time_zone" in problem.fix


def test_a_misspelt_key_of_the_table_suggests_the_right_one(tmp_path):
    (problem,) = problems_of(with_window(tmp_path, f'close = "{CLOSES}"'))

    assert problem.field == "registration.close"
    assert "`closes`" in problem.fix


# -- the registration page ------------------------------------------------------------------


@pytest.fixture
def page_settings(workdir: Path) -> Settings:
    return Settings(db_path=workdir / "data" / "test.db", secret_key=TEST_SECRET_KEY)


def client_at(settings: Settings, definition: Path, now: datetime):
    """The web service at `now`, over the webinar of `definition`, held by the local provider."""
    with Store.open(settings.db_path) as store:
        store.save_webinar(load_definition(definition), definition.read_text(encoding="utf-8"), "local", NOW)
        sync_webinar(store, load_provider("local", settings, store), store.webinar(SAMPLE_SLUG), NOW)
    return create_app(settings, clock=lambda: now).test_client()


FORM = {"first_name": "Mei", "email": "mei@example.org"}
SAME_SITE = {"Sec-Fetch-Site": "same-origin"}


def registered(settings: Settings) -> list[str]:
    with Store.open(settings.db_path) as store:
        return [row.email for row in store.registrants(store.webinar(SAMPLE_SLUG).id)]


def test_before_the_opening_the_page_says_when_on_both_clocks_and_takes_nobody(page_settings, tmp_path):
    client = client_at(page_settings, with_window(tmp_path, f'opens = "{OPENS}"'), NOW)

    page = client.get(f"/register/{SAMPLE_SLUG}")
    sent = client.post(f"/register/{SAMPLE_SLUG}", data=FORM, headers=SAME_SITE)

    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Registration is not open yet" in text
    assert "Monday 5 April 2021, 09:00 Seoul time (GMT+9)" in text
    assert 'data-moment="2021-04-05T00:00:00Z"' in text, "the instant register.js puts on the visitor's clock"
    assert 'name="email"' not in text
    assert sent.status_code == 403
    assert registered(page_settings) == []


def test_once_open_the_form_registers_as_before(page_settings, tmp_path):
    client = client_at(
        page_settings, with_window(tmp_path, f'opens = "{OPENS}"\ncloses = "{CLOSES}"'), NOW.replace(day=10)
    )

    assert client.post(f"/register/{SAMPLE_SLUG}", data=FORM, headers=SAME_SITE).status_code == 200
    assert registered(page_settings) == ["mei@example.org"]


def test_after_the_closing_the_page_is_gone_with_a_page_of_its_own(page_settings, tmp_path):
    closed = datetime(2021, 4, 29, 9, 0, tzinfo=UTC)
    client = client_at(page_settings, with_window(tmp_path, f'closes = "{CLOSES}"'), closed)

    page = client.get(f"/register/{SAMPLE_SLUG}")
    sent = client.post(f"/register/{SAMPLE_SLUG}", data=FORM, headers=SAME_SITE)

    assert page.status_code == sent.status_code == 410
    text = page.get_data(as_text=True)
    assert "Registration has closed" in text
    assert "Thursday 29 April 2021, 18:00 Seoul time (GMT+9)" in text
    assert 'data-moment="2021-04-29T09:00:00Z"' in text
    assert registered(page_settings) == []


def test_closes_start_closes_the_page_at_the_start_not_the_end(page_settings, tmp_path):
    client = client_at(page_settings, with_window(tmp_path, 'closes = "start"'), START + timedelta(minutes=1))

    assert client.get(f"/register/{SAMPLE_SLUG}").status_code == 410


def test_the_local_providers_own_link_leads_to_the_closed_page(page_settings, tmp_path):
    client = client_at(page_settings, with_window(tmp_path, f'closes = "{CLOSES}"'), START)
    with Store.open(page_settings.db_path) as store:
        link = store.webinar(SAMPLE_SLUG).registration_url

    answer = client.get("/r/" + link.rsplit("/", 1)[1], follow_redirects=True)

    assert answer.status_code == 410
    assert "Registration has closed" in answer.get_data(as_text=True)


# -- the command line -----------------------------------------------------------------------


@pytest.fixture
def closed_webinar(run, workdir):
    """The sample, moved ahead of now, whose registration closed yesterday: added by the CLI."""
    now = datetime.now(UTC)
    start = (now + timedelta(days=10)).strftime("%Y-%m-%d 15:00")
    closes = (now - timedelta(days=2)).strftime("%Y-%m-%d 12:00")  # Seoul's clock: a day or two ago
    path = definition_variant(workdir, {'"2021-04-30 15:00"': f'"{start}"'}, name="closed.toml")
    path.write_text(path.read_text(encoding="utf-8") + f'\n[registration]\ncloses = "{closes}"\n', encoding="utf-8")
    assert run("init").code == 0
    added = run("webinar", "add", str(path))
    assert added.code == 0, added.stderr
    return path


ADD = ("registrants", "add", SAMPLE_SLUG, "--email", "late@example.org", "--first-name", "Late")


def test_adding_someone_after_the_closing_needs_force(run, closed_webinar):
    refused = run(*ADD)
    forced = run(*ADD, "--force")
    listed = run("registrants", "list", SAMPLE_SLUG, "--json").json()

    assert refused.code == 2
    assert "registration for undesa-snu-session-5 closed on" in refused.stderr
    assert "--force" in refused.stderr
    assert forced.code == 0, forced.stderr
    assert "warning: registration for undesa-snu-session-5 closed on" in forced.stderr
    assert [row["email"] for row in listed] == ["late@example.org"]


def test_changing_someone_already_registered_needs_no_force(run, closed_webinar):
    assert run(*ADD, "--force").code == 0

    again = run(*ADD, "--last-name", "Comer")

    assert again.code == 0, again.stderr
    assert "updated" in again.stdout


def test_an_import_after_the_closing_needs_force_and_writes_nothing_without_it(run, closed_webinar, write):
    people = write("email,first_name\nana@example.org,Ana\nben@example.org,Ben\n")

    dry = run("registrants", "import", SAMPLE_SLUG, str(people), "--dry-run")
    refused = run("registrants", "import", SAMPLE_SLUG, str(people))
    before = run("registrants", "list", SAMPLE_SLUG, "--json").json()
    forced = run("registrants", "import", SAMPLE_SLUG, str(people), "--force", "--json")

    assert dry.code == 0
    assert "needs --force" in dry.stderr
    assert refused.code == 2
    assert "Nobody was added" in refused.stderr
    assert before == []
    assert forced.code == 0, forced.stderr
    assert forced.json()["added"] == 2
    assert "warning:" in forced.stderr


def test_show_says_when_registration_closes(run, closed_webinar):
    shown = run("webinar", "show", SAMPLE_SLUG)

    assert shown.code == 0
    assert re.search(r"Registration closes: \w{3} \d{2} \w{3} \d{4} 12:00 Seoul time \(\S+Z\)", shown.stdout)


def test_status_says_when_registration_closed(run, closed_webinar):
    shown = run("status", SAMPLE_SLUG)
    data = run("status", SAMPLE_SLUG, "--json").json()[0]["registration"]

    assert "registration: closed; closes" in shown.stdout
    assert data["now"] == "closed"
    assert data["closes"].endswith("Z")
    assert data["opens"] is None


# -- Zoom -----------------------------------------------------------------------------------

ZOOM_NOW = datetime(2031, 4, 1, 9, 0, tzinfo=UTC)
ZOOM_START = datetime(2031, 4, 30, 6, 0, tzinfo=UTC)


def zoom_webinar(store: Store, folder: Path, table: str):
    text = SAMPLE_DEFINITION.read_text(encoding="utf-8").replace('"2021-04-30 15:00"', '"2031-04-30 15:00"')
    path = folder / "zoom.toml"
    path.write_text(text + f"\n[registration]\n{table}\n", encoding="utf-8")
    return store.save_webinar(load_definition(path), path.read_text(encoding="utf-8"), "zoom", ZOOM_NOW).record


@pytest.fixture
def zoom_clock():
    return [time.time()]


@pytest.fixture
def zoom(zoom_clock):
    with FakeZoom(plan="business", seed=7, clock=lambda: zoom_clock[0]) as fake:
        yield fake


def test_closes_start_closes_zooms_own_page_at_the_start(zoom, zoom_clock, tmp_path):
    settings = zoom_settings(zoom, tmp_path / "zoom.db")
    with Store.open(settings.db_path) as store:
        webinar = zoom_webinar(store, tmp_path, 'closes = "start"')
        sync_webinar(store, load_provider("zoom", settings, store), webinar, ZOOM_NOW)
    [held] = zoom.state()["webinars"]

    zoom.add_registrant_from_zoom_page(held["id"], email="early@example.org", first_name="Early")
    zoom_clock[0] = (ZOOM_START + timedelta(minutes=1)).timestamp()
    with pytest.raises(ZoomRefusal) as refused:
        zoom.add_registrant_from_zoom_page(held["id"], email="late@example.org", first_name="Late")

    assert zoom.webinar(held["id"])["settings"]["close_registration"] is True
    assert "closed" in str(refused.value)
    assert [r["email"] for r in zoom.registrants(held["id"])] == ["early@example.org"]


def test_a_closing_after_the_start_leaves_zooms_page_open_and_a_change_is_sent(zoom, tmp_path):
    settings = zoom_settings(zoom, tmp_path / "zoom.db")
    with Store.open(settings.db_path) as store:
        webinar = zoom_webinar(store, tmp_path, 'closes = "2031-04-30 15:30"')
        provider = load_provider("zoom", settings, store)
        sync_webinar(store, provider, webinar, ZOOM_NOW)
        [held] = zoom.state()["webinars"]
        late_open = zoom.webinar(held["id"])["settings"]["close_registration"]
        moved = zoom_webinar(store, tmp_path, 'closes = "start"')  # a new closing: the next sync compares
        report = sync_webinar(store, provider, moved, ZOOM_NOW)

    assert late_open is False, "Zoom closes after the event date: it would close before webinar-ops does"
    assert report.published == "updated"
    assert zoom.webinar(held["id"])["settings"]["close_registration"] is True


def test_the_create_and_update_carrying_close_registration_match_zooms_document(zoom, tmp_path):
    openapi = load_zoom_openapi(SPEC_PATH)
    settings = zoom_settings(zoom, tmp_path / "zoom.db")
    with Store.open(settings.db_path) as store:
        provider = load_provider("zoom", settings, store)
        exchanges: list[requests.Response] = []
        provider.client.session.hooks["response"].append(lambda response, *args, **kwargs: exchanges.append(response))
        sync_webinar(store, provider, zoom_webinar(store, tmp_path, 'closes = "2031-04-30 15:30"'), ZOOM_NOW)
        sync_webinar(store, provider, zoom_webinar(store, tmp_path, 'closes = "start"'), ZOOM_NOW)

    writes = [r for r in exchanges if r.request.method in ("POST", "PATCH") and "/registrants" not in r.url]
    assert {r.request.method for r in writes} == {"POST", "PATCH"}
    for response in exchanges:
        if response.url.startswith(zoom.api_url):
            check_exchange(openapi, response, request_valid=True)


# -- in a real browser ----------------------------------------------------------------------


def test_in_a_browser_the_opening_shows_on_the_visitors_clock_too(chromium, page_settings, tmp_path):
    from browser import DESKTOP, screenshot
    from web_server import serving

    client_at(page_settings, with_window(tmp_path, f'opens = "{OPENS}"'), NOW)  # the webinar, stored
    visitor = chromium.new_context(timezone_id="America/New_York", viewport=DESKTOP)
    page = visitor.new_page()
    with serving(create_app(page_settings, clock=lambda: NOW)) as base:
        page.goto(f"{base}/register/{SAMPLE_SLUG}")
        page.wait_for_load_state("load")
        text = page.locator("main").inner_text()
        mine = page.locator(".your-moment")
        shown = mine.inner_text() if mine.is_visible() else None
        screenshot(page, "registration-not-open")
    visitor.close()

    assert "Registration opens on Monday 5 April 2021, 09:00 Seoul time (GMT+9)" in text
    assert shown == "Sunday 4 April 2021, 20:00 your time (America/New_York)"
