"""The report, as an organiser makes it after a webinar: `webinar-ops report SLUG` with
--json, --csv and --html, and --series for the sessions of one series side by side.

The webinar here is the sample, held in full: thirteen people from three countries registered
over four days (two from Kenya, a category too small to be shown by name), their mail went
through a real SMTP server on loopback (one address refused for good: a bounce), one person
unsubscribed and one cancelled, and attendance was recorded through `attendance.match`. Every
figure the report gives is counted again here with SQL of the test's own.
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import SAMPLE_DEFINITION, SAMPLE_SLUG, TEST_SECRET_KEY, definition_variant
from smtp_servers import smtp_server

from webinar_ops.attendance import Join, match
from webinar_ops.config import Settings
from webinar_ops.definition import load_definition
from webinar_ops.deliver import send_due
from webinar_ops.plan import plan_webinar
from webinar_ops.providers import load_provider
from webinar_ops.registrants import add_person
from webinar_ops.store import Store
from webinar_ops.sync import sync_webinar
from webinar_ops.transports.smtp import SmtpTransport

START = datetime(2021, 4, 30, 6, 0, tzinfo=UTC)  # the sample: 15:00 in Seoul, for 90 minutes
OPENED = datetime(2021, 4, 26, 0, 30, tzinfo=UTC)  # registration's first day, 09:30 in Seoul
ENV = {"WEBINAR_OPS_SECRET_KEY": TEST_SECRET_KEY}
BOUNCING = "kofi.boateng@example.org"

# (address, first name, country, organisation, time zone, language, day after OPENED, minutes attended)
PEOPLE = [
    ("ji-woo.kim@example.org", "Ji-woo", "KR", "UN DESA", "Asia/Seoul", "en", 0, 90),
    ("min-jun.lee@example.org", "Min-jun", "KR", "UN DESA", "Asia/Seoul", "en", 0, 85),
    ("seo-yeon.park@example.org", "Seo-yeon", "KR", "UN DESA", "Asia/Seoul", "ko", 1, 60),
    ("do-hyun.choi@example.org", "Do-hyun", "KR", "UN DESA", "Asia/Seoul", "en", 1, 40),
    ("ha-eun.jung@example.org", "Ha-eun", "KR", "UN DESA", "Asia/Seoul", "en", 2, None),
    ("ye-jin.kang@example.org", "Ye-jin", "KR", "UN DESA", "Asia/Seoul", "en", 3, 10),
    ("amelie.laurent@example.org", "Amélie", "FR", "Sciences Po", "Europe/Paris", "fr", 0, 30),
    ("louis.martin@example.org", "Louis", "FR", "Sciences Po", "Europe/Paris", "fr-CA", 1, 75),
    ("chloe.bernard@example.org", "Chloé", "FR", "Sciences Po", "Europe/Paris", "fr", 2, None),
    ("hugo.petit@example.org", "Hugo", "FR", "Sciences Po", "Europe/Paris", "fr", 3, 55),
    ("lea.dubois@example.org", "Léa", "FR", "Sciences Po", "Europe/Paris", "fr", 3, None),
    ("wanjiru.kamau@example.org", "Wanjiru", "KE", "Kenya School of Government", "Africa/Nairobi", "en", 3, 20),
    (BOUNCING, "Kofi", "KE", "Kenya School of Government", "Africa/Nairobi", "en", 3, None),
]
EMAILS = [person[0] for person in PEOPLE]
SMALL = {"KE", "Kenya School of Government", "Africa/Nairobi"}  # two people each: shown as "other"


@pytest.fixture
def settings(workdir: Path) -> Settings:
    """The settings the command line reads in the project folder (its default database)."""
    return Settings(db_path=workdir / "data" / "webinar_ops.db", secret_key=TEST_SECRET_KEY)


def register_and_send(store: Store, settings: Settings, slug: str, server, people=PEOPLE) -> None:
    """Register `people` day by day, sending what falls due each day; then the 1-day reminder."""
    record = store.webinar(slug)
    provider = load_provider("local", settings, store)
    transport = SmtpTransport(server.host, server.port, security="none", timeout=5)
    for day in range(4):
        at = OPENED + timedelta(days=day)
        for email, first, country, organisation, zone, language, on, _ in people:
            if on == day:
                values = {"email": email, "first_name": first, "last_name": "Tester", "country": country}
                values |= {"organisation": organisation, "time_zone": zone, "language": language}
                add_person(store, record, values, at, source="newsletter" if on < 2 else None)
        sync_webinar(store, provider, store.webinar(slug), at)
        plan_webinar(store, store.webinar(slug), at, settings.mail_domain)
        send_due(store, settings, transport, clock=lambda at=at: at + timedelta(minutes=1))
    reminder = store.webinar(slug).definition.start - timedelta(days=1, minutes=-1)
    send_due(store, settings, transport, clock=lambda: reminder)


@pytest.fixture
def held(store: Store, settings: Settings, sample) -> Store:
    """The sample webinar, held: registrations, mail (one bounce), an unsubscribe, a
    cancellation, and attendance recorded."""
    store.save_webinar(sample, SAMPLE_DEFINITION.read_text(encoding="utf-8"), "local", OPENED - timedelta(days=1))
    with smtp_server() as server:
        server.handler.reject(BOUNCING)
        register_and_send(store, settings, SAMPLE_SLUG, server)
    record = store.webinar(SAMPLE_SLUG)
    lea = store.registrant(record.id, "lea.dubois@example.org")
    store.update_registrant(lea.id, {"status": "cancelled"}, START - timedelta(hours=3))
    store.unsubscribe(store.registrant(record.id, "chloe.bernard@example.org").id, START - timedelta(hours=2))
    joins = [Join(email, joined_at=START, minutes=minutes) for email, *_, minutes in PEOPLE if minutes is not None]
    joins.append(Join("ji-woo.kim@example.org", joined_at=START + timedelta(minutes=95), minutes=0))
    matched = match(store.attendance_candidates(record.id), joins)
    store.record_attendance(record.id, matched.present, "import", START + timedelta(hours=3), matched.unmatched)
    return store


def one(store: Store, sql: str, *params):
    return store.db.execute(sql, params).fetchone()[0]


def by_value(store: Store, column: str) -> dict[str, int]:
    sql = f"SELECT {column}, count(*) FROM registrants GROUP BY {column}"
    return dict(store.db.execute(sql).fetchall())


# -- JSON ----------------------------------------------------------------------------------------


def test_the_json_report_gives_the_figures_the_database_holds(held: Store, run):
    ran = run("report", SAMPLE_SLUG, "--json", env=ENV)
    assert ran.code == 0, ran.stderr
    report = ran.json()
    assert (report["schema"], report["report"], report["slug"]) == (1, "webinar", SAMPLE_SLUG)

    assert report["registrations"]["total"] == one(held, "SELECT count(*) FROM registrants") == 13
    days = report["registrations"]["by_day"]
    assert [d["registrations"] for d in days[:4]] == [3, 3, 2, 5]
    assert days[-1]["cumulative"] == 13
    sent_kinds = {row["kind"]: row["sent"] for row in report["registrations"]["mail_sent"]}
    sql = "SELECT kind, count(*) FROM deliveries WHERE state = 'sent' GROUP BY kind"
    assert sent_kinds == dict(held.db.execute(sql).fetchall())
    assert "reminder-1d" in sent_kinds

    statuses = report["statuses"]
    for status, count in by_value(held, "status").items():
        assert statuses[status] == count
    assert statuses["cancelled"] == 1
    assert statuses["unsubscribed"] == one(held, "SELECT count(*) FROM registrants WHERE unsubscribed_at IS NOT NULL")

    breakdowns = {b["name"]: b for b in report["breakdowns"]}
    countries = {c["category"]: c["people"] for c in breakdowns["country"]["counts"]}
    assert countries == {"KR": 6, "FR": 5, "other": 2}
    assert breakdowns["country"]["grouped"] == 1
    zones = {c["category"]: c["people"] for c in breakdowns["time_zone"]["counts"]}
    assert zones == {"Asia/Seoul": 6, "Europe/Paris": 5, "other": 2}
    given = {c["category"]: c["people"] for c in breakdowns["language"]["counts"]}
    assert given == {"en": 7, "other": 6}  # fr (4), fr-CA and ko (one each): each fewer than 5
    assert breakdowns["language"]["grouped"] == 3
    read = {c["category"]: c["people"] for c in breakdowns["language_read"]["counts"]}
    assert read == {"English (en)": 8, "Français (fr)": 5}  # ko reads English, fr-CA reads French
    sources = {c["category"]: c["people"] for c in breakdowns["tracking_source"]["counts"]}
    assert sources == {"not given": 7, "newsletter": 6}

    mail = {row["kind"]: row for row in report["mail"]["kinds"]}
    sql = "SELECT kind, state, count(*) FROM deliveries GROUP BY kind, state"
    for kind, state, count in held.db.execute(sql).fetchall():
        assert mail[kind][state] == count
    bounced = "SELECT count(*) FROM deliveries WHERE state = 'failed' AND last_error LIKE '550 %'"
    assert report["mail"]["bounced"] == one(held, bounced) == 1  # the confirmation: the address is then suppressed
    assert mail["confirmation"]["bounced"] == 1
    suppressed = "SELECT count(*) FROM deliveries WHERE state = 'skipped' AND reason LIKE 'the address is suppressed:%'"
    assert one(held, suppressed) >= 1, "the reminder to the refused address was not tried again"

    attendance = report["attendance"]
    attended = one(held, "SELECT count(*) FROM attendance WHERE attended = 1")
    approved = one(held, "SELECT count(*) FROM registrants WHERE status = 'approved'")
    assert (attendance["known"], attendance["attended"], attendance["expected"]) == (True, attended, approved)
    assert attendance["rate"] == pytest.approx(attended / approved)
    assert attendance["minutes"] == one(held, "SELECT sum(minutes) FROM attendance WHERE attended = 1") == 465
    assert sum(bar["people"] for bar in attendance["histogram"]) == attended
    assert [bar["people"] for bar in attendance["histogram"]] == [1, 1, 2, 1, 1, 2, 1]  # 15-minute bars, 0 to 105

    agenda = report["agenda"]
    assert agenda[1]["time"] == "15:00–15:45"
    assert (
        "Mr. Keping Yao, Senior Governance and Public Administration Expert, UNPOG/DPIDG/UN DESA"
        in agenda[1]["speakers"]
    )
    assert report["people"] is None


def test_before_attendance_is_known_the_report_says_so(store: Store, sample, run):
    store.save_webinar(sample, SAMPLE_DEFINITION.read_text(encoding="utf-8"), "local", OPENED)
    report = run("report", SAMPLE_SLUG, "--json", env=ENV).json()
    assert report["attendance"]["known"] is False
    assert report["attendance"]["rate"] is None
    assert report["registrations"] == {"total": 0, "by_day": [], "mail_sent": []}
    text = run("report", SAMPLE_SLUG, env=ENV).stdout
    assert "attendance: not known yet" in text


def test_a_webinar_to_come_or_cancelled_says_why_no_attendance_is_known_on_the_terminal_and_its_page(
    store: Store, sample, run, workdir
):
    to_come = definition_variant(
        workdir,
        {
            'slug = "undesa-snu-session-5"': 'slug = "undesa-snu-session-6"',
            'session = "Session 5"': 'session = "Session 6"',
            'start = "2021-04-30 15:00"': 'start = "2099-04-30 15:00"',
        },
        "session-6.toml",
    )
    store.save_webinar(load_definition(to_come), to_come.read_text(encoding="utf-8"), "local", OPENED)
    held = store.save_webinar(sample, SAMPLE_DEFINITION.read_text(encoding="utf-8"), "local", OPENED).record
    store.cancel_webinar(held, None, OPENED + timedelta(days=1))

    assert (
        "  attendance: not yet, the webinar ends at 2099-04-30T07:30:00Z\n"
        in run("report", "undesa-snu-session-6", env=ENV).stdout
    )
    cancelled = run("report", SAMPLE_SLUG, env=ENV).stdout
    assert "  cancelled at 2021-04-27T00:30:00Z\n" in cancelled
    assert "  attendance: none, the webinar was cancelled\n" in cancelled
    series = run("report", "--series", sample.series, env=ENV).stdout
    assert f"2021-04-30 {SAMPLE_SLUG}: 0 registrants, 0 approved, cancelled\n" in series

    def page(slug: str, *language: str) -> str:
        assert run("report", slug, "--html", "report.html", *language, env=ENV).code == 0
        return (workdir / "report.html").read_text(encoding="utf-8")

    assert '<dd data-figure="attended">not before the end</dd>' in page("undesa-snu-session-6")
    assert '<p id="attendance-unknown">Not yet: the webinar has not ended.</p>' in page("undesa-snu-session-6")
    assert '<dd data-figure="attended">none: cancelled</dd>' in page(SAMPLE_SLUG)
    assert '<p id="attendance-unknown">None: the webinar was cancelled.</p>' in page(SAMPLE_SLUG)
    assert '<dd data-figure="attended">aucune\u00a0: annulé</dd>' in page(SAMPLE_SLUG, "--language", "fr")


# -- CSV ------------------------------------------------------------------------------------------


def test_the_csv_report_is_one_long_table_whose_figures_match_the_database(held: Store, run, workdir: Path):
    ran = run("report", SAMPLE_SLUG, "--csv", "report.csv", env=ENV)
    assert ran.code == 0, ran.stderr
    raw = (workdir / "report.csv").read_bytes()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert set(rows[0]) == {"section", "category", "measure", "value"}
    figure = {(r["section"], r["category"], r["measure"]): r["value"] for r in rows}
    assert figure["registrations", "", "total"] == str(one(held, "SELECT count(*) FROM registrants"))
    for country, count in (("KR", 6), ("FR", 5), ("other", 2)):
        assert figure["country", country, "people"] == str(count)
    for status, count in by_value(held, "status").items():
        assert figure["status", status, "people"] == str(count)
    sql = "SELECT kind, state, count(*) FROM deliveries GROUP BY kind, state"
    for kind, state, count in held.db.execute(sql).fetchall():
        assert figure["mail", kind, state] == str(count)
    assert figure["attendance", "", "attended"] == str(one(held, "SELECT count(*) FROM attendance WHERE attended = 1"))
    assert figure["registrations by day", "2021-04-29", "cumulative"] == "13"


# -- privacy ----------------------------------------------------------------------------------------


def every_address(store: Store) -> list[str]:
    return [row[0] for row in store.db.execute("SELECT email FROM registrants").fetchall()]


def test_without_names_no_address_or_name_of_the_store_is_in_any_form_of_the_report(held: Store, run, workdir):
    ran = run("report", SAMPLE_SLUG, "--html", "report.html", "--csv", "report.csv", "--json", env=ENV)
    assert ran.code == 0, ran.stderr
    for text in (ran.stdout, (workdir / "report.html").read_text(), (workdir / "report.csv").read_text("utf-8-sig")):
        for address in every_address(held):
            assert address not in text
            assert address.split("@")[0] not in text
        for _, first, *_ in PEOPLE:
            assert first not in text
        for small in SMALL:
            assert small not in text, f"{small} counts two people: it must be shown as other"
    assert "other" in (workdir / "report.html").read_text()


def test_with_names_the_report_lists_every_registrant_with_status_and_attendance(held: Store, run, workdir):
    ran = run("report", SAMPLE_SLUG, "--with-names", "--html", "named.html", "--csv", "named.csv", "--json", env=ENV)
    assert ran.code == 0, ran.stderr
    people = {p["email"]: p for p in json.loads(ran.stdout)["people"]}
    assert sorted(people) == sorted(every_address(held))
    assert people["ji-woo.kim@example.org"]["minutes"] == 90  # two sessions: 90 and 0 minutes
    assert people["lea.dubois@example.org"]["status"] == "cancelled"
    assert people["chloe.bernard@example.org"]["attended"] is False
    for name in ("named.html", "named.csv"):
        text = (workdir / name).read_text("utf-8-sig")
        assert all(address in text for address in every_address(held))
        assert (workdir / name).stat().st_mode & 0o777 == 0o600  # personal data: the owner's only


def test_with_names_the_registrants_are_listed_by_family_name_then_given_name(held: Store, run):
    ran = run("report", SAMPLE_SLUG, "--with-names", "--json", env=ENV)

    listed = [(p["last_name"] or p["first_name"], p["first_name"]) for p in json.loads(ran.stdout)["people"]]
    assert listed == sorted(listed, key=lambda names: (names[0].casefold(), names[1].casefold()))


def test_a_dash_sends_the_page_or_the_table_to_the_output_for_a_pipe(held: Store, run, workdir):
    page = run("report", SAMPLE_SLUG, "--html", "-", env=ENV)
    table = run("report", SAMPLE_SLUG, "--csv", "-", env=ENV)

    assert page.code == table.code == 0, page.stderr + table.stderr
    assert page.stdout.startswith("<!doctype html>")
    assert next(csv.reader(io.StringIO(table.stdout.lstrip("\ufeff")))) == ["section", "category", "measure", "value"]
    assert not (workdir / "-").exists()
    both = run("report", SAMPLE_SLUG, "--html", "-", "--json", env=ENV)
    assert both.code == 2
    assert "Only one of --json, --html - and --csv - can go to the output" in both.stderr


# -- errors ---------------------------------------------------------------------------------------


def test_an_unknown_webinar_or_series_is_refused_with_what_exists(held: Store, run):
    ran = run("report", "no-such-webinar", env=ENV)
    assert ran.code == 2
    assert f"Known webinars: {SAMPLE_SLUG}" in ran.stderr
    ran = run("report", "--series", "No Such Series", env=ENV)
    assert ran.code == 2
    assert "Known series: Governance Capacity Development Session Series" in ran.stderr
    assert run("report", env=ENV).code == 2
    assert run("report", SAMPLE_SLUG, "--series", "x", env=ENV).code == 2
    ran = run("report", "--series", "Governance Capacity Development Session Series", "--with-names", env=ENV)
    assert ran.code == 2
    assert "--with-names lists the registrants of one webinar" in ran.stderr


def test_an_output_that_cannot_be_written_leaves_every_file_as_it_was(held: Store, run, workdir: Path):
    (workdir / "report.html").write_text("the earlier report")
    ran = run("report", SAMPLE_SLUG, "--html", "report.html", "--csv", "missing/folder/report.csv", env=ENV)
    assert ran.code == 2
    assert "missing/folder/report.csv: cannot be written" in ran.stderr
    assert "fix: give a file in a folder you can write to" in ran.stderr
    assert (workdir / "report.html").read_text() == "the earlier report"
    assert not [p for p in workdir.iterdir() if p.name.endswith(".tmp")]


def test_one_file_given_for_both_the_html_and_the_csv_is_refused_and_left_as_it_was(held: Store, run, workdir):
    (workdir / "report.txt").write_text("the earlier report")
    ran = run("report", SAMPLE_SLUG, "--csv", "report.txt", "--html", "./report.txt", env=ENV)

    assert ran.code == 2
    assert "report.txt: is given for two outputs: one would replace the other" in ran.stderr
    assert "fix: give each of --html and --csv a file of its own" in ran.stderr
    assert (workdir / "report.txt").read_text() == "the earlier report"


# -- HTML -----------------------------------------------------------------------------------------


def test_the_html_report_has_a_titled_chart_for_each_part_and_nothing_to_run_or_fetch(held: Store, run, workdir):
    assert run("report", SAMPLE_SLUG, "--html", "report.html", env=ENV).code == 0
    page = (workdir / "report.html").read_text()
    assert "<script" not in page.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page), "nothing may be fetched"
    assert "@import" not in page
    assert set(re.findall(r"url\((.)", page)) == {"#"}, "a url() only refers to a part of the page"
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "no id twice in the page"
    charts = re.findall(r"<svg\b.*?</svg>", page, re.S)
    titles = [ET.fromstring(svg).find("{http://www.w3.org/2000/svg}title").text for svg in charts]
    for wanted in ("Registrations over time", "Registrants by country", "Mail by kind and state", "Minutes attended"):
        assert wanted in titles
    assert all("<metadata" not in svg and "<style" not in svg for svg in charts)


def test_the_same_figures_make_the_same_charts(held: Store, run, workdir):
    run("report", SAMPLE_SLUG, "--html", "one.html", env=ENV)
    run("report", SAMPLE_SLUG, "--html", "two.html", env=ENV)
    charts = [re.findall(r"<svg\b.*?</svg>", (workdir / n).read_text(), re.S) for n in ("one.html", "two.html")]
    assert charts[0] == charts[1]


def test_kinds_of_mail_first_sent_the_same_day_share_one_mark_with_their_names_side_by_side():
    from webinar_ops.report.charts import registrations_chart
    from webinar_ops.report.gather import Day, MailSent, Registrations

    at = "2021-04-26T00:30:00Z"
    same_day = [MailSent(kind, 3, at, at, "2021-04-26") for kind in ("confirmation", "waitlisted", "cancellation")]
    later = MailSent("reminder-1d", 6, "2021-04-29T06:00:00Z", "2021-04-29T06:00:00Z", "2021-04-29")
    days = tuple(Day(f"2021-04-{d}", 2, 2 * (d - 25)) for d in range(26, 30))
    chart = ET.fromstring(registrations_chart(Registrations(8, days, (*same_day, later)), "Registrations", "en"))

    texts = ["".join(t.itertext()).strip() for t in chart.iter("{http://www.w3.org/2000/svg}text")]
    assert "confirmation" in texts
    assert "waitlisted" in texts
    assert "cancellation" in texts
    assert "reminder-1d" in texts
    marks = [
        line for line in chart.iter("{http://www.w3.org/2000/svg}path") if "stroke-dasharray" in line.get("style", "")
    ]
    assert len(marks) == 2, "one dashed mark a day, however many kinds went out on it"


# -- a series --------------------------------------------------------------------------------------


def test_a_series_puts_its_sessions_side_by_side(held: Store, settings: Settings, run, workdir: Path):
    later = definition_variant(
        workdir,
        {
            'slug = "undesa-snu-session-5"': 'slug = "undesa-snu-session-6"',
            'session = "Session 5"': 'session = "Session 6"',
            'start = "2021-04-30 15:00"': 'start = "2021-05-28 15:00"',
        },
        "session-6.toml",
    )
    held.save_webinar(load_definition(later), later.read_text(encoding="utf-8"), "local", OPENED)
    with smtp_server() as server:
        register_and_send(held, settings, "undesa-snu-session-6", server, PEOPLE[:4])

    ran = run("report", "--series", "governance capacity development session series", "--json", env=ENV)
    assert ran.code == 0, ran.stderr
    report = ran.json()
    assert report["report"] == "series"
    assert [s["slug"] for s in report["sessions"]] == [SAMPLE_SLUG, "undesa-snu-session-6"]
    fifth, sixth = report["sessions"]
    assert (fifth["registrants"], fifth["attended"]) == (13, 9)
    assert (sixth["registrants"], sixth["attended"], sixth["rate"]) == (4, None, None)

    ran = run("report", "--series", "Governance Capacity Development Session Series", "--html", "s.html", env=ENV)
    page = (workdir / "s.html").read_text()
    assert "<title>Registrations and attendance by session</title>" in page
    assert "Session 6" in page
    assert "not known yet" in page


# -- in a browser ------------------------------------------------------------------------------------


def folded(counts: dict[str | None, int]) -> dict[str, int]:
    """Counts as a shareable report shows them: fewer than 5 people count as other."""
    shown = {category: n for category, n in counts.items() if n >= 5}
    small = sum(n for n in counts.values() if n < 5)
    return {**shown, "other": small} if small else shown


def table(page, table_id: str) -> dict[str, list[str]]:
    """A report table read back from the page: each body row's heading cell -> its other cells."""
    rows = page.evaluate(
        """id => [...document.querySelectorAll(`#${id} tbody tr`)].map(
               row => [...row.children].map(cell => cell.textContent.trim()))""",
        table_id,
    )
    return {row[0]: row[1:] for row in rows}


