"""Registrants: importing a CSV all-or-nothing, checking each value, adding, cancelling, listing."""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import pytest
from conftest import HOSTILE_NAMES, LEGITIMATE_NAMES, NOW, SAMPLE_CSV, SAMPLE_DEFINITION, SAMPLE_SLUG

from webinar_ops import validate
from webinar_ops.errors import InputError, NotFound
from webinar_ops.people import Person, check_person
from webinar_ops.registrants import (
    ImportPlan,
    add_person,
    apply_import,
    cancel_person,
    plan_import,
    read_csv,
)

HEADER = "email,first_name,last_name,organisation,country,time_zone,language\n"

FIVE_BAD_ROWS = (
    HEADER
    + "ana@example.org,Ana,Lima,UN DESA,BR,America/Sao_Paulo,pt\n"  # line 2
    + "bob at example.org,Bob,Stone,,,,\n"  # line 3: not an address
    + 'cleo@example.org,"Cle\no",Park,,KR,Asia/Seoul,ko\n'  # lines 4-5: a line break in the name
    + "dan@example.org,Dan,Wu,,,Mars/Olympus,\n"  # line 6: no such time zone
    + "eve@example.org,Eve,Ng,,,,english\n"  # line 7: not a language code
    + "ANA@example.org,Ana,Again,,,,\n"  # line 8: Ana again
    + "fay@example.org,Fay,Osei,,GH,Africa/Accra,en\n"  # line 9
)

FIVE_ROWS_FIXED = (
    HEADER
    + "ana@example.org,Ana,Lima,UN DESA,BR,America/Sao_Paulo,pt\n"
    + "bob@example.org,Bob,Stone,,,,\n"
    + "cleo@example.org,Cleo,Park,,KR,Asia/Seoul,ko\n"
    + "dan@example.org,Dan,Wu,,,Europe/Paris,\n"
    + "eve@example.org,Eve,Ng,,,,en\n"
    + "fay@example.org,Fay,Osei,,GH,Africa/Accra,en\n"
)


# -- helpers and fixtures -------------------------------------------------------------------


@pytest.fixture
def webinar(store, sample):
    return store.save_webinar(sample, SAMPLE_DEFINITION.read_text(encoding="utf-8"), "local", NOW).record


@pytest.fixture
def cli(run):
    """The command line in a project that has run `init` and added the sample webinar."""
    assert run("init").code == 0
    assert run("webinar", "add", "data/webinars/undesa-snu-session-5.toml").code == 0
    return run


def listed(cli, *options: str) -> list[dict]:
    ran = cli("registrants", "list", SAMPLE_SLUG, "--json", *options)
    assert ran.code == 0, ran.stderr
    return ran.json()


def refusal(store, webinar, path: Path) -> InputError:
    """Plan an import that must be refused; return the error."""
    with pytest.raises(InputError) as caught:
        plan_import(store, webinar, path)
    return caught.value


def places(error: InputError) -> set[tuple[int | None, str | None]]:
    return {(problem.line, problem.field) for problem in error.problems}


def do_import(store, webinar, path: Path) -> ImportPlan:
    plan = plan_import(store, webinar, path)
    apply_import(store, webinar, plan, NOW)
    return plan


def assert_refused_cleanly(ran, *expected: str) -> None:
    assert ran.code == 2, ran
    assert "Traceback" not in ran.stderr
    for text in expected:
        assert text in ran.stderr


# -- the headline scenario --------------------------------------------------------------------


def test_five_bad_rows_are_all_reported_and_nothing_is_imported(cli, write):
    write(FIVE_BAD_ROWS)

    ran = cli("registrants", "import", SAMPLE_SLUG, "people.csv")

    assert_refused_cleanly(
        ran,
        "nothing was imported; 5 lines need fixing",
        "people.csv:3: email: 'bob at example.org' is not a plain email address",
        "people.csv:4: first_name: the first name contains a line break",
        "people.csv:6: time_zone: unknown time zone 'Mars/Olympus'",
        "people.csv:7: language: 'english' is not a language code",
        "people.csv:8: email: ana@example.org is also on line 2",
    )
    assert ran.stderr.count("fix: ") == 5
    assert listed(cli) == []


