"""The HTML mail in a real browser: headless Chromium at a phone's and a desktop's width,
and with styles off, as some mail programs and screen readers show it.

The mails are composed the way the service composes them and opened as a mail program
would open their HTML part. Screenshots go to artefacts/screenshots.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from browser import DESKTOP, PHONE, overflows_sideways, screenshot
from conftest import NOW, SAMPLE_DEFINITION, TEST_SECRET_KEY, reader

from webinar_ops.config import Settings
from webinar_ops.definition import load_definition
from webinar_ops.mail.compose import Composer
from webinar_ops.store import Registrant, Store

LUCAS = reader(
    id=7,
    email="lucas.pereira@example.org",
    first_name="Lucas",
    last_name="Pereira",
    time_zone="America/Sao_Paulo",
    language="en",
    join_url="https://webinars.example.org/j/lucas-personal-join-token-0123456789",
)
KINDS = ("confirmation", "reminder")
A_COMMON_PHONE = {"width": 390, "height": 844}
A_NARROW_DESKTOP = {"width": 800, "height": 900}


@pytest.fixture
def composer(store: Store, workdir: Path) -> Composer:
    settings = Settings(
        db_path=workdir / "data" / "test.db", secret_key=TEST_SECRET_KEY, base_url="https://webinars.example.org"
    )
    text = SAMPLE_DEFINITION.read_text(encoding="utf-8")
    record = store.save_webinar(load_definition(SAMPLE_DEFINITION), text, "local", NOW).record
    return Composer(record, settings)


def html_of(composer: Composer, kind: str, lucas: Registrant = LUCAS) -> str:
    return composer.render(kind, lucas, NOW, 60 if kind == "reminder" else None).html


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("width", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_the_mail_fits_the_screen_and_the_join_button_is_in_view(chromium, composer, kind, width, viewport):
    page = chromium.new_page(viewport=viewport)
    page.set_content(html_of(composer, kind))

    assert not overflows_sideways(page)
    join = page.get_by_role("link", name="Join the webinar")
    box = join.bounding_box()
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= viewport["width"]
    assert box["height"] >= 40, "a button a thumb can hit"
    assert join.get_attribute("href") == LUCAS.join_url
    screenshot(page, f"mail-{kind}-{width}")
    page.close()


@pytest.mark.parametrize(("width", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_add_to_calendar_links_say_where_they_go_and_are_in_view(chromium, composer, width, viewport):
    page = chromium.new_page(viewport=viewport)
    page.set_content(html_of(composer, "confirmation"))

    links = {
        "Add to Google Calendar": "https://calendar.google.com/calendar/render?",
        "Add to Outlook on the web (work or school account, Microsoft 365)": "https://outlook.office.com/calendar/",
        "Add to Outlook.com (personal Microsoft account)": "https://outlook.live.com/calendar/",
        "Download the invitation (.ics) for any other calendar": "https://webinars.example.org/c/7.",
    }
    for name, start in links.items():
        link = page.get_by_role("link", name=name)
        assert link.get_attribute("href").startswith(start)
        box = link.bounding_box()
        assert box["x"] + box["width"] <= viewport["width"]
    assert "invite.ics" in page.locator("body").inner_text(), "the attached invite is another way"
    page.close()


def test_the_agenda_is_a_table_with_a_header_for_each_clock(chromium, composer):
    page = chromium.new_page(viewport=DESKTOP)
    page.set_content(html_of(composer, "reminder"))

    headers = page.locator("table th").all_inner_texts()
    first_row = page.locator("table tr").nth(1).locator("td").all_inner_texts()

    assert headers == ["Seoul time\nYour time", "Session"], "the reader's clock under the event's"
    assert first_row[0] == "15:00\n03:00", "15:00 in Seoul is 03:00 in São Paulo"
    page.close()


def agenda_rows(page) -> list[dict]:
    """Where each agenda row's time cell and session cell sit on the page."""
    return page.evaluate(
        """() => [...document.querySelectorAll("table tbody tr")].map(row => {
            const cells = row.querySelectorAll("td");
            const [time, session] = [cells[0], cells[cells.length - 1]].map(c => c.getBoundingClientRect());
            return {time: {x: time.x, y: time.y, width: time.width},
                    session: {x: session.x, y: session.y, width: session.width}};
        })"""
    )


# French clocks read `15 h 00–15 h 45`, a third wider than `15:00–15:45`. DejaVu Sans, which
# stands in for Arial here, is wider than the Arial, Helvetica or Roboto of a phone.
@pytest.mark.parametrize(("language", "least_width"), [("en", 250), ("fr", 215)])
@pytest.mark.parametrize("kind", KINDS)
def test_on_a_phone_the_agenda_gives_each_session_title_most_of_the_width(
    chromium, composer, kind, language, least_width
):
    page = chromium.new_page(viewport=A_COMMON_PHONE)
    page.set_content(html_of(composer, kind, dataclasses.replace(LUCAS, language=language)))

    rows = agenda_rows(page)
    assert len(rows) == 5
    for row in rows:
        assert row["session"]["width"] >= least_width, "a title a reader can read, not a word per line"
    assert page.evaluate("document.documentElement.scrollWidth") <= A_COMMON_PHONE["width"]
    screenshot(page, f"mail-{kind}-{language}-agenda-390")
    page.close()


@pytest.mark.parametrize("kind", KINDS)
def test_on_a_desktop_the_agenda_keeps_the_times_beside_each_session(chromium, composer, kind):
    page = chromium.new_page(viewport=A_NARROW_DESKTOP)
    page.set_content(html_of(composer, kind))

    for row in agenda_rows(page):
        assert row["time"]["y"] == row["session"]["y"], "the time and the title start on one line"
        assert row["time"]["x"] + row["time"]["width"] <= row["session"]["x"]
        assert row["session"]["width"] >= 400
    assert not overflows_sideways(page)
    screenshot(page, f"mail-{kind}-agenda-800")
    page.close()


def test_the_mail_reads_in_order_with_styles_off(chromium, composer):
    unstyled = re.sub(r'\sstyle="[^"]*"', "", html_of(composer, "reminder"))
    page = chromium.new_page(viewport=DESKTOP)
    page.set_content(unstyled)

    headings = page.locator("h1, h2").all_inner_texts()
    text = page.locator("body").inner_text()

    assert headings[0].startswith("Strengthening Data Governance")
    assert headings[1:4] == ["When", "Join", "Agenda"]
    assert text.index("your time (America/Sao_Paulo)") < text.index("Join the webinar")
    assert page.get_by_role("link", name="Join the webinar").is_visible()
    assert page.locator("img").count() == 0, "nothing depends on images being shown"
    screenshot(page, "mail-reminder-unstyled")
    page.close()