def test_in_a_browser_the_report_shows_its_charts_and_the_databases_figures_fetches_nothing_and_prints(
    held: Store, run, workdir: Path, chromium
):
    from browser import DESKTOP, SCREENSHOTS, overflows_sideways, screenshot

    assert run("report", SAMPLE_SLUG, "--html", "report.html", env=ENV).code == 0
    page = chromium.new_page(viewport=DESKTOP)
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.route("**/*", lambda route: route.abort())  # whatever the page would fetch goes nowhere
    page.set_content((workdir / "report.html").read_text(encoding="utf-8"), wait_until="load")
    assert asked == [], "the page fetched nothing"

    titles = page.evaluate("[...document.querySelectorAll('svg.chart')].map(s => s.querySelector('title').textContent)")
    for wanted in ("Registrations over time", "Registrants by country", "Mail by kind and state", "Minutes attended"):
        assert wanted in titles
    sizes = page.evaluate("[...document.querySelectorAll('svg.chart')].map(s => s.getBoundingClientRect().height)")
    assert min(sizes) > 40, "every chart is drawn at a readable size"
    assert not overflows_sideways(page)

    for column in ("country", "organisation", "time_zone"):
        shown = {category: int(cells[0]) for category, cells in table(page, f"table-{column}").items()}
        assert shown == folded(by_value(held, column))
    statuses = {status: int(cells[0]) for status, cells in table(page, "table-statuses").items()}
    for status, count in by_value(held, "status").items():
        assert statuses[status] == count
    mail = table(page, "table-mail")
    header = page.evaluate("[...document.querySelectorAll('#table-mail thead th')].map(c => c.textContent.trim())")
    sql = "SELECT kind, state, count(*) FROM deliveries GROUP BY kind, state"
    for kind, state, count in held.db.execute(sql).fetchall():
        assert mail[kind][header.index(state) - 1] == str(count)
    registrations = table(page, "table-registrations")
    assert list(registrations.values())[-1][-1] == str(one(held, "SELECT count(*) FROM registrants"))
    attended = one(held, "SELECT count(*) FROM attendance WHERE attended = 1")
    assert page.text_content("[data-figure=attended]") == str(attended)
    assert table(page, "table-attendance")["Attended"] == [str(attended)]

    screenshot(page, "report")
    top = SCREENSHOTS / "report-top.jpg"  # the README's picture, docs/screenshots/report.jpg, is a copy
    clip = {"x": 0, "y": 0, "width": 1280, "height": 1900}
    page.screenshot(path=str(top), type="jpeg", quality=60, full_page=True, clip=clip)
    pdf = page.pdf(format="A4", print_background=True)
    assert pdf.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) >= 3, "the report runs over several A4 pages"