def test_the_fixed_file_imports_once_and_again_changes_nothing(cli, write):
    write(FIVE_BAD_ROWS)
    assert cli("registrants", "import", SAMPLE_SLUG, "people.csv").code == 2
    write(FIVE_ROWS_FIXED)

    first = cli("registrants", "import", SAMPLE_SLUG, "people.csv")
    assert first.code == 0, first.stderr
    assert "6 were added, 0 were updated" in first.stdout
    before = listed(cli)

    again = cli("registrants", "import", SAMPLE_SLUG, "people.csv")

    assert again.code == 0, again.stderr
    assert "0 were added, 0 were updated, 6 unchanged" in again.stdout
    assert listed(cli) == before
    assert [row["email"] for row in before] == [f"{n}@example.org" for n in ("ana", "bob", "cleo", "dan", "eve", "fay")]


def people_csv(names: Iterable[str], column: str) -> str:
    """A file of one person per name, the name in `column` (the other name plain)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["email", "first_name", "last_name"])
    for n, name in enumerate(names):
        writer.writerow([f"person{n}@example.org", *((name, "Lima") if column == "first_name" else ("Ana", name))])
    return out.getvalue()


@pytest.mark.parametrize("column", ["first_name", "last_name"])
def test_an_import_with_names_carrying_links_reports_each_line_and_imports_nothing(cli, write, column):
    write(people_csv(HOSTILE_NAMES, column))

    ran = cli("registrants", "import", SAMPLE_SLUG, "people.csv")

    what = column.replace("_", " ")
    lines = range(2, 2 + len(HOSTILE_NAMES))
    expected = [f"people.csv:{line}: {column}: the {what} looks like a link or an address" for line in lines]
    assert_refused_cleanly(ran, f"{len(HOSTILE_NAMES)} lines need fixing", *expected)
    assert "fix: write just the name on one line: no < or >, no web or mail address" in ran.stderr
    assert listed(cli) == []


@pytest.mark.parametrize("column", ["first_name", "last_name"])
def test_an_import_of_real_names_with_dots_or_in_any_script_keeps_them_as_typed(cli, write, column):
    write(people_csv(LEGITIMATE_NAMES, column))

    ran = cli("registrants", "import", SAMPLE_SLUG, "people.csv")

    assert ran.code == 0, ran.stderr
    by_address = {row["email"]: row[column] for row in listed(cli)}
    assert [by_address[f"person{n}@example.org"] for n in range(len(LEGITIMATE_NAMES))] == list(LEGITIMATE_NAMES)


def test_add_with_a_name_carrying_a_link_names_the_option(cli):
    ran = cli("registrants", "add", SAMPLE_SLUG, "--email=ana@example.org", "--first-name=Visit evil\u3002com now")

    assert_refused_cleanly(ran, "command line: --first-name: the first name looks like a link or an address")
    assert listed(cli) == []


# -- line numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_line_numbers_count_the_lines_of_a_quoted_field(write, newline):
    path = write(
        newline.join(["email,first_name,organisation", 'ana@example.org,Ana,"UN', 'DESA"', "bob@example.org,Bob,", ""])
    )

    assert [line for line, _ in read_csv(path)] == [2, 4]


def test_a_bad_row_after_a_two_line_field_is_reported_at_its_real_line(store, webinar, write):
    path = write('email,first_name\nana@example.org,"Ana\nMaria"\nbob@example.org,Bob\nnot-an-address,Cy\n')

    error = refusal(store, webinar, path)

    assert places(error) == {(2, "first_name"), (5, "email")}


# -- reading the file -------------------------------------------------------------------------------


def test_utf8_with_a_byte_order_mark(write):
    path = write("\ufeffemail,first_name\r\nana@example.org,Amélie\r\n")

    assert read_csv(path) == [(2, {"email": "ana@example.org", "first_name": "Amélie"})]


def test_headers_in_any_case_and_with_spaces(write):
    path = write("EMAIL, First Name ,Last-Name,TIME ZONE\nana@example.org,Ana,Lima,Europe/Paris\n")

    [(_, record)] = read_csv(path)

    assert record == {"email": "ana@example.org", "first_name": "Ana", "last_name": "Lima", "time_zone": "Europe/Paris"}


@pytest.mark.parametrize("delimiter", [";", "\t"], ids=["semicolon", "tab"])
def test_semicolon_and_tab_separated_files(write, delimiter):
    rows = [["email", "first_name", "organisation"], ["ana@example.org", "Ana", "UN, DESA"]]
    path = write("".join(delimiter.join(row) + "\n" for row in rows))

    assert read_csv(path) == [(2, {"email": "ana@example.org", "first_name": "Ana", "organisation": "UN, DESA"})]


def test_blank_lines_are_skipped_and_still_counted(write):
    path = write("\nemail,first_name\n\nana@example.org,Ana\n  ,  \n\nbob@example.org,Bob\n\n\n")

    assert [(line, record["email"]) for line, record in read_csv(path)] == [
        (4, "ana@example.org"),
        (7, "bob@example.org"),
    ]


def test_a_semicolon_file_that_starts_with_a_blank_line(write):
    path = write("\nemail;first_name\nana@example.org;Ana\n")

    assert read_csv(path) == [(3, {"email": "ana@example.org", "first_name": "Ana"})]


def test_a_header_of_two_columns_by_a_semicolon_keeps_it_when_the_next_row_holds_commas(write):
    path = write("email;first_name\nana@example.org;Ana, Maria, Lúcia\n")

    assert read_csv(path) == [(2, {"email": "ana@example.org", "first_name": "Ana, Maria, Lúcia"})]


def test_a_latin1_file_is_refused_naming_the_line(store, webinar, write):
    path = write("email,first_name\nana@example.org,Ana\nam@example.org,Amélie\n".encode("latin-1"))

    error = refusal(store, webinar, path)

    assert "people.csv is not UTF-8" in str(error)
    assert "people.csv:3: byte 0xe9 is not UTF-8" in str(error)
    assert "CSV UTF-8" in str(error)


def test_a_latin1_row_after_a_byte_order_mark_names_the_right_line_and_byte(store, webinar, write):
    path = write(b"\xef\xbb\xbffirst_name,email\n" + "Élise,elise@example.org\n".encode("latin-1"))

    error = refusal(store, webinar, path)

    assert "people.csv:2: byte 0xc9 is not UTF-8" in str(error)


def test_a_latin1_file_through_the_command_line(cli, write):
    write("email,first_name\nam@example.org,Amélie\n".encode("latin-1"))

    ran = cli("registrants", "import", SAMPLE_SLUG, "people.csv")

    assert_refused_cleanly(ran, "people.csv:2: byte 0xe9 is not UTF-8")


@pytest.mark.parametrize("content", ["", "\n\n", " , \r\n"], ids=["no-bytes", "blank-lines", "blank-cells"])
def test_an_empty_file(store, webinar, write, content):
    error = refusal(store, webinar, write(content))

    assert "people.csv is empty" in str(error)
    assert "header row" in str(error)


def test_an_unknown_column_suggests_the_close_name(store, webinar, write):
    error = refusal(store, webinar, write("emial,first_name\nana@example.org,Ana\n"))

    assert "people.csv:1: unknown column 'emial'\n    fix: did you mean email?" in str(error)


def test_an_unknown_column_through_the_command_line(cli, write):
    write("email,first_name,phone\nana@example.org,Ana,555\n")

    ran = cli("registrants", "import", SAMPLE_SLUG, "people.csv")

    assert_refused_cleanly(ran, "people.csv:1: unknown column 'phone'", "known columns: email, first_name")
    assert listed(cli) == []


def test_a_duplicated_column(store, webinar, write):
    error = refusal(store, webinar, write("email,first_name,E-Mail,Email\nana@example.org,Ana,,\n"))

    assert "people.csv:1: column 'email' appears twice" in str(error)


def test_a_missing_email_column(store, webinar, write):
    error = refusal(store, webinar, write("first_name,last_name\nAna,Lima\n"))

    assert "people.csv:1: no email column" in str(error)


def test_a_value_in_a_column_without_a_header(store, webinar, write):
    error = refusal(store, webinar, write("email,first_name\nana@example.org,Ana,\nbob@example.org,Bob,extra\n"))

    assert "people.csv:3: has a value in column 3, which has no header" in str(error)
    assert places(error) == {(3, None)}


def test_a_blank_header_cell_is_an_empty_column(write):
    path = write("email,,first_name\nana@example.org,,Ana\n")

    assert read_csv(path) == [(2, {"email": "ana@example.org", "first_name": "Ana"})]


def test_a_nul_byte_in_a_row(store, webinar, write):
    error = refusal(store, webinar, write("email,first_name\nana@example.org,An\x00a\n"))

    assert "people.csv:2: first_name: the first name contains a line break or another control character" in str(error)


def test_a_field_larger_than_the_csv_limit(store, webinar, write):
    huge = "x" * 200_000
    error = refusal(store, webinar, write(f'email,first_name\nana@example.org,Ana\nbob@example.org,"{huge}"\n'))

    assert "people.csv is not a readable CSV file" in str(error)
    assert "people.csv:3: field larger than field limit" in str(error)


def test_a_missing_file(store, webinar, workdir):
    error = refusal(store, webinar, workdir / "nowhere.csv")

    assert "Cannot read" in str(error)
    assert "nowhere.csv" in str(error)


# -- checking each value ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        '"Bob <evil@x.org>"',
        "Bob <evil@x.org>",
        "a@b@c.org",
        "name@localhost",
        "ana lima@example.org",
        "ana@exa mple.org",
        "ana@example.org\nBcc: evil@x.org",
        "ana@example.org,evil@x.org",
        "@example.org",
        "ana@",
    ],
)
def test_addresses_that_are_refused(address):
    with pytest.raises(ValueError, match=r"address|@"):
        validate.email_address(address)


def test_addresses_are_trimmed_and_lower_cased():
    assert validate.email_address("  Ana.Lima@Example.ORG ") == "ana.lima@example.org"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("<script>alert(1)</script>", "< or >"),
        ("Ana\u202eamiL", "text-direction"),
        ("An\x00a", "control character"),
        ("Ana\r\nBcc: evil@x.org", "line break"),
    ],
    ids=["html", "rtl-override", "nul", "crlf"],
)
def test_names_that_are_refused(name, reason):
    with pytest.raises(ValueError, match=reason):
        validate.person_text(name, "first name")


def test_inner_spaces_of_names_are_folded():
    assert validate.person_text("  Ana   Maria\u00a0 Lima ") == "Ana Maria Lima"


def test_country_codes():
    assert validate.country("kr") == "KR"
    for bad in ("XX", "KOR", "Korea"):
        with pytest.raises(ValueError, match="not a two-letter country code"):
            validate.country(bad)


@pytest.mark.parametrize(
    ("tag", "normalised"),
    [("fr", "fr"), ("es-419", "es-419"), ("zh-Hant", "zh-Hant"), ("zh_hant", "zh-Hant"), ("pt-br", "pt-BR")],
)
def test_language_codes(tag, normalised):
    assert validate.language(tag) == normalised


@pytest.mark.parametrize(("tag", "normalised"), [("EN", "en"), ("Fr", "fr"), ("PT-BR", "pt-BR")])
def test_language_codes_in_capitals_are_normalised(tag, normalised):
    assert validate.language(tag) == normalised


@pytest.mark.parametrize("tag", ["english", "xx", "e", "en-"])
def test_language_codes_that_are_refused(tag):
    with pytest.raises(ValueError, match="not a language code"):
        validate.language(tag)


def test_a_person_is_cleaned_field_by_field():
    person, problems = check_person(
        {"email": " Ana@Example.org", "first_name": " Ana  Maria ", "country": "br", "language": "pt", "last_name": " "}
    )

    assert problems == []
    assert person == Person(email="ana@example.org", first_name="Ana Maria", country="BR", language="pt")


def test_every_bad_field_of_a_person_is_reported():
    person, problems = check_person({"email": "ana@localhost", "first_name": "", "time_zone": "Europe/Pariss"})

    assert person is None
    assert [name for name, _ in problems] == ["email", "first_name", "time_zone"]


# -- duplicates and people already registered ---------------------------------------------------------


def test_duplicates_in_the_file_differing_only_by_case(store, webinar, write):
    path = write("email,first_name\nAna@Example.org,Ana\nbob@example.org,Bob\nana@example.ORG,Ana\n")

    error = refusal(store, webinar, path)

    assert "people.csv:4: email: ana@example.org is also on line 2" in str(error)
    assert places(error) == {(4, "email")}


def test_a_person_already_registered_with_the_same_values_is_unchanged(store, webinar, write):
    path = write("email,first_name,organisation\nana@example.org,Ana,UN DESA\n")
    do_import(store, webinar, path)

    plan = plan_import(store, webinar, path)

    assert (plan.new, plan.updated, plan.unchanged) == ([], [], 1)
    assert not plan.changes_anything


def test_a_changed_organisation_is_an_update(store, webinar, write):
    do_import(store, webinar, write("email,first_name,organisation\nana@example.org,Ana,UN DESA\n"))

    plan = do_import(store, webinar, write("email,first_name,organisation\nANA@example.org,Ana,UNPOG\n"))

    assert [(row.email, changes) for row, _, changes in plan.updated] == [("ana@example.org", ["organisation"])]
    assert store.registrant(webinar.id, "ana@example.org").organisation == "UNPOG"


def test_a_dry_run_shows_an_update_without_writing_it(cli, write):
    write("email,first_name,organisation\nana@example.org,Ana,UN DESA\n")
    assert cli("registrants", "import", SAMPLE_SLUG, "people.csv").code == 0
    before = listed(cli)
    write("email,first_name,organisation\nana@example.org,Ana,UNPOG\n")

    ran = cli("registrants", "import", SAMPLE_SLUG, "people.csv", "--dry-run")

    assert ran.code == 0, ran.stderr
    assert "0 would be added, 1 would be updated, 0 unchanged" in ran.stdout
    assert "To update" in ran.stdout
    assert "organisation" in ran.stdout
    assert "Dry run: nothing was written." in ran.stdout
    assert listed(cli) == before


def test_a_cancelled_person_in_the_file_stays_cancelled(store, webinar, write):
    path = write("email,first_name\nana@example.org,Ana\nbob@example.org,Bob\n")
    do_import(store, webinar, path)
    cancel_person(store, webinar, "ana@example.org", NOW)

    plan = do_import(store, webinar, path)

    assert [person.email for person in plan.left_cancelled] == ["ana@example.org"]
    assert plan.unchanged == 1
    assert store.registrant(webinar.id, "ana@example.org").status == "cancelled"


# -- dry runs and JSON ----------------------------------------------------------------------------


def test_a_dry_run_writes_nothing_and_says_what_would_be_added(cli):
    ran = cli("registrants", "import", SAMPLE_SLUG, SAMPLE_CSV, "--dry-run")

    assert ran.code == 0, ran.stderr
    assert "15 would be added, 0 would be updated, 0 unchanged" in ran.stdout
    assert "To add" in ran.stdout
    assert "ji-woo.kim@example.org" in ran.stdout
    assert "Dry run: nothing was written." in ran.stdout
    assert listed(cli) == []


def test_json_output_has_the_counts(cli):
    dry = cli("registrants", "import", SAMPLE_SLUG, SAMPLE_CSV, "--dry-run", "--json").json()
    real = cli("registrants", "import", SAMPLE_SLUG, SAMPLE_CSV, "--json").json()
    again = cli("registrants", "import", SAMPLE_SLUG, SAMPLE_CSV, "--json").json()

    assert dry["dry_run"] is True
    assert (dry["added"], dry["updated"], dry["unchanged"], dry["left_cancelled"]) == (15, 0, 0, 0)
    assert "ji-woo.kim@example.org" in dry["new"]
    assert real["dry_run"] is False
    assert real["added"] == 15
    assert (again["added"], again["updated"], again["unchanged"], again["new"]) == (0, 0, 15, [])


# -- all or nothing ----------------------------------------------------------------------------------


def many_rows(count: int) -> str:
    return HEADER + "".join(f"person{n}@example.org,Person,{n},,,,\n" for n in range(count))


def test_one_bad_row_at_the_end_of_5000_imports_nothing(cli, write):
    write(many_rows(5000) + "person@localhost,Last,Row,,,,\n")

    ran = cli("registrants", "import", SAMPLE_SLUG, "people.csv")

    assert_refused_cleanly(ran, "1 line need fixing", "people.csv:5002: email")
    assert listed(cli) == []


def test_5000_good_rows_are_all_imported(cli, write):
    write(many_rows(5000))

    ran = cli("registrants", "import", SAMPLE_SLUG, "people.csv", "--json")

    assert ran.code == 0, ran.stderr
    assert ran.json()["added"] == 5000
    assert len(listed(cli)) == 5000


def test_a_write_that_fails_half_way_leaves_nothing_behind(store, webinar):
    people = [Person(email=f"person{n}@example.org", first_name="Person") for n in range(600)]
    plan = ImportPlan("people.csv", new=[*people, people[0]])  # the last one breaks the unique index

    with pytest.raises(sqlite3.IntegrityError):
        apply_import(store, webinar, plan, NOW)

    assert store.registrants(webinar.id) == []


# -- adding, cancelling and listing one person ----------------------------------------------------------


def test_add_a_person_then_add_them_again(cli):
    first = cli("registrants", "add", SAMPLE_SLUG, "--email", "Ana@Example.org", "--first-name", "Ana")
    again = cli("registrants", "add", SAMPLE_SLUG, "--email", "ana@example.org", "--first-name", "Ana")

    assert (first.code, first.stdout.splitlines()[0]) == (0, "ana@example.org: added.")
    assert (again.code, again.stdout.strip()) == (0, "ana@example.org: unchanged.")
    assert [(row["email"], row["source"], row["status"]) for row in listed(cli)] == [
        ("ana@example.org", "cli", "approved")
    ]


def test_add_with_a_bad_email_names_the_option(cli):
    ran = cli("registrants", "add", SAMPLE_SLUG, "--email", "Bob <evil@x.org>", "--first-name", "Bob")

    assert_refused_cleanly(ran, "This person cannot be added", "command line: --email:")
    assert listed(cli) == []


def test_add_with_a_bad_time_zone_names_the_option(cli):
    ran = cli("registrants", "add", SAMPLE_SLUG, "--email=ana@example.org", "--first-name=Ana", "--time-zone=CEST")

    assert_refused_cleanly(ran, "--time-zone: unknown time zone 'CEST'", "IANA zone")


def test_add_updates_only_the_options_given(store, webinar):
    add_person(store, webinar, {"email": "ana@example.org", "first_name": "Ana", "organisation": "UN DESA"}, NOW)

    outcome = add_person(store, webinar, {"email": "ana@example.org", "first_name": "Ana", "country": "br"}, NOW)

    row = store.registrant(webinar.id, "ana@example.org")
    assert outcome == ("ana@example.org", "updated")
    assert (row.organisation, row.country) == ("UN DESA", "BR")


def test_cancel_then_the_person_is_listed_as_cancelled(cli):
    cli("registrants", "add", SAMPLE_SLUG, "--email", "ana@example.org", "--first-name", "Ana")
    cli("registrants", "add", SAMPLE_SLUG, "--email", "bob@example.org", "--first-name", "Bob")

    ran = cli("registrants", "cancel", SAMPLE_SLUG, "ANA@example.org")

    assert ran.code == 0, ran.stderr
    assert "Cancelled ana@example.org" in ran.stdout
    assert [row["email"] for row in listed(cli, "--status", "cancelled")] == ["ana@example.org"]
    assert [row["email"] for row in listed(cli, "--status", "approved")] == ["bob@example.org"]
    assert "already cancelled" in cli("registrants", "cancel", SAMPLE_SLUG, "ana@example.org").stdout


def test_cancelling_an_unknown_address(cli):
    ran = cli("registrants", "cancel", SAMPLE_SLUG, "nobody@example.org")

    assert_refused_cleanly(ran, f"nobody@example.org is not registered for {SAMPLE_SLUG}")


def test_cancelling_a_malformed_address(store, webinar):
    with pytest.raises(InputError, match="Cannot cancel") as caught:
        cancel_person(store, webinar, "nobody", NOW)

    assert not isinstance(caught.value, NotFound)


def test_adding_a_cancelled_person_again_reactivates_them(cli):
    cli("registrants", "add", SAMPLE_SLUG, "--email", "ana@example.org", "--first-name", "Ana", "--last-name", "Lima")
    cli("registrants", "cancel", SAMPLE_SLUG, "ana@example.org")

    ran = cli("registrants", "add", SAMPLE_SLUG, "--email", "ana@example.org", "--first-name", "Ana")

    assert ran.code == 0, ran.stderr
    assert "ana@example.org: re-activated." in ran.stdout
    [row] = listed(cli)
    assert (row["status"], row["last_name"]) == ("approved", "Lima")


@pytest.fixture
def synced(cli):
    """The sample registrants imported and registered with the local provider."""
    assert cli("registrants", "import", SAMPLE_SLUG, SAMPLE_CSV).code == 0
    ran = cli("sync", SAMPLE_SLUG)
    assert ran.code == 0, ran.stderr
    return cli


def test_list_masks_join_links_after_sync(synced):
    links = [row["join_url"] for row in listed(synced, "--show-links")]
    tokens = [link.rsplit("/", 1)[1] for link in links]
    assert len(tokens) == 15
    assert all(len(token) >= 20 for token in tokens)

    table = synced("registrants", "list", SAMPLE_SLUG).stdout
    masked = [row["join_url"] for row in listed(synced)]

    assert masked == [f"http://localhost:8080/j/{token[:4]}…" for token in tokens]
    for token in tokens:
        assert token not in table
        assert f"/j/{token[:4]}…" in table


def test_list_with_show_links_shows_them_in_full(synced):
    links = [row["join_url"] for row in listed(synced, "--show-links")]

    table = synced("registrants", "list", SAMPLE_SLUG, "--show-links").stdout

    assert all(link.startswith("http://localhost:8080/j/") for link in links)
    missing = [link for link in links if link not in table]
    assert missing == [], "links folded across lines in the --show-links table"
