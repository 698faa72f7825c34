"""`webinar-ops attendance import`: Zoom's own Attendee Report, or any CSV with an email
column, recorded all or nothing; and `status` showing the attendance once it is known."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import REPO, SAMPLE_CSV, SAMPLE_DEFINITION, SAMPLE_SLUG, definition_variant

from webinar_ops.attendance_import import (
    MAX_SESSIONS,
    apply_attendance_import,
    plan_attendance_import,
    read_attendance,
)
from webinar_ops.errors import InputError
from webinar_ops.registrants import apply_import, plan_import
from webinar_ops.store import Store

ZOOM_REPORT = REPO / "tests" / "data" / "zoom-attendee-report.csv"
START = datetime(2021, 4, 30, 6, 0, tzinfo=UTC)  # 15:00 in Seoul
AFTER = START + timedelta(days=1)


@pytest.fixture
def webinar(store: Store, sample):
    """The sample webinar with its fifteen sample registrants, all approved."""
    record = store.save_webinar(sample, SAMPLE_DEFINITION.read_text(encoding="utf-8"), "local", START).record
    apply_import(store, record, plan_import(store, record, SAMPLE_CSV), START - timedelta(days=20))
    return store.webinar(SAMPLE_SLUG)


@pytest.fixture
def cli(run):
    """The command line in a project with the sample webinar and its registrants."""
    assert run("init").code == 0
    assert run("webinar", "add", "data/webinars/undesa-snu-session-5.toml").code == 0
    ran = run("registrants", "import", SAMPLE_SLUG, "data/registrants-sample.csv", "--force")
    assert ran.code == 0, ran.stderr
    return run


def imported(store: Store, webinar, path: Path | str, time_zone: str | None = None):
    plan = plan_attendance_import(store, webinar, path, AFTER, time_zone)
    apply_attendance_import(store, webinar, plan, AFTER)
    return plan


def attendance_by_email(store: Store, webinar) -> dict[str, tuple]:
    recorded = store.attendance_of(webinar.id)
    return {
        store.registrant_by_id(rid).email: (p.attended, p.joined_at, p.left_at, p.minutes)
        for rid, p in recorded.items()
    }


def refusal(store: Store, webinar, path: Path, time_zone: str | None = None) -> InputError:
    with pytest.raises(InputError) as caught:
        plan_attendance_import(store, webinar, path, AFTER, time_zone)
    return caught.value


def places(error: InputError) -> set[tuple[int | None, str | None]]:
    return {(problem.line, problem.field) for problem in error.problems}


def seoul(day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2021, 4, day, hour, minute, second, tzinfo=UTC) - timedelta(hours=9)


# -- Zoom's Attendee Report -----------------------------------------------------------------


def test_zooms_report_counts_a_rejoin_once_with_both_sessions_and_leaves_out_the_host_and_panelists(store, webinar):
    plan = imported(store, webinar, ZOOM_REPORT)

    assert (plan.file.form, len(plan.file.joins), plan.file.absentee_rows) == ("zoom", 5, 2)
    by_email = attendance_by_email(store, webinar)
    assert by_email["ji-woo.kim@example.org"] == (True, seoul(30, 14, 58, 2), seoul(30, 16, 31, 55), 43 + 46)
    assert by_email["kwame.mensah@example.org"][0]  # written Kwame.Mensah@ by Zoom
    assert by_email["lucia.fernandez@example.org"] == (False, None, None, None)
    assert "webinars@undesa.example.org" not in by_email
    assert "hana.park@snu.example.org" not in by_email


def test_a_guest_who_never_registered_is_counted_not_recorded(store, webinar):
    plan = imported(store, webinar, ZOOM_REPORT)

    assert plan.matched.unmatched == 1  # Chris Visitor
    check = store.attendance_check(webinar.id)
    assert (check.known, check.source, check.unmatched) == (True, "import", 1)
    figures = store.attendance_figures(webinar.id)
    assert (figures.expected, figures.attended, figures.absent, figures.minutes) == (15, 3, 12, 89 + 90 + 45)


def in_new_york(text: str, behind: int = 13) -> str:
    """The report's times on the clocks of an account in New York, 13 hours behind Seoul (or
    another zone `behind` Seoul)."""
    return re.sub(r"Apr 30, 2021 (\d\d)", lambda hour: f"Apr 30, 2021 {int(hour[1]) - behind:02d}", text)


def test_the_zoom_accounts_zone_can_differ_from_the_webinars(store, webinar, tmp_path):
    # The same report from an account in New York: 01:58:02 there is 14:58:02 in Seoul.
    moved = tmp_path / "new-york.csv"
    moved.write_text(in_new_york(ZOOM_REPORT.read_text(encoding="utf-8-sig")), encoding="utf-8")
    plan = plan_attendance_import(store, webinar, moved, AFTER, "America/New_York")

    ji_woo = next(j for j in plan.file.joins if j.email == "ji-woo.kim@example.org")
    assert ji_woo.joined_at == seoul(30, 14, 58, 2)


def test_a_report_read_in_the_webinars_zone_instead_of_the_accounts_is_refused_with_the_fix(store, webinar, tmp_path):
    moved = tmp_path / "new-york.csv"
    moved.write_text(in_new_york(ZOOM_REPORT.read_text(encoding="utf-8-sig")), encoding="utf-8")
    error = refusal(store, webinar, moved)  # without --time-zone America/New_York

    assert places(error) == {(line, "Join Time") for line in (16, 17, 18, 19, 20)}
    assert "more than 3 hours from undesa-snu-session-5's time" in error.problems[0].message
    assert "if the Zoom account's zone is not Asia/Seoul, name it with --time-zone" in error.problems[0].fix
    assert not store.attendance_check(webinar.id).known


def test_a_report_from_an_account_five_hours_away_read_in_the_webinars_zone_is_refused(store, webinar, tmp_path):
    # As a New York account's report of a London webinar: Dubai is five hours behind Seoul.
    moved = tmp_path / "dubai.csv"
    moved.write_text(in_new_york(ZOOM_REPORT.read_text(encoding="utf-8-sig"), behind=5), encoding="utf-8")

    assert len(refusal(store, webinar, moved).problems) == 5
    assert len(plan_attendance_import(store, webinar, moved, AFTER, "Asia/Dubai").file.joins) == 5


def test_the_file_of_another_session_of_the_series_is_refused_and_keeps_what_was_recorded(store, webinar, write):
    imported(store, webinar, ZOOM_REPORT)
    # The next session's list: the same people, a week later.
    next_week = write(
        "email,joined_at,left_at\nji-woo.kim@example.org,2021-05-07 15:00,2021-05-07 16:00\n"
        "amelie.laurent@example.org,,\n",
        "session-6.csv",
    )
    error = refusal(store, webinar, next_week)

    assert places(error) == {(2, "joined_at")}
    assert "Friday 7 May 2021, 15:00 Seoul time" in error.problems[0].message
    assert "Friday 30 April 2021, 15:00 Seoul time" in error.problems[0].message
    assert store.attendance_figures(webinar.id).attended == 3  # the first import stands


def test_a_host_who_starts_late_and_runs_over_keeps_every_session(store, webinar, write):
    late = write("email,joined_at,left_at\nji-woo.kim@example.org,2021-04-30 17:00,2021-04-30 20:30\n", "late.csv")
    imported(store, webinar, late)

    assert attendance_by_email(store, webinar)["ji-woo.kim@example.org"][0]


def test_newer_zoom_exports_write_times_on_a_twelve_hour_clock(tmp_path):
    report = tmp_path / "report.csv"
    report.write_text(
        "Attendee Details\n"
        "Attended,User Name (Original Name),Email,Join Time,Leave Time,Time in Session (minutes),Is Guest\n"
        "Yes,Ana,ana@example.org,04/30/2021 03:02:11 PM,04/30/2021 04:10:00 PM,68,No\n",
        encoding="utf-8",
    )
    (join,) = read_attendance(report, "Asia/Seoul").joins
    assert (join.joined_at, join.left_at, join.minutes) == (seoul(30, 15, 2, 11), seoul(30, 16, 10), 68)


def test_zooms_report_saved_with_semicolons_and_no_padding_is_read_past_its_title(store, webinar, tmp_path):
    # As a European spreadsheet writes it when it does not pad rows to the widest: the title
    # tells no delimiter, and "Report Generated:;May 1, 2021 09:12 AM" one of each.
    rows = csv.reader(io.StringIO(ZOOM_REPORT.read_text(encoding="utf-8-sig")))
    semicolons = io.StringIO()
    csv.writer(semicolons, delimiter=";", lineterminator="\r\n").writerows(rows)
    saved = tmp_path / "semicolons.csv"
    saved.write_bytes(semicolons.getvalue().encode("utf-8-sig"))
    assert saved.read_bytes().startswith("\ufeffAttendee Report\r\nReport Generated:;May 1, 2021".encode())

    plan = imported(store, webinar, saved)
    assert (plan.file.form, len(plan.file.joins), plan.file.absentee_rows) == ("zoom", 5, 2)


def test_zooms_participants_export_with_its_meeting_row_counts_sessions_but_not_the_waiting_room(store, webinar, write):
    # Usage Reports, the webinar's Participants, Export with meeting data; times in Seoul.
    path = write(
        "\ufeffMeeting ID,Topic,Start Time,End Time,User Email,Duration (Minutes),Participants\n"
        "845 1234 5678,Session 5,04/30/2021 02:56:40 PM,04/30/2021 04:33:40 PM,webinars@undesa.example.org,97,5\n"
        "\n"
        "Name (Original Name),User Email,Join Time,Leave Time,Duration (Minutes),Guest,Recording Consent,"
        "In Waiting Room\n"
        "Ji-woo Kim,ji-woo.kim@example.org,04/30/2021 02:50:00 PM,04/30/2021 02:58:00 PM,8,No,,Yes\n"
        "Ji-woo Kim,ji-woo.kim@example.org,04/30/2021 02:58:02 PM,04/30/2021 03:40:30 PM,43,No,,No\n"
        "Ji-woo Kim (iPhone),ji-woo.kim@example.org,04/30/2021 03:46:10 PM,04/30/2021 04:31:55 PM,46,No,,No\n"
        "Amélie Laurent,amelie.laurent@example.org,04/30/2021 03:01:12 PM,04/30/2021 04:30:40 PM,90,No,Yes,No\n"
        "Phone caller,,04/30/2021 03:20:00 PM,04/30/2021 03:35:00 PM,15,Yes,,No\n"
        "Kwame Mensah,kwame.mensah@example.org,04/30/2021 02:40:00 PM,04/30/2021 02:55:00 PM,15,No,,Yes\n",
        "participants.csv",
    )
    plan = imported(store, webinar, path)

    assert (plan.file.form, len(plan.file.joins), plan.matched.unmatched) == ("zoom-participants", 4, 1)
    by_email = attendance_by_email(store, webinar)
    assert by_email["ji-woo.kim@example.org"] == (True, seoul(30, 14, 58, 2), seoul(30, 16, 31, 55), 43 + 46)
    assert by_email["amelie.laurent@example.org"][0]
    assert by_email["kwame.mensah@example.org"][0] is False  # only ever in the waiting room


def test_zooms_participants_export_without_its_meeting_row_is_read_the_same(store, webinar, write):
    path = write(
        "Name (Original Name),User Email,Join Time,Leave Time,Duration (Minutes),Guest\n"
        "Amélie Laurent,amelie.laurent@example.org,04/30/2021 03:01:12 PM,04/30/2021 04:30:40 PM,90,No\n",
        "participants.csv",
    )
    imported(store, webinar, path)

    shown = attendance_by_email(store, webinar)["amelie.laurent@example.org"]
    assert shown == (True, seoul(30, 15, 1, 12), seoul(30, 16, 30, 40), 90)


def test_wall_times_across_the_night_clocks_go_forward_convert_to_the_right_instants(tmp_path):
    # New York, 14 March 2021: at 02:00 EST the clocks jump to 03:00 EDT.
    report = tmp_path / "report.csv"
    report.write_text(
        "Attendee Details\n"
        "Attended,Email,Join Time,Leave Time,Time in Session (minutes)\n"
        'Yes,ana@example.org,"Mar 14, 2021 01:50:00","Mar 14, 2021 03:10:00",20\n',
        encoding="utf-8",
    )
    (join,) = read_attendance(report, "America/New_York").joins
    assert join.joined_at == datetime(2021, 3, 14, 6, 50, tzinfo=UTC)  # UTC-5
    assert join.left_at == datetime(2021, 3, 14, 7, 10, tzinfo=UTC)  # UTC-4: twenty minutes later


def test_a_wall_time_the_clocks_skip_is_refused_with_its_line(tmp_path):
    report = tmp_path / "report.csv"
    report.write_text(
        "email,joined_at\nana@example.org,2021-03-14 01:50\nben@example.org,2021-03-14 02:30\n", encoding="utf-8"
    )
    with pytest.raises(InputError) as caught:
        read_attendance(report, "America/New_York")
    (problem,) = caught.value.problems
    assert (problem.line, problem.field) == (3, "joined_at")
    assert "does not exist in America/New_York" in problem.message


def test_a_session_in_the_hour_the_clocks_repeat_is_settled_by_its_minutes(tmp_path):
    # New York, 7 November 2021: 01:00 to 02:00 happens twice, first in EDT then in EST.
    report = tmp_path / "report.csv"
    report.write_text(
        "Attendee Details\n"
        "Attended,Email,Join Time,Leave Time,Time in Session (minutes)\n"
        'Yes,ana@example.org,"Nov 07, 2021 01:20:00","Nov 07, 2021 01:10:00",50\n'
        'Yes,ben@example.org,"Nov 07, 2021 01:20:00","Nov 07, 2021 01:40:00",80\n',
        encoding="utf-8",
    )
    ana, ben = read_attendance(report, "America/New_York").joins
    assert (ana.joined_at, ana.left_at) == (
        datetime(2021, 11, 7, 5, 20, tzinfo=UTC),
        datetime(2021, 11, 7, 6, 10, tzinfo=UTC),
    )
    assert (ben.joined_at, ben.left_at) == (
        datetime(2021, 11, 7, 5, 20, tzinfo=UTC),
        datetime(2021, 11, 7, 6, 40, tzinfo=UTC),
    )


def test_a_repeated_hour_the_minutes_cannot_settle_is_refused_with_its_line(tmp_path):
    report = tmp_path / "report.csv"
    report.write_text("email,joined_at\nana@example.org,2021-11-07 01:20\n", encoding="utf-8")

    with pytest.raises(InputError) as caught:
        read_attendance(report, "America/New_York")
    (problem,) = caught.value.problems
    assert (problem.line, problem.field) == (2, "joined_at")
    assert "happens twice" in problem.message


# -- any CSV --------------------------------------------------------------------------------


def test_a_plain_csv_with_lenient_headers_and_iso_or_wall_times(store, webinar, write):
    path = write(
        "\ufeff Email ;Attended;Joined At;LEFT_AT;Minutes\n"
        "ji-woo.kim@example.org;yes;2021-04-30T15:01:00+09:00;2021-04-30T16:00:00+09:00;59\n"
        "amelie.laurent@example.org;TRUE;2021-04-30 15:05;;\n"
        "kwame.mensah@example.org;0;;;\n",
        "attended.csv",
    )
    plan = imported(store, webinar, path)

    assert plan.file.form == "csv"
    by_email = attendance_by_email(store, webinar)
    assert by_email["ji-woo.kim@example.org"] == (True, seoul(30, 15, 1), seoul(30, 16, 0), 59)
    assert by_email["amelie.laurent@example.org"] == (True, seoul(30, 15, 5), None, None)
    assert by_email["kwame.mensah@example.org"][0] is False


def test_a_csv_of_addresses_alone_is_who_attended(store, webinar, write):
    imported(store, webinar, write("email\nli.wei@example.org\nsomeone.else@example.com\n", "came.csv"))

    figures = store.attendance_figures(webinar.id)
    assert (figures.attended, figures.mean_minutes) == (1, None)
    assert store.attendance_check(webinar.id).unmatched == 1


def test_bad_rows_are_all_named_with_their_line_and_nothing_is_recorded(store, webinar, write):
    path = write(
        "email,attended,joined_at,minutes\n"
        "ji-woo.kim@example.org,yes,2021-04-30 15:00,30\n"
        "not-an-address,yes,,\n"
        "amelie.laurent@example.org,perhaps,,\n"
        "kwame.mensah@example.org,yes,yesterday,\n"
        "li.wei@example.org,yes,,-5\n",
        "bad.csv",
    )
    error = refusal(store, webinar, path)

    assert places(error) == {(3, "email"), (4, "attended"), (5, "joined_at"), (6, "minutes")}
    assert "nothing was imported; 4 lines need fixing" in str(error)
    assert all(problem.fix for problem in error.problems)
    assert store.attendance_of(webinar.id) == {}
    assert not store.attendance_check(webinar.id).known


def test_a_bad_row_in_zooms_report_names_zooms_column(store, webinar, tmp_path):
    text = ZOOM_REPORT.read_text(encoding="utf-8-sig").replace(',46,No,"Korea', ',forty-six,No,"Korea')
    broken = tmp_path / "broken.csv"
    broken.write_text(text, encoding="utf-8")

    (problem,) = refusal(store, webinar, broken).problems
    assert (problem.line, problem.field) == (17, "Time in Session (minutes)")


def test_an_unknown_column_or_zone_is_refused_before_anything_is_read(store, webinar, write):
    error = refusal(store, webinar, write("email,joined\nana@example.org,yes\n", "odd.csv"))
    assert "unknown column" in str(error)
    assert "did you mean joined_at?" in str(error)

    error = refusal(store, webinar, write("email\nana@example.org\n", "ok.csv"), "Asia/Seul")
    assert "--time-zone" in str(error)
    assert "Asia/Seoul" in str(error)


def test_a_file_that_is_no_attendance_list_says_so(store, webinar):
    (problem,) = refusal(store, webinar, SAMPLE_DEFINITION).problems
    assert (problem.line, problem.message) == (1, "no email column, and no Attendee Details section")
    assert "Attendee Report" in problem.fix


def test_a_file_too_long_is_refused_without_advice_to_split_it_as_each_import_replaces_the_last(store, webinar, write):
    path = write("email\n" + "".join(f"p{n}@example.org\n" for n in range(MAX_SESSIONS + 1)), "everyone.csv")
    (problem,) = refusal(store, webinar, path).problems

    assert (problem.line, problem.message) == (MAX_SESSIONS + 2, "too many rows")
    assert "split" not in problem.fix
    assert "one webinar's attendance list" in problem.fix


def test_a_second_import_replaces_the_first(store, webinar, write):
    imported(store, webinar, ZOOM_REPORT)
    imported(store, webinar, write("email\npriya.raman@example.org\n", "correction.csv"))

    attended = {email for email, row in attendance_by_email(store, webinar).items() if row[0]}
    assert attended == {"priya.raman@example.org"}


# -- through the command line, and in `status` ---------------------------------------------


def test_a_dry_run_shows_what_the_file_says_and_records_nothing(cli):
    ran = cli("attendance", "import", SAMPLE_SLUG, str(ZOOM_REPORT), "--dry-run", "--json")

    assert ran.code == 0, ran.stderr
    assert ran.json() == {
        "format": "zoom",
        "sessions": 5,
        "absentee_rows": 2,
        "attended": 3,
        "unmatched": 1,
        "expected": 15,
        "recorded": False,
        "follow_ups_planned": 0,
    }
    attendance = cli("status", SAMPLE_SLUG, "--json").json()[0]["attendance"]
    assert (attendance["known"], attendance["ended"], attendance["tries"]) == (False, True, 0)
    assert "attendance: not known yet (0 tries)" in cli("status", SAMPLE_SLUG).stdout


def test_status_before_the_end_says_nothing_of_attendance_and_an_import_is_refused(run, workdir):
    later = definition_variant(workdir, {'start = "2021-04-30 15:00"': 'start = "2099-04-30 15:00"'}, "later.toml")
    assert run("init").code == 0
    assert run("webinar", "add", str(later)).code == 0

    (summary,) = run("status", SAMPLE_SLUG, "--json").json()
    assert (summary["attendance"]["known"], summary["attendance"]["ended"]) == (False, False)
    assert "attendance" not in run("status", SAMPLE_SLUG).stdout
    ran = run("attendance", "import", SAMPLE_SLUG, str(ZOOM_REPORT))
    assert ran.code == 2
    assert "has not started yet" in ran.stderr


def test_status_after_the_end_says_attendance_is_not_known_yet_with_the_tries_and_why(cli, workdir):
    with Store.open(workdir / "data" / "webinar_ops.db") as store:
        record = store.webinar(SAMPLE_SLUG)
        for _ in range(2):
            store.attendance_not_ready(
                record.id, "Zoom's report is not ready yet", datetime(2021, 4, 30, 8, tzinfo=UTC)
            )

    (summary,) = cli("status", SAMPLE_SLUG, "--json").json()
    attendance = summary["attendance"]
    assert (attendance["known"], attendance["tries"], attendance["error"]) == (
        False,
        2,
        "Zoom's report is not ready yet",
    )
    assert attendance["retry_after"] == "2021-04-30T08:00:00Z"
    assert "rate" not in attendance
    text = cli("status", SAMPLE_SLUG).stdout
    expected = (
        "attendance: not known yet (2 tries; Zoom's report is not ready yet; next try after 2021-04-30T08:00:00Z)"
    )
    assert expected in text


def test_status_shows_the_rate_once_an_import_recorded_it(cli):
    ran = cli("attendance", "import", SAMPLE_SLUG, str(ZOOM_REPORT))
    assert ran.code == 0, ran.stderr
    assert "Recorded: 3 of 15 attended (20%)." in ran.stdout

    (summary,) = cli("status", SAMPLE_SLUG, "--json").json()
    attendance = summary["attendance"]
    assert (attendance["attended"], attendance["expected"], attendance["absent"]) == (3, 15, 12)
    assert attendance["rate"] == pytest.approx(0.2)
    assert attendance["mean_minutes"] == pytest.approx((89 + 90 + 45) / 3)
    assert (attendance["source"], attendance["unmatched"]) == ("import", 1)
    datetime.fromisoformat(attendance["known_at"])
    text = cli("status", SAMPLE_SLUG).stdout
    assert "attendance: 3 of 15 attended (20%), 75 minutes on average; from the import, " in text


def test_a_bad_file_through_the_command_line_names_the_line_and_exits_with_an_error(cli, workdir):
    (workdir / "bad.csv").write_text("email,minutes\nji-woo.kim@example.org,lots\n", encoding="utf-8")

    ran = cli("attendance", "import", SAMPLE_SLUG, "bad.csv")

    assert ran.code == 2
    assert "bad.csv:2: minutes:" in ran.stderr
    assert not cli("status", SAMPLE_SLUG, "--json").json()[0]["attendance"]["known"]


def test_a_file_saved_in_latin_1_names_its_line_and_byte(store, webinar, write):
    error = refusal(
        store,
        webinar,
        write("email,attended\nana@example.org,yes\nlucía@example.org,yes\n".encode("latin-1"), "latin.csv"),
    )

    (problem,) = error.problems
    assert (problem.line, problem.message) == (3, "byte 0xed is not UTF-8")
    assert "CSV UTF-8" in problem.fix


def test_an_unknown_time_zone_on_the_command_line_is_refused_with_the_closest_names(cli):
    ran = cli("attendance", "import", SAMPLE_SLUG, str(ZOOM_REPORT), "--time-zone", "America/NewYork")

    assert ran.code == 2
    assert "--time-zone" in ran.stderr
    assert "America/New_York" in ran.stderr
