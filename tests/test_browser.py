"""The pages in a real browser: headless Chromium, driven by Playwright.

The first test is the issue's "done when", as a new organiser would try it: the real
`webinar-ops serve` is running, a visitor in New York registers in the browser, the
confirmation lands in the Maildir, and the visitor's one-click unsubscribe stops the
reminders, which `status` shows. Every page is kept as a screenshot in artefacts/screenshots.
"""

from __future__ import annotations

import email
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from email import policy
from pathlib import Path

import pytest
import requests
from browser import DESKTOP, PHONE, overflows_sideways, screenshot
from conftest import SAMPLE_DEFINITION, TEST_SECRET_KEY

from webinar_ops import times
from webinar_ops.config import known_keys
from webinar_ops.demo import demo_definition

KEYS = known_keys()  # every key webinar-ops reads, its plugins' too

SLUG = "browser-session"


@pytest.fixture
def service(workdir: Path, run) -> Iterator[dict]:
    """A webinar three days ahead, and the real `webinar-ops serve` on a free port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    env = {"WEBINAR_OPS_SECRET_KEY": TEST_SECRET_KEY, "WEBINAR_OPS_BASE_URL": base}
    start = times.in_zone(times.utc_now() + timedelta(days=3), "Asia/Seoul").replace(tzinfo=None, second=0)
    start = start.replace(minute=0, microsecond=0)
    definition = workdir / "browser.toml"
    definition.write_text(
        demo_definition(SAMPLE_DEFINITION.read_text(encoding="utf-8"), SLUG, start, [24 * 60, 60]), encoding="utf-8"
    )
    assert run("webinar", "add", definition, env=env).code == 0
    process = subprocess.Popen(
        [sys.executable, "-m", "webinar_ops", "serve"],
        cwd=workdir,
        env={**{k: v for k, v in os.environ.items() if k not in KEYS}, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(base + "/healthz", process)
        yield {"base": base, "env": env, "outbox": workdir / "data" / "outbox" / "new"}
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_for(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            if process.poll() is not None:
                raise AssertionError(process.stderr.read().decode()) from None
            assert time.monotonic() < deadline, "serve did not answer within 30 s"
            time.sleep(0.1)


def mails_to(outbox: Path, address: str) -> list[email.message.EmailMessage]:
    found = [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted(outbox.iterdir())]
    return [m for m in found if address in str(m["To"])]


def test_a_visitor_registers_gets_the_confirmation_and_unsubscribes_in_one_click(chromium, service, run):
    visitor = chromium.new_context(timezone_id="America/New_York", viewport=DESKTOP)
    page = visitor.new_page()

    page.goto(f"{service['base']}/register/{SLUG}")
    assert page.locator("#time_zone").input_value() == "America/New_York", "pre-filled from the browser's zone"
    assert "your time (America/New_York)" in page.locator("#your-time").inner_text()
    assert page.locator("td.local").first.is_visible(), "the agenda shows the visitor's clock too"
    screenshot(page, "register-desktop")
    page.get_by_label("First name").fill("Rosa")
    page.get_by_label("Last name").fill("Martínez")
    page.get_by_label("Email address").fill("rosa.martinez@example.org")
    page.get_by_label("Organisation").fill("City of Bogotá")
    page.get_by_role("button", name="Register").click()
    page.wait_for_url(f"**/register/{SLUG}")
    assert "Thank you, Rosa" in page.locator("main").inner_text()
    screenshot(page, "registered")

    assert run("run", "--once", env=service["env"]).code == 0
    [confirmation] = mails_to(service["outbox"], "rosa.martinez@example.org")
    assert "your time (America/New_York)" in confirmation.get_body(("plain",)).get_content()
    [one_click] = re.findall(r"<(http://[^>]+/u/[^>]+)>", str(confirmation["List-Unsubscribe"]))

    page.goto(one_click)
    screenshot(page, "unsubscribe")
    page.get_by_role("button", name="Unsubscribe").click()
    assert "no more reminders" in page.locator("body").inner_text()
    screenshot(page, "unsubscribed")
    visitor.close()

    status = run("status", SLUG, "--json", env=service["env"])
    assert json.loads(status.stdout)[0]["unsubscribed"] == 1
    assert "unsubscribed" in run("status", SLUG, env=service["env"]).stdout
    reminded = run("remind", SLUG, "--json", env=service["env"])
    assert reminded.code == 2, reminded.stderr
    assert "1 person: they unsubscribed from the reminders" in reminded.stderr
    assert len(mails_to(service["outbox"], "rosa.martinez@example.org")) == 1, "no reminder after the unsubscribe"


def test_the_form_works_from_the_keyboard_alone(chromium, service):
    page = chromium.new_page(viewport=DESKTOP)
    page.goto(f"{service['base']}/register/{SLUG}")

    focused = []
    for _ in range(40):
        page.keyboard.press("Tab")
        focused.append(page.evaluate("document.activeElement.id || document.activeElement.tagName"))
        if focused[-1] == "submit":
            break

    fields = ["first_name", "last_name", "email", "organisation", "time_zone", "language", "submit"]
    assert [f for f in focused if f in fields] == fields
    assert "leave_empty" not in focused, "the hidden field is out of the way of keyboard users"
    page.close()


def test_every_field_has_a_label_and_errors_are_announced(chromium, service):
    page = chromium.new_page(viewport=DESKTOP)
    page.goto(f"{service['base']}/register/{SLUG}")

    unlabelled = page.evaluate(
        """[...document.querySelectorAll('input:not([type=hidden]), select')]
           .filter(e => !e.labels || e.labels.length === 0).map(e => e.id)"""
    )
    page.get_by_label("Email address").fill("not an address")
    page.get_by_role("button", name="Register").click()
    page.wait_for_selector("#problems")

    assert unlabelled == []
    assert page.evaluate("document.activeElement.id") == "problems", "the list of problems takes the focus"
    assert page.locator("#problems").is_visible()
    assert page.get_by_label("First name").get_attribute("aria-invalid") == "true"
    screenshot(page, "register-errors")
    page.close()


def test_the_page_reads_at_320_pixels_without_sideways_scrolling(chromium, service):
    page = chromium.new_page(viewport=PHONE)
    page.goto(f"{service['base']}/register/{SLUG}")

    assert not overflows_sideways(page)
    assert page.get_by_role("button", name="Register").bounding_box()["width"] <= PHONE["width"]
    screenshot(page, "register-phone")
    page.close()


def test_a_double_click_registers_once(chromium, service, workdir):
    page = chromium.new_page(viewport=DESKTOP)
    page.goto(f"{service['base']}/register/{SLUG}")
    page.get_by_label("First name").fill("Omar")
    page.get_by_label("Email address").fill("omar@example.org")

    page.get_by_role("button", name="Register").dblclick()
    page.wait_for_selector("text=Thank you, Omar")

    with sqlite_rows(workdir) as rows:
        assert rows("SELECT email FROM registrants") == [("omar@example.org",)]
    page.close()


def sqlite_rows(workdir: Path):
    import contextlib
    import sqlite3

    @contextlib.contextmanager
    def opened():
        db = sqlite3.connect(workdir / "data" / "webinar_ops.db")
        try:
            yield lambda sql: db.execute(sql).fetchall()
        finally:
            db.close()

    return opened()