def test_printed_every_heading_stays_on_the_page_of_what_it_heads(held: Store, run, workdir: Path, chromium):
    assert run("report", SAMPLE_SLUG, "--html", "report.html", env=ENV).code == 0
    page = chromium.new_page()
    page.set_content((workdir / "report.html").read_text(encoding="utf-8"), wait_until="load")
    page.emulate_media(media="print")

    breaks = page.evaluate(
        "[...document.querySelectorAll('h2, h3, figcaption, caption')].map(h => getComputedStyle(h).breakAfter)"
    )
    assert len(breaks) > 10
    assert set(breaks) == {"avoid"}, "a heading left alone at the foot of a page, its chart on the next"


def test_only_drawing_the_charts_imports_matplotlib():
    import subprocess
    import sys

    code = (
        "import sys, webinar_ops.cli, webinar_ops.report.as_html, webinar_ops.report.as_csv, "
        "webinar_ops.report.as_json; print('matplotlib' in sys.modules)"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == "False"


# -- what the store holds, shown as it is -------------------------------------------------------------

HOSTILE = '=HYPERLINK("x") Fund & Co, $5 $x^2$'  # the person checks refuse < and >


def test_an_organisation_written_as_a_formula_or_tex_is_shown_as_the_text_it_is(store: Store, sample):
    from webinar_ops.report import webinar_report
    from webinar_ops.report.as_csv import as_csv
    from webinar_ops.report.as_html import as_html

    record = store.save_webinar(sample, SAMPLE_DEFINITION.read_text(encoding="utf-8"), "local", OPENED).record
    for n in range(5):
        add_person(store, record, {"email": f"p{n}@example.org", "first_name": "P", "organisation": HOSTILE}, OPENED)
    report = webinar_report(store, store.webinar(SAMPLE_SLUG), OPENED)
    assert {c.category for c in report.breakdowns[1].counts} == {HOSTILE}

    page = as_html(report)
    assert HOSTILE.replace("&", "&amp;").replace('"', "&#34;") in page  # the table's cell, escaped
    charts = re.findall(r"<svg\b.*?</svg>", page, re.S)
    chart = next(svg for svg in charts if "Registrants by organisation" in svg)
    texts = ["".join(t.itertext()) for t in ET.fromstring(chart).iter("{http://www.w3.org/2000/svg}text")]
    assert HOSTILE[:25] + "…" in texts  # drawn as text, no markup, shortened to leave the bars room
    rows = list(csv.reader(io.StringIO(as_csv(report).lstrip("\ufeff"))))
    assert ["organisation", "'" + HOSTILE, "people", "5"] in rows  # a spreadsheet shows it, not runs it


LONG = "Département des Affaires Économiques et Sociales des Nations Unies, Division des Institutions Publiques"
CHINESE = "清华大学公共管理学院（北京市海淀区）"
DOLLARS = "Fonds $5 $x^2$"


def test_long_and_chinese_organisations_are_shortened_in_their_chart_and_no_font_warning_is_printed(
    store: Store, sample, run, workdir: Path
):
    record = store.save_webinar(sample, SAMPLE_DEFINITION.read_text(encoding="utf-8"), "local", OPENED).record
    for n, organisation in enumerate([LONG] * 7 + [CHINESE] * 6 + [DOLLARS] * 5):
        add_person(
            store, record, {"email": f"p{n}@example.org", "first_name": "P", "organisation": organisation}, OPENED
        )

    ran = run("report", SAMPLE_SLUG, "--html", "report.html", env=ENV)
    assert ran.code == 0, ran.stderr
    assert ran.stderr == "Wrote report.html.\n"  # matplotlib's font lacks Chinese: the browser draws it
    page = (workdir / "report.html").read_text()
    chart = next(svg for svg in re.findall(r"<svg\b.*?</svg>", page, re.S) if "Registrants by organisation" in svg)
    labels = ["".join(t.itertext()) for t in ET.fromstring(chart).iter("{http://www.w3.org/2000/svg}text")]
    assert "Département des Affaires…" in labels  # 26 columns at most
    assert "清华大学公共管理学院（北…" in labels  # two columns a character
    assert DOLLARS in labels  # short enough: whole, and text, not TeX
    assert {LONG, CHINESE} <= set(re.findall(r"<t[hd][^>]*>([^<]+)</t[hd]>", page))  # the table names them in full


def test_only_a_permanent_refusal_counts_as_a_bounce_not_a_temporary_failure_given_up(
    store: Store, settings: Settings, sample
):
    from webinar_ops.mail.outbox import Outbox
    from webinar_ops.report import webinar_report

    record = store.save_webinar(sample, SAMPLE_DEFINITION.read_text(encoding="utf-8"), "local", OPENED).record
    for email in ("refused@example.org", "slow@example.org"):
        add_person(store, record, {"email": email, "first_name": "P"}, OPENED)
    sync_webinar(store, load_provider("local", settings, store), store.webinar(SAMPLE_SLUG), OPENED)
    plan_webinar(store, store.webinar(SAMPLE_SLUG), OPENED, settings.mail_domain)
    listed = Outbox(store).listing(record.id)
    confirmation = {row.email: row.delivery.id for row in listed if row.delivery.kind == "confirmation"}
    Outbox(store).fail(confirmation["refused@example.org"], "550 5.1.1 <refused@example.org>: no such user", OPENED)
    gave_up = "gave up after 5 attempts, as the next would be too late: 451 4.7.1 try again later"
    Outbox(store).fail(confirmation["slow@example.org"], gave_up, OPENED)

    mail = webinar_report(store, store.webinar(SAMPLE_SLUG), OPENED).mail
    (kind,) = [k for k in mail.kinds if k.kind == "confirmation"]
    assert (kind.failed, kind.bounced, mail.bounced) == (2, 1, 1)


def test_the_waitlist_figures_count_who_waits_and_who_was_seated_from_it(store: Store, workdir: Path):
    from webinar_ops.report import webinar_report

    path = definition_variant(workdir, {"[schedule]": "[registration]\ncapacity = 2\n\n[schedule]"}, "seats.toml")
    record = store.save_webinar(load_definition(path), path.read_text(encoding="utf-8"), "local", OPENED).record
    for email in ("ana@example.org", "bo@example.org", "cy@example.org", "di@example.org"):
        add_person(store, record, {"email": email, "first_name": "P"}, OPENED)
    store.update_registrant(store.registrant(record.id, "ana@example.org").id, {"status": "cancelled"}, OPENED)

    statuses = webinar_report(store, store.webinar(SAMPLE_SLUG), OPENED).statuses
    assert (statuses.capacity, statuses.approved, statuses.waitlisted, statuses.cancelled) == (2, 2, 1, 1)
    assert statuses.promoted == 1  # cy took the seat ana gave back
    assert store.registrant(record.id, "cy@example.org").status == "approved"


def test_registrations_are_counted_per_day_of_the_events_clock_not_of_utc(store: Store, sample):
    from webinar_ops.report import webinar_report

    record = store.save_webinar(sample, SAMPLE_DEFINITION.read_text(encoding="utf-8"), "local", OPENED).record
    late_evening_utc = datetime(2021, 4, 26, 20, 0, tzinfo=UTC)  # 27 April, 05:00 in Seoul
    add_person(store, record, {"email": "early@example.org", "first_name": "P"}, OPENED)  # 26 April in Seoul
    add_person(store, record, {"email": "late@example.org", "first_name": "P"}, late_evening_utc)
    add_person(store, record, {"email": "later@example.org", "first_name": "P"}, late_evening_utc + timedelta(days=2))

    by_day = webinar_report(store, store.webinar(SAMPLE_SLUG), OPENED).registrations.by_day
    assert [(d.day, d.registrations, d.cumulative) for d in by_day] == [
        ("2021-04-26", 1, 1),
        ("2021-04-27", 1, 2),
        ("2021-04-28", 0, 2),  # a day without registrations is shown too
        ("2021-04-29", 1, 3),
    ]


def test_the_page_is_written_in_french_when_asked_words_dates_numbers_and_charts(held: Store, run, workdir: Path):
    ran = run("report", SAMPLE_SLUG, "--html", "fr.html", "--language", "fr", env=ENV)
    assert ran.code == 0, ran.stderr
    page = (workdir / "fr.html").read_text(encoding="utf-8")
    assert '<html lang="fr">' in page
    assert "Les inscrits par pays" in page
    assert "vendredi 30 avril 2021, 15\u00a0h\u00a000–16\u00a0h\u00a030, heure de Séoul" in page  # as French writes it
    assert "75\u00a0%" in page  # the attendance rate, as CLDR writes a percentage in French
    assert "51,7" in page  # the mean minutes, with a decimal comma
    chart = next(svg for svg in re.findall(r"<svg\b.*?</svg>", page, re.S) if "Les messages par type" in svg)
    texts = {"".join(t.itertext()).strip() for t in ET.fromstring(chart).iter("{http://www.w3.org/2000/svg}text")}
    assert {"envoyés", "messages"} <= texts  # the legend and the axis, in French too
    assert "Registrants by country" not in page


def test_a_language_the_report_cannot_be_written_in_is_refused_naming_those_it_can(held: Store, run):
    ran = run("report", SAMPLE_SLUG, "--html", "de.html", "--language", "de", env=ENV)
    assert ran.code == 2
    assert "cannot be written in 'de'; its words are in en, fr" in ran.stderr


# -- the speakers' mail, apart from the audience's ---------------------------------------------

SPEAKERS_DEFINITION = Path(__file__).parent / "data" / "undesa-snu-session-5-speakers.toml"
SPEAKERS = ("mikyoung.park@example.org", "bokyun.shim@example.org", "keping.yao@example.org", "sungjoo.son@example.org")


@pytest.fixture
def with_speakers(store: Store, settings: Settings) -> Store:
    """The model webinar with its four people's addresses: five registrants, the speakers made
    panelists, and everyone's mail sent over SMTP, where Mr. Yao's briefing is refused for good."""
    definition = load_definition(SPEAKERS_DEFINITION)
    store.save_webinar(definition, SPEAKERS_DEFINITION.read_text(encoding="utf-8"), "local", OPENED)
    with smtp_server() as server:
        server.handler.reject("keping.yao@example.org")
        register_and_send(store, settings, SAMPLE_SLUG, server, PEOPLE[:5])
    return store


def test_the_speakers_mail_is_counted_apart_and_marks_no_day_of_the_registrations(with_speakers: Store, run, workdir):
    ran = run("report", SAMPLE_SLUG, "--json", "--html", "report.html", "--csv", "report.csv", env=ENV)
    assert ran.code == 0, ran.stderr
    report = ran.json()

    audience = "SELECT kind, state, count(*) FROM deliveries WHERE registrant_id IS NOT NULL GROUP BY kind, state"
    speakers = "SELECT kind, state, count(*) FROM deliveries WHERE speaker_id IS NOT NULL GROUP BY kind, state"
    mail = {row["kind"]: row for row in report["mail"]["kinds"]}
    told = {row["kind"]: row for row in report["speaker_mail"]}
    for kinds_by_state, held in ((mail, audience), (told, speakers)):
        rows = with_speakers.db.execute(held).fetchall()
        assert {kind: {s: n for k, s, n in rows if k == kind} for kind, *_ in rows} == {
            kind: {s: row[s] for s in ("pending", "sending", "sent", "failed", "skipped", "missed") if row[s]}
            for kind, row in kinds_by_state.items()
        }
    assert not set(mail) & set(told)
    assert (told["briefing-0"]["sent"], told["briefing-0"]["failed"], told["briefing-0"]["bounced"]) == (3, 1, 1)
    assert report["mail"]["bounced"] == 0  # the speaker's refusal is none of the audience's
    assert report["mail"]["sent"] == one(
        with_speakers, "SELECT count(*) FROM deliveries WHERE state = 'sent' AND registrant_id IS NOT NULL"
    )
    marks = {row["kind"] for row in report["registrations"]["mail_sent"]}
    assert marks == {"confirmation", "reminder-1d"}

    terminal = run("report", SAMPLE_SLUG, env=ENV).stdout
    assert f"  {report['mail']['sent']} mails sent, 0 bounced" in terminal
    assert "  speakers' mail, apart: 3 sent, 1 bounced" in terminal
    page = (workdir / "report.html").read_text(encoding="utf-8")
    csv_text = (workdir / "report.csv").read_text(encoding="utf-8-sig")
    assert 'id="table-speaker-mail"' in page
    assert "speakers' mail,briefing-0,sent,3" in csv_text.replace("\r\n", "\n")
    links = [row[0] for row in with_speakers.db.execute("SELECT join_url FROM speakers").fetchall()]
    for text in (ran.stdout, page, csv_text):
        for secret in (*SPEAKERS, *links):
            assert secret not in text
