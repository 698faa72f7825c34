"""Hostile and broken input.

1. Whatever bytes a registrant CSV or a webinar definition holds, the outcome is a clear
   InputError (file, line, fix) with the store unchanged, or a correct import: never another
   exception, never a partial import. Property tests, a seeded mutation fuzz run, the real
   command line, and a million rows.
2. What people type (names, titles, speakers, readings, questions, addresses, links) reaches a
   mail only as text: never a header of its own, never markup, never a template to evaluate.
   Checked in the composed message bytes: headers parsed back, HTML escaped, invite lines.
3. Whatever a link's token holds (a mail client's mangling, a prober's guesses, bytes that are
   no UTF-8, digits of other scripts, numbers of any size), the real web service answers it as
   an unknown link, 404, never an error; a form's damaged mark or token is refused as such.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import http.client
import io
import os
import random
import re
import subprocess
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pytest
from conftest import KEYS, NOW, SAMPLE_CSV, SAMPLE_DEFINITION, SAMPLE_SLUG, TEST_SECRET_KEY, definition_variant
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from markupsafe import escape
from test_compose import AMELIE, AN_HOUR_BEFORE, header_lines, parse, person, reminder, save, the_part
from test_registrants import assert_refused_cleanly, listed

from webinar_ops.config import load_settings
from webinar_ops.definition import Definition, load_definition
from webinar_ops.errors import InputError
from webinar_ops.mail.compose import Composer
from webinar_ops.registrants import COLUMNS, ImportPlan, apply_import, plan_import
from webinar_ops.store import Registrant

hostile = hypothesis_settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
ADDRESS_TRICKS = ['"ceo@bank.com" <evil@x.org>', "a@b.org, c@d.org", "a@b.org\r\nBcc: x@y.org"]
TEMPLATE_SYNTAX = ["{{ 7*7 }}", "{% for x in range(3) %}x{% endfor %}", "{{ cycler.__init__.__globals__ }}"]


# -- fixtures, what the store holds, and what an error must say ----------------------------------------


@pytest.fixture
def webinar(store):
    return save(store, SAMPLE_DEFINITION)


@pytest.fixture
def cli(run):
    """The command line in a project that has run `init` and added the sample webinar."""
    assert run("init").code == 0
    assert run("webinar", "add", "data/webinars/undesa-snu-session-5.toml").code == 0
    return run


def registrants_table(store) -> list[dict]:
    return list(store.db.query("SELECT * FROM registrants ORDER BY id"))


def import_file(store, webinar, path: Path) -> ImportPlan | InputError:
    """Import `path` as the command line does. On a refusal, check that nothing changed."""
    before = registrants_table(store)
    try:
        plan = plan_import(store, webinar, path)
    except InputError as error:
        assert registrants_table(store) == before, "a refused import changed the store"
        return error
    apply_import(store, webinar, plan, NOW)
    return plan


def assert_located(error: InputError, path: Path) -> None:
    """Each problem names the file, a line and a fix (bar the "... and N more" tally)."""
    assert error.problems, str(error)
    for problem in error.problems:
        if problem.message.startswith("... and"):
            continue
        assert problem.source == str(path), str(problem)
        assert problem.line is not None, str(problem)
        assert problem.line >= 1, str(problem)
        assert problem.fix, f"no fix for: {problem}"


def is_clean_text(value: str | None) -> bool:
    """What may be stored as a name: visible, one line, no markup or text-direction tricks."""
    if value is None:
        return True
    return (
        value == " ".join(value.split())
        and not any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") or ch in BIDI for ch in value)
        and "<" not in value
        and ">" not in value
        and "=?" not in value
        and any(unicodedata.category(ch)[0] in "LNPS" for ch in value)
    )


def assert_stored_correctly(store, webinar, plan: ImportPlan) -> None:
    """Everyone the plan adds or updates is stored as planned, and what is stored is clean."""
    for someone in [*plan.new, *(p for _, p, _ in plan.updated)]:
        given = {name: value for name, value in someone.fields().items() if value is not None}
        row = store.registrant(webinar.id, someone.email)
        assert {name: getattr(row, name) for name in given} == given
        assert re.fullmatch(r"[a-z0-9!#$%&'*+/=?^_`{|}~.-]+@[a-z0-9.-]+\.[a-z0-9-]+", row.email), row.email
        assert all(is_clean_text(getattr(row, k)) for k in ("first_name", "last_name", "organisation", "job_title"))


# -- 1. the CSV importer: any bytes ------------------------------------------------------------------

HEADER = ",".join(COLUMNS).encode()
any_bytes = st.tuples(
    st.sampled_from([b"", codecs.BOM_UTF8, HEADER + b"\n", codecs.BOM_UTF8 + HEADER + b"\r\n", codecs.BOM_UTF16_LE]),
    st.binary(max_size=600),
).map(b"".join)


@hostile
@given(content=any_bytes)
def test_any_bytes_are_a_located_refusal_or_a_correct_import(store, webinar, write, content):
    path = write(content)

    outcome = import_file(store, webinar, path)

    if isinstance(outcome, InputError):
        assert_located(outcome, path)
    else:
        assert_stored_correctly(store, webinar, outcome)


HOSTILE_CELLS = [
    *ADDRESS_TRICKS,
    *TEMPLATE_SYNTAX,
    "ana@example.org",
    "ANA@Example.org",
    "bob@example.org",
    "Ana\r\nBcc: evil@x.org",
    "An\x00a",
    "<script>alert(1)</script>",
    "Amélie\u202egpj.exe",
    "=?utf-8?q?Eve=0D=0ABcc:_evil@x.org?=",
    "\u200b",
    "Lima, Ana",
    'Say "hi"',
    "x" * 300,
    "A" * 300,
    "Europe/Paris",
    "Mars/Olympus",
    "KR",
    "ko",
    "",
]
HEADER_CELLS = [*COLUMNS, "email", "E-Mail", "FIRST NAME", "phone", ""]


@st.composite
def hostile_csv(draw) -> tuple[bytes, str]:
    """A CSV with a plausible or broken header and hostile cells, in a random dialect and encoding."""
    header = draw(st.lists(st.sampled_from(HEADER_CELLS), min_size=1, max_size=6))
    cell = st.one_of(st.sampled_from(HOSTILE_CELLS), st.text(max_size=12))
    rows = draw(st.lists(st.lists(cell, max_size=len(header) + 1), max_size=6))
    buffer = io.StringIO()
    dialect = {"delimiter": draw(st.sampled_from(",;\t")), "lineterminator": draw(st.sampled_from(["\n", "\r\n"]))}
    csv.writer(buffer, **dialect).writerows([header, *rows])
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]))
    return buffer.getvalue().encode(encoding, errors="replace"), encoding


@hostile
@given(file=hostile_csv())
def test_a_hostile_csv_is_a_located_refusal_or_a_correct_import(store, webinar, write, file):
    content, encoding = file
    path = write(content)

    outcome = import_file(store, webinar, path)

    if isinstance(outcome, InputError):
        assert_located(outcome, path)
        if encoding == "utf-16":
            assert "UTF-16" in str(outcome)
    else:
        assert encoding != "utf-16", "UTF-16 read as if it were UTF-8"
        assert_stored_correctly(store, webinar, outcome)


# Names as people write them, in any script: never refused.
plain_names = st.text(
    alphabet=st.characters(whitelist_categories=("Lu", "Ll", "Lo", "Nd"), max_codepoint=0x9FFF), min_size=1, max_size=20
)


@st.composite
def well_formed_csv(draw) -> tuple[bytes, dict[str, tuple[str, str]]]:
    """Good people in any column order, header case, delimiter, line end, with or without a BOM."""
    count = draw(st.integers(1, 8))
    people = {f"person{n}@example.org": (draw(plain_names), draw(plain_names)) for n in range(count)}
    columns = draw(st.permutations(["email", "first_name", "last_name"]))
    spelled = [draw(st.sampled_from([c, c.upper(), c.replace("_", " ").title()])) for c in columns]
    rows = [
        [{"email": e.upper(), "first_name": f, "last_name": last}[c] for c in columns]
        for e, (f, last) in people.items()
    ]
    buffer = io.StringIO()
    dialect = {"delimiter": draw(st.sampled_from(",;\t")), "lineterminator": draw(st.sampled_from(["\n", "\r\n"]))}
    csv.writer(buffer, **dialect).writerows([spelled, *rows])
    return draw(st.sampled_from([b"", codecs.BOM_UTF8])) + buffer.getvalue().encode("utf-8"), people


@hostile
@given(file=well_formed_csv())
def test_a_well_formed_file_in_any_dialect_imports_exactly_its_people(store, webinar, write, file):
    content, people = file
    store.db.execute("DELETE FROM registrants")

    outcome = import_file(store, webinar, write(content))

    assert isinstance(outcome, ImportPlan), str(outcome)
    stored = {row["email"]: (row["first_name"], row["last_name"]) for row in registrants_table(store)}
    assert stored == people


# -- 1. the CSV importer: particular damage --------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        "email,first_name\nana@example.org,Ana\n".encode("utf-16"),
        "email,first_name\nana@example.org,Ana\n".encode("utf-16-be"),
        "email,first_name\nana@example.org,Ana\n".encode("utf-16-le"),
        codecs.BOM_UTF16_BE + "email,first_name\n".encode("utf-16-be"),
    ],
    ids=["utf-16-with-bom", "utf-16-be-without-bom", "utf-16-le-without-bom", "utf-16-be-with-bom"],
)
def test_a_utf16_file_is_named_as_such_with_the_fix(store, webinar, write, content):
    path = write(content)

    error = import_file(store, webinar, path)

    assert isinstance(error, InputError)
    assert f"{path} is UTF-16 text, not UTF-8" in str(error)
    assert "CSV UTF-8" in str(error)
    assert_located(error, path)


def test_a_huge_header_cell_is_quoted_short_in_the_error(store, webinar, write):
    path = write("email,first_name," + "q" * 100_000 + "\nana@example.org,Ana,\n")

    error = import_file(store, webinar, path)

    assert isinstance(error, InputError)
    assert "unknown column 'qqqq" in str(error)
    assert len(str(error)) < 1_000


def test_a_header_of_a_hundred_thousand_cells_is_refused_in_a_few_lines(store, webinar, write):
    path = write("email,first_name," + ",".join(["phone"] * 100_000) + "\nana@example.org,Ana\n")

    error = import_file(store, webinar, path)

    assert isinstance(error, InputError)
    assert len(error.problems) <= 201
    assert "... and 99,800 more columns like these" in str(error)


def test_a_line_of_ten_megabytes_is_refused_without_reading_it_whole(store, webinar, write):
    path = write(b"email,first_name\nana@example.org,Ana\n" + b"x" * 10_000_000)

    error = import_file(store, webinar, path)

    assert isinstance(error, InputError)
    assert f"{path}:3: the line is longer than" in str(error)
    assert_located(error, path)


def test_a_time_zone_name_too_long_for_a_file_name_is_an_unknown_zone(store, webinar, write):
    path = write("email,first_name,time_zone\nana@example.org,Ana," + "A" * 300 + "\n")

    error = import_file(store, webinar, path)

    assert isinstance(error, InputError)
    assert f"{path}:2: time_zone: unknown time zone 'AAAA" in str(error)


@pytest.mark.parametrize("address", ADDRESS_TRICKS)
def test_an_address_with_a_display_name_trick_is_refused_on_its_line(store, webinar, write, address):
    rows = [["email", "first_name"], ["ana@example.org", "Ana"], [address, "Eve"]]
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    path = write(buffer.getvalue())

    error = import_file(store, webinar, path)

    assert isinstance(error, InputError)
    assert [(p.line, p.field) for p in error.problems] == [(3, "email")]
    assert "plain email address" in str(error)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("\u200b\u200b", "no visible"),
        ("\u0301\u0301", "no visible"),
        ("Ana\u2029Bcc: evil@x.org", "line break"),
        ("Amélie\u2067gpj.exe", "text-direction"),
    ],
    ids=["zero-width-spaces", "combining-marks-alone", "paragraph-separator", "isolate"],
)
def test_a_name_that_would_show_nothing_or_mislead_is_refused(store, webinar, write, name, reason):
    path = write(f"email,first_name\nana@example.org,{name}\n")

    error = import_file(store, webinar, path)

    assert isinstance(error, InputError)
    assert [(p.line, p.field) for p in error.problems] == [(2, "first_name")]
    assert reason in str(error)


def test_a_bad_import_after_a_good_one_leaves_the_first_untouched(store, webinar, write):
    assert isinstance(import_file(store, webinar, SAMPLE_CSV), ImportPlan)
    before = registrants_table(store)
    changed = SAMPLE_CSV.read_text(encoding="utf-8").replace("Ji-woo", "Ji-hoon")  # an update ...
    path = write(changed + "eve@example.org,Eve\u202e,,,,,,\n")  # ... and a bad row at the end

    error = import_file(store, webinar, path)

    assert isinstance(error, InputError)
    assert registrants_table(store) == before


# -- 1. the command line ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("email,first_name\nana@example.org,“Ana”\n".encode("cp1252"), "people.csv:2: byte 0x93 is not UTF-8"),
        ("email,first_name\nana@example.org,Ana\n".encode("utf-16"), "people.csv is UTF-16 text, not UTF-8"),
        (bytes(random.Random(5).randrange(256) for _ in range(4000)), "people.csv"),
        (b"email,first_name,time_zone\nana@example.org,Ana," + b"A" * 300 + b"\n", "unknown time zone"),
        (b"email;first_name;email\nana@example.org;Ana;ana@example.org\n", "column 'email' appears twice"),
        (b"first_name,last_name\nAna,Lima\n", "no email column"),
    ],
    ids=["cp1252", "utf-16", "random-bytes", "long-zone", "duplicated-column", "missing-column"],
)
def test_the_command_line_refuses_broken_files_with_exit_2_and_no_traceback(cli, write, content, expected):
    write(content)

    ran = cli("registrants", "import", SAMPLE_SLUG, "people.csv")

    assert_refused_cleanly(ran, expected, "fix: ")
    assert "unexpected" not in ran.stderr
    assert listed(cli) == []


def test_add_with_a_time_zone_too_long_for_a_file_name_exits_2(cli):
    ran = cli(
        "registrants", "add", SAMPLE_SLUG, "--email=ana@example.org", "--first-name=Ana", "--time-zone=" + "A" * 300
    )

    assert_refused_cleanly(ran, "--time-zone: unknown time zone")
    assert listed(cli) == []


# -- 1. a million rows -------------------------------------------------------------------------------


def write_people(path: Path, count: int) -> Path:
    with path.open("w", encoding="utf-8") as out:
        out.write("email,first_name,last_name,organisation,country,time_zone,language\n")
        out.writelines(
            f"person{n}@example.org,Person,Number {n},Ministry of Examples,KR,Asia/Seoul,ko\n" for n in range(count)
        )
    return path


# VmHWM is this process's own peak. getrusage's ru_maxrss is not: Linux carries the parent's peak
# over fork and exec, so under a large pytest process it would report pytest's memory.
MEASURED = """
import atexit, re, runpy, sys
def peak():
    with open("/proc/self/status") as status:
        print("peak-rss-kib=" + re.search(r"VmHWM:\\s+(\\d+)", status.read()).group(1), file=sys.stderr)
atexit.register(peak)
sys.argv = ["webinar-ops", *sys.argv[1:]]
runpy.run_module("webinar_ops", run_name="__main__")
"""


def run_measured(workdir: Path, *args: str) -> tuple[int, str, str, float, int]:
    """Run the command line in its own process; return its exit code, output, seconds and peak RSS in MiB."""
    env = {k: v for k, v in os.environ.items() if k not in KEYS}
    started = time.monotonic()
    process = subprocess.run(
        [sys.executable, "-c", MEASURED, *args], cwd=workdir, capture_output=True, text=True, env=env, timeout=300
    )
    seconds = time.monotonic() - started
    peak = int(re.search(r"peak-rss-kib=(\d+)", process.stderr).group(1)) // 1024
    return process.returncode, process.stdout, process.stderr, seconds, peak


def test_a_million_rows_are_refused_at_once_in_bounded_memory(cli, workdir):
    write_people(workdir / "million.csv", 1_000_000)
    write_people(workdir / "ten.csv", 10)
    *_, baseline_mib = run_measured(workdir, "registrants", "import", SAMPLE_SLUG, "ten.csv", "--dry-run")

    code, _, stderr, seconds, peak_mib = run_measured(workdir, "registrants", "import", SAMPLE_SLUG, "million.csv")

    print(f"\n1,000,000 rows: exit {code} in {seconds:.1f} s, peak RSS {peak_mib} MiB")
    assert code == 2, stderr
    assert "million.csv:200002: more than 200,000 people" in stderr
    assert "Traceback" not in stderr
    assert "fix: " in stderr
    # Holding the 200,000 rows before the limit would cost well over 100 MiB more than ten rows.
    assert peak_mib < baseline_mib + 50, f"{peak_mib} MiB against {baseline_mib} MiB for ten rows"
    assert listed(cli) == []


def test_a_hundred_thousand_rows_still_import(cli, workdir):
    write_people(workdir / "many.csv", 100_000)

    code, stdout, stderr, seconds, peak_mib = run_measured(workdir, "registrants", "import", SAMPLE_SLUG, "many.csv")

    print(f"\n100,000 rows: exit {code} in {seconds:.1f} s, peak RSS {peak_mib} MiB")
    assert code == 0, stderr
    assert "100000 were added" in stdout
    assert len(listed(cli)) == 100_000


# -- 1. the definition loader -----------------------------------------------------------------------


def refusal_of(path: Path) -> InputError:
    with pytest.raises(InputError) as caught:
        load_definition(path)
    return caught.value


def assert_definition_problems_are_clear(error: InputError, path: Path) -> None:
    """Each problem names the file and carries a fix; it has a line unless something is missing."""
    assert error.problems, str(error)
    for problem in error.problems:
        assert problem.source == str(path), str(problem)
        assert problem.fix, f"no fix for: {problem}"
        assert problem.line is not None or "missing" in problem.message or "neither" in problem.message, str(problem)


def load_or_refusal(path: Path) -> Definition | InputError:
    try:
        return load_definition(path)
    except InputError as error:
        return error


def toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    escaped = "".join(
        f"\\u{ord(ch):04x}" if ord(ch) < 0x20 or ch == "\x7f" else "\\" + ch if ch in '"\\' else ch for ch in text
    )
    return f'"{escaped}"'


class Bare(str):
    """A TOML value written as it is: a date, a time, a date and time."""


def toml_value(value: object) -> str:
    if isinstance(value, Bare):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    return str(value)  # numbers


KEYS_ANYWHERE = [
    "slug", "title", "series", "start", "end", "duration", "time_zone", "name", "role", "url", "items", "part",
    "email", "purpose", "offsets", "grace", "approval", "webinar_id", "agenda", "speakers", "schedule", "titel",
]  # fmt: skip
SCALARS = [
    "2021-04-30 15:00", "0001-01-01 00:00", "9999-12-31 23:59", "Asia/Seoul", "Mars/Olympus", "A" * 300, "90m",
    "999999999d", "15:45", "25:99", "https://example.org/a", "javascript:alert(1)", "create", "yaok@un.org",
    *ADDRESS_TRICKS, *TEMPLATE_SYNTAX, "<script>", "Ana\r\nBcc: x@y.org", "\u202e", "",
]  # fmt: skip
scalars = st.one_of(
    st.sampled_from(SCALARS),
    st.text(max_size=10),
    st.integers(-(2**63), 2**63 - 1),
    st.booleans(),
    st.floats(allow_nan=False),
    st.sampled_from(["1979-05-27T07:32:00", "1979-05-27", "07:32:00", "2021-04-30T15:00:00+09:00"]).map(Bare),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS_ANYWHERE), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def definition_documents(draw) -> str:
    """A TOML document of the definition's shape with values of any type, some right, most wrong."""
    good = {
        "slug": "fuzz",
        "title": "Fuzz",
        "schedule": {"start": "2021-04-30 15:00", "time_zone": "Asia/Seoul", "duration": "90m"},
    }
    keys = draw(
        st.lists(
            st.sampled_from([*good, "agenda", "readings", "questions", "contacts", "reminders", "mail"]), unique=True
        )
    )
    lines = []
    for key in keys:
        value = good[key] if key in good and draw(st.booleans()) else draw(values)
        if key in ("agenda", "readings", "questions", "contacts") and draw(st.booleans()):
            value = draw(st.lists(st.dictionaries(st.sampled_from(KEYS_ANYWHERE), values, max_size=4), max_size=2))
        lines.append(f"{key} = {toml_value(value)}")
    return "\n".join(lines) + "\n"


@hostile
@given(document=definition_documents())
def test_any_definition_document_loads_or_is_refused_clearly(tmp_path, document):
    path = tmp_path / "fuzz.toml"
    path.write_text(document, encoding="utf-8")

    outcome = load_or_refusal(path)

    if isinstance(outcome, InputError):
        assert_definition_problems_are_clear(outcome, path)
    else:
        assert outcome.end > outcome.start


@hostile
@given(content=st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_any_bytes_as_a_definition_are_refused_clearly(tmp_path, content):
    path = tmp_path / "fuzz.toml"
    path.write_bytes(content)

    outcome = load_or_refusal(path)

    assert isinstance(outcome, InputError)
    assert_definition_problems_are_clear(outcome, path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x = " + "[" * 5000 + "]" * 5000, "nested too deeply"),
        ("x = " + "{a = " * 5000 + "1" + "}" * 5000, "nested too deeply"),
        ("[" + ".".join(["a"] * 5000) + "]\n", "unknown key `a`"),
    ],
    ids=["arrays", "inline-tables", "dotted-tables"],
)
def test_deep_nesting_is_refused_clearly(tmp_path, text, expected):
    path = tmp_path / "deep.toml"
    path.write_text(text, encoding="utf-8")

    error = refusal_of(path)

    assert expected in str(error)
    assert_definition_problems_are_clear(error, path)


@pytest.mark.parametrize(
    ("replacements", "field", "expected"),
    [
        ({'"2021-04-30 15:00"': '"0001-01-01 00:30"'}, "schedule.start", "between 1970 and 2100"),
        ({'"2021-04-30 15:00"': '"9999-12-31 23:00"'}, "schedule.start", "between 1970 and 2100"),
        ({'duration = "90m"': 'duration = "99999999d"'}, "schedule.duration", "too long"),
        ({'offsets = ["7d", "1d", "1h"]': 'offsets = ["999999999d"]'}, "reminders.offsets[0]", "more than a year"),
        (
            {'offsets = ["7d", "1d", "1h"]': 'offsets = ["1d"]\ngrace = "999999999d"'},
            "reminders.grace",
            "more than a year",
        ),
        ({'time_zone = "Asia/Seoul"': 'time_zone = "' + "A" * 300 + '"'}, "schedule.time_zone", "unknown time zone"),
    ],
    ids=["year-1", "year-9999", "endless", "reminder-long-before", "endless-grace", "zone-too-long-for-a-file-name"],
)
def test_absurd_times_are_refused_clearly(tmp_path, replacements, field, expected):
    path = definition_variant(tmp_path, replacements)

    error = refusal_of(path)

    assert [p.field for p in error.problems] == [field], str(error)
    assert expected in str(error)
    assert_definition_problems_are_clear(error, path)


def test_a_definition_of_many_megabytes_is_refused_without_parsing_it(tmp_path):
    path = definition_variant(tmp_path, {'language = "en"': 'language = "en"\n# ' + "x" * 5_000_000})

    error = refusal_of(path)

    assert "larger than 1 MB" in str(error)
    assert_definition_problems_are_clear(error, path)


def test_a_value_where_a_table_belongs_gets_a_line_and_a_fix(tmp_path):
    path = tmp_path / "webinar.toml"
    path.write_text('slug = "a"\ntitle = "A"\nmoderator = 3\nagenda = "none"\nschedule = "2021-04-30 15:00"\n')

    error = refusal_of(path)

    assert sorted((p.line, p.field) for p in error.problems) == [(3, "moderator"), (4, "agenda"), (5, "schedule")]
    assert_definition_problems_are_clear(error, path)


def test_the_command_line_refuses_a_deeply_nested_definition_with_exit_2(run, workdir):
    (workdir / "deep.toml").write_text("x = " + "[" * 5000 + "]" * 5000, encoding="utf-8")
    assert run("init").code == 0

    ran = run("webinar", "add", "deep.toml")

    assert_refused_cleanly(ran, "deep.toml:1: ", "nested too deeply", "fix: ")
    assert run("webinar", "list", "--json").json() == []


# -- 1. a seeded mutation fuzz run --------------------------------------------------------------------

TOKENS = [
    b'"', b"'", b"[", b"]", b"[[", b"]]", b"=", b"\n", b"\r\n", b"\r", b",", b";", b"\t", b"\x00", b"\xff\xfe",
    b"\xef\xbb\xbf", b"\xe2\x80\xae", b"\\u0000", b"\\r\\n", b"{{ 7*7 }}", b"<script>", b"0001-01-01 00:00",
    b"999999999d", b"[" * 3000, b"A" * 300, b"Mars/Olympus", b"=?utf-8?q?=0D=0A?=", b'"""', b"#",
]  # fmt: skip


def mutants(original: bytes, seed: int, count: int):
    """`count` copies of `original`, each damaged in one to eight places: bytes dropped, flipped,
    inserted, lines repeated."""
    rng = random.Random(seed)
    lines = original.splitlines(keepends=True)
    for _ in range(count):
        data = bytearray(original)
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(len(data) + 1)
            kind = rng.randrange(5)
            if kind == 0:
                del data[at : at + rng.randint(1, 40)]
            elif kind == 1:
                data[at:at] = rng.choice(TOKENS)
            elif kind == 2 and at < len(data):
                data[at] = rng.randrange(256)
            elif kind == 3:
                data[at:at] = rng.choice(lines)
            else:
                data[at:at] = rng.randbytes(rng.randint(1, 8))
        yield bytes(data)


FUZZ_RUNS = 3000


def test_fuzz_run_over_the_definition_loader(tmp_path):
    outcomes = Counter()
    path = tmp_path / "webinar.toml"
    for mutant in mutants(SAMPLE_DEFINITION.read_bytes(), seed=20210430, count=FUZZ_RUNS):
        path.write_bytes(mutant)
        outcome = load_or_refusal(path)
        if isinstance(outcome, InputError):
            assert_definition_problems_are_clear(outcome, path)
        outcomes[type(outcome).__name__] += 1
    print(f"\ndefinition fuzz run: {dict(outcomes)}")
    assert outcomes["InputError"] > FUZZ_RUNS // 2


def test_fuzz_run_over_the_csv_importer(store, webinar, workdir):
    outcomes = Counter()
    path = workdir / "people.csv"
    for mutant in mutants(SAMPLE_CSV.read_bytes(), seed=20210430, count=FUZZ_RUNS):
        store.db.execute("DELETE FROM registrants")
        path.write_bytes(mutant)
        outcome = import_file(store, webinar, path)
        if isinstance(outcome, InputError):
            assert_located(outcome, path)
        else:
            assert_stored_correctly(store, webinar, outcome)
        outcomes[type(outcome).__name__] += 1
    print(f"\nCSV fuzz run: {dict(outcomes)}")
    assert outcomes["InputError"] > FUZZ_RUNS // 2
    assert outcomes["ImportPlan"] > 0


# -- 2. what people type, in the composed message --------------------------------------------------

EXPECTED_HEADERS = {
    "From", "To", "Reply-To", "Subject", "Date", "Message-ID", "Auto-Submitted", "X-Auto-Response-Suppress",
    "List-Unsubscribe", "Content-Type", "MIME-Version",
}  # fmt: skip


@pytest.fixture
def composer(store, settings) -> Composer:
    return Composer(save(store, SAMPLE_DEFINITION), settings)


def message_of(composer: Composer, registrant: dict) -> tuple[bytes, dict[str, str]]:
    """The message as sent, and its text, HTML and calendar parts decoded."""
    raw = composer.message_bytes(reminder(), registrant, AN_HOUR_BEFORE)
    message = parse(raw)
    parts = {kind: the_part(message, f"text/{kind}").get_content() for kind in ("plain", "html", "calendar")}
    return raw, parts


def assert_headers_are_only_ours(raw: bytes, recipient: str) -> None:
    """No header was added, each is one logical line, and the mail goes to `recipient` alone."""
    message = parse(raw)
    # A registrant from the database also has a one-click unsubscribe link (RFC 8058).
    one_click = str(message["List-Unsubscribe"]).startswith("<http")
    expected = EXPECTED_HEADERS | ({"List-Unsubscribe-Post"} if one_click else set())
    assert set(message.keys()) == expected
    assert all(len(message.get_all(name)) == 1 for name in expected)
    top = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    names = [line.split(b":", 1)[0].decode() for line in top if line[:1] not in (b" ", b"\t")]
    assert sorted(names) == sorted(expected), names
    assert [a.addr_spec for a in message["To"].addresses] == [recipient]
    assert len(message["Reply-To"].addresses) == 1
    assert len(message["From"].addresses) == 1
    for name, value in message.items():
        assert not any(unicodedata.category(ch) == "Cc" or ch in BIDI for ch in str(value)), name
    assert not [line for line in header_lines(raw) if line.lower().startswith((b"bcc", b"cc:"))]


def ics_lines(calendar_text: str) -> list[str]:
    return re.sub(r"\r\n[ \t]", "", calendar_text.replace("\r\n", "\n").replace("\n", "\r\n")).split("\r\n")


def assert_one_attendee(calendar_text: str, recipient: str) -> None:
    attendees = [line for line in ics_lines(calendar_text) if line.startswith("ATTENDEE")]
    assert len(attendees) == 1
    assert attendees[0].endswith(f":mailto:{recipient}")


hostile_text = st.lists(
    st.one_of(
        st.sampled_from(["\r", "\n", "\r\n", "\x00", "\x0b", "\x85", "\u2028", ":", "<", ">", '"', ",", "@", *BIDI]),
        st.sampled_from(["=?", "?=", "=?utf-8?q?=0D=0A?=", "Bcc: evil@x.org", "ceo@bank.com", "<script>", "{{ 7*7 }}"]),
        st.characters(blacklist_categories=("Cs",)),
    ),
    max_size=12,
).map("".join)


@hostile
@given(first_name=hostile_text, last_name=hostile_text)
def test_no_name_a_row_can_hold_adds_a_header_or_a_recipient(composer, first_name, last_name):
    """Rows are checked on the way in; should one arrive unchecked, the mail is still safe."""
    raw, parts = message_of(composer, person(first_name=first_name or "Ana", last_name=last_name))

    assert_headers_are_only_ours(raw, AMELIE)
    assert_one_attendee(parts["calendar"], AMELIE)
    assert "<script" not in parts["html"].lower()


def import_one(store, record, write, **values: str) -> Registrant:
    """Import one person through a CSV file, as an organiser would; return their stored row."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["email", *values], [AMELIE, *values.values()]])
    assert isinstance(import_file(store, record, write(buffer.getvalue())), ImportPlan)
    return dataclasses.replace(store.registrant(record.id, AMELIE), join_url=None)


@pytest.mark.parametrize("name", TEMPLATE_SYNTAX, ids=["jinja-expression", "jinja-loop", "jinja-globals"])
def test_a_name_with_template_syntax_is_only_text_in_the_mail(store, settings, write, name):
    record = save(store, SAMPLE_DEFINITION)
    row = import_one(store, record, write, first_name=name, time_zone="Europe/Paris")

    raw, parts = message_of(Composer(record, settings), row)

    assert_headers_are_only_ours(raw, AMELIE)
    assert parse(raw)["To"].addresses[0].display_name == name
    assert f"Dear {name}," in parts["plain"]
    assert f"Dear {escape(name)}," in parts["html"]
    assert "49" not in parts["plain"] + parts["html"]
    assert "xxx" not in parts["plain"] + parts["html"]


def test_an_older_databases_name_with_quotes_and_an_address_is_only_text_in_the_to_header(composer):
    """Names holding an address are refused on the way in now; a database may still hold one."""
    raw, _ = message_of(composer, person(first_name='Lima, Ana "the ceo@bank.com"', last_name=None))

    assert_headers_are_only_ours(raw, AMELIE)
    assert parse(raw)["To"].addresses[0].display_name == "Lima Ana the ceo bank.com"


def test_a_long_name_ending_in_an_address_stays_a_name_when_the_header_is_folded(composer):
    """Names stored before they were checked for addresses may hold ':' and '@'. This Python
    drops the quotes around a display name when it folds a long header, and `Name: evil@x.org`
    then reads as a group holding that address."""
    row = person(first_name="Anastasia " + "Maria " * 9, last_name="Bcc: evil@x.org")

    raw, _ = message_of(composer, row)

    assert_headers_are_only_ours(raw, AMELIE)
    assert b"evil@x.org" not in raw.split(b"\r\n\r\n", 1)[0]


def test_a_long_contact_name_ending_in_an_address_does_not_become_the_reply_to(store, settings, tmp_path):
    contact = '"Ms. Jihyun (Jenny) Jeoung, Registration Desk of the Capacity Development Session Series: evil@x.org"'
    record = save(store, definition_variant(tmp_path, {'"Ms. Jihyun (Jenny) Jeoung"': contact}))

    raw, _ = message_of(Composer(record, settings), person())

    assert_headers_are_only_ours(raw, AMELIE)
    assert [a.addr_spec for a in parse(raw)["Reply-To"].addresses] == ["jihyun.joung@un.org"]
    assert b"evil@x.org" not in raw.split(b"\r\n\r\n", 1)[0]


@pytest.mark.parametrize("address", [*ADDRESS_TRICKS, "evil@x.org>, <ceo@bank.com", "a@b@c.org"])
def test_a_recipient_address_with_a_trick_is_never_written_into_a_message(composer, address):
    with pytest.raises(ValueError, match=r"cannot write a mail to"):
        composer.message_bytes(reminder(), person(email=address), AN_HOUR_BEFORE)


# The organiser's words: allowed where they are only text, refused where they would be more.
PROGRAMME_TEXT = {
    'title = "Strengthening': 'title = "{{ 7*7 }} & {% if true %}yes{% endif %} \\"quoted\\" Strengthening',
    '"Mr. Bokyun Shim"': '"{{ webinar.title }} Shim"',
    '"Summary & Wrap-up"': '"{% include \\"_details.txt\\" %} Wrap-up"',
    '"Nesta (2019). 20 Tools for Innovating in Government"': '"{{ config }} Nesta & Co"',
    '"What are the lessons and policy takeaways for the participants?"': '"Is 3 < 4 && {{ 6*7 }}?"',
    'name = "Ms. Mi Kyoung Park"': 'name = "{{ person.email }} Park"',
}


def test_the_organisers_words_are_only_substituted_in_subject_text_html_and_invite(store, settings, tmp_path):
    record = save(store, definition_variant(tmp_path, PROGRAMME_TEXT))

    raw, parts = message_of(Composer(record, settings), person())

    assert_headers_are_only_ours(raw, AMELIE)
    title = '{{ 7*7 }} & {% if true %}yes{% endif %} "quoted" Strengthening'
    assert parse(raw)["Subject"].startswith(f"Starts in 1 hour: {title}")
    text, html = parts["plain"], " ".join(parts["html"].split())
    for literal in [
        title,
        "{{ webinar.title }} Shim",
        '{% include "_details.txt" %} Wrap-up',
        "{{ config }} Nesta & Co",
    ]:
        assert literal in " ".join(text.split())
        assert str(escape(literal)) in html
    assert "Is 3 < 4 && {{ 6*7 }}?" in text
    assert "Is 3 &lt; 4 &amp;&amp; {{ 6*7 }}?" in html
    assert "Moderator: {{ person.email }} Park" in text
    summary = [line for line in ics_lines(parts["calendar"]) if line.startswith("SUMMARY")]
    assert summary == [
        'SUMMARY:{{ 7*7 }} & {% if true %}yes{% endif %} "quoted" Strengthening Data Governance '
        "for Effective Use of Open Data and Big Data Analytics – in the context of COVID-19"
    ]


HOSTILE_PROGRAMME = {
    "title-crlf": ({'title = "Strengthening': 'title = "Data\\r\\nBcc: evil@x.org Strengthening'}, "title"),
    "title-nul": ({'title = "Strengthening': 'title = "Data\\u0000 Strengthening'}, "title"),
    "title-rlo": ({'title = "Strengthening': 'title = "Data\\u202e Strengthening'}, "title"),
    "title-script": ({'title = "Strengthening': 'title = "<script>alert(1)</script> Strengthening'}, "title"),
    "speaker-crlf": ({'"Mr. Bokyun Shim"': '"Shim\\r\\nBcc: evil@x.org"'}, "agenda[1].speakers[0].name"),
    "speaker-rlo": ({'"Mr. Bokyun Shim"': '"Shim\\u202eexe.gpj"'}, "agenda[1].speakers[0].name"),
    "reading-crlf": ({'"Nesta (2019). 20 Tools for Innovating in Government"': '"Nesta\\r\\n"'}, "readings[6].title"),
    "reading-url-quote": (
        {
            "https://www.nesta.org.uk/report/20-tools-innovating-government/": 'https://x.org/\\"><script>alert(1)</script>'
        },
        "readings[6].url",
    ),
    "reading-url-javascript": (
        {"https://www.nesta.org.uk/report/20-tools-innovating-government/": "javascript:alert(1)"},
        "readings[6].url",
    ),
    "question-nul": (
        {'"What are the lessons and policy takeaways for the participants?"': '"What\\u0000 lessons?"'},
        "questions[1].items[3]",
    ),
    "question-rlo": (
        {'"What are the lessons and policy takeaways for the participants?"': '"What \\u202enosssel?"'},
        "questions[1].items[3]",
    ),
    "description-nul": ({"a whole.\n": "a whole.\\u0000\n"}, "description"),
    "description-rlo": ({"a whole.\n": "a whole.\u202e\n"}, "description"),
    **{
        f"contact-{n}": ({'email = "jihyun.joung@un.org"': f"email = {toml_string(trick)}"}, "contacts[1].email")
        for n, trick in enumerate(ADDRESS_TRICKS)
    },
}


@pytest.mark.parametrize(("replacements", "field"), HOSTILE_PROGRAMME.values(), ids=HOSTILE_PROGRAMME.keys())
def test_programme_text_that_could_be_more_than_text_is_refused_on_its_line(tmp_path, replacements, field):
    path = definition_variant(tmp_path, replacements)

    error = refusal_of(path)

    assert [p.field for p in error.problems] == [field], str(error)
    assert_definition_problems_are_clear(error, path)


def test_an_unchecked_hostile_definition_still_adds_no_header_and_no_invite_line(store, settings):
    """Should a definition reach the composer unchecked, headers and the invite stay whole."""
    record = save(store, SAMPLE_DEFINITION)
    d = record.definition
    contact = dataclasses.replace(d.contacts[1], name='"ceo@bank.com" <evil@x.org>\r\nBcc: x@y.org\u202e')
    sneaky = dataclasses.replace(
        d,
        title="Data\r\nBcc: evil@x.org\r\n\r\n<script>\u202e=?utf-8?q?=0D=0ABcc:_x@y.org?=",
        contacts=(d.contacts[0], contact, *d.contacts[2:]),
    )
    composer = Composer(dataclasses.replace(record, definition=sneaky), settings)

    raw, parts = message_of(composer, person())

    assert_headers_are_only_ours(raw, AMELIE)
    message = parse(raw)
    [reply_to] = message["Reply-To"].addresses
    assert reply_to.addr_spec == "jihyun.joung@un.org"
    assert "evil@x.org" not in str(message["Subject"]).split("Bcc:")[0][-1:]
    assert_one_attendee(parts["calendar"], AMELIE)
    lines = ics_lines(parts["calendar"])
    assert not [line for line in lines if line.upper().startswith(("BCC", "<SCRIPT"))]
    assert len([line for line in lines if line.startswith("ORGANIZER")]) == 1


@pytest.mark.parametrize(
    "link",
    [
        "https://x.org/j\r\nBcc: evil@x.org",
        'https://x.org/j"><script>alert(1)</script>',
        "javascript:alert(document.cookie)",
        "https://x.org/j\u202e",
    ],
    ids=["crlf", "markup", "javascript", "rlo"],
)
def test_a_join_link_from_the_provider_that_is_not_a_plain_link_never_reaches_the_mail(composer, link):
    raw, parts = message_of(composer, person(join_url=link))

    assert_headers_are_only_ours(raw, AMELIE)
    assert "The join link will follow in a separate mail." in parts["plain"]
    for part in parts.values():
        assert "javascript:" not in part
        assert "<script" not in part
        assert "\u202e" not in part
    assert not [line for line in ics_lines(parts["calendar"]) if line.startswith(("URL", "LOCATION"))]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("MAIL_FROM", "webinars@example.org, evil@x.org"),
        ("MAIL_FROM", "Webinar team <webinars@example.org>\r\nBcc: evil@x.org"),
        ("MAIL_FROM", '"ceo@bank.com" <evil@x.org>'),
        ("MAIL_FROM", "webinars@example.org <evil@x.org>"),
        ("MAIL_REPLY_TO", "help@example.org, evil@x.org"),
    ],
    ids=["two-addresses", "crlf", "display-name-is-an-address", "address-then-address", "reply-to-two-addresses"],
)
def test_a_sender_address_with_a_trick_is_refused_by_the_configuration(workdir, key, value):
    with pytest.raises(InputError) as caught:
        load_settings(env_file=workdir / ".env", environ={key: value})

    assert [p.field for p in caught.value.problems] == [key]


# -- 3. what a link's token holds, against the real web service ---------------------------------------

WEB_BASE_URL = "https://webinars.example.org"
PERCENT_TRICKS = [
    "", ".", "..", "%2e", "%2E%2E", "%00", "%ff", "%C2", "%C2%B2", "%ef%bf%bd", "%ed%a0%80", "%", "%zz", "%25",
    "%2F", "%5C", "+", "%20", "~", "-", "_", "=", "%3D%3D", "%0d%0a", "%E2%80%AE",
]  # fmt: skip
ODD_DIGITS = ["²", "١٢٣", "٣", "߁", "໑", "𝟙", "Ⅻ", "½", "0x1f", "1e9", "-1", "+1", " 1", "01", "٠"]


def encoded(text: str) -> str:
    return quote(text, safe="")


# Any text, percent-encoded as a browser would; bytes that are no UTF-8; digits of other scripts
# and numbers of any size; all of it joined by the token's dots, or empty parts.
encoded_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40).map(encoded)
token_part = st.one_of(
    encoded_text,
    st.sampled_from(PERCENT_TRICKS),
    st.sampled_from(ODD_DIGITS).map(encoded),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.text(alphabet="0123456789", min_size=17, max_size=400),
)
link_token = st.lists(token_part, max_size=5).map(".".join) | token_part | encoded_text


@dataclasses.dataclass(frozen=True)
class Links:
    """The web service, and the real tokens of one registration in it."""

    base: str
    unsubscribe: str
    calendar: str
    cancel: str
    join: str


@pytest.fixture(scope="module")
def links(tmp_path_factory) -> Iterator[Links]:
    """One real service for every example: the sample webinar at the local provider with Ana
    registered, served by waitress with `serve`'s options behind a trusted proxy (so that each
    example is its own client of the form's limits)."""
    from web_server import serving

    from webinar_ops.config import Settings
    from webinar_ops.providers import load_provider
    from webinar_ops.registrants import add_person
    from webinar_ops.store import Store
    from webinar_ops.sync import sync_webinar
    from webinar_ops.tokens import calendar_token, cancel_token, unsubscribe_token
    from webinar_ops.web import create_app, server_options

    folder = tmp_path_factory.mktemp("web")
    settings = Settings(
        db_path=folder / "test.db", secret_key=TEST_SECRET_KEY, base_url=WEB_BASE_URL, trusted_proxy="127.0.0.1"
    )
    with Store.open(settings.db_path) as store:
        record = save(store, SAMPLE_DEFINITION)
        add_person(store, record, {"email": "ana.silva@example.org", "first_name": "Ana"}, NOW)
        sync_webinar(store, load_provider("local", settings, store), store.webinar(SAMPLE_SLUG), NOW)
        [ana] = store.db.query("SELECT id, email, join_url FROM registrants")
    with serving(create_app(settings, clock=lambda: NOW), **server_options(settings)) as base:
        yield Links(
            base=base,
            unsubscribe=unsubscribe_token(TEST_SECRET_KEY, ana["id"], ana["email"]),
            calendar=calendar_token(TEST_SECRET_KEY, ana["id"], ana["email"]),
            cancel=cancel_token(TEST_SECRET_KEY, ana["id"], ana["email"]),
            join=ana["join_url"].rpartition("/j/")[2],
        )


def answer_to(base: str, method: str, path: str, body: str = "", headers: dict | None = None) -> tuple[int, str]:
    """The status and page for a request sent exactly as written: no client tidies the path."""
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        form = {"Content-Type": "application/x-www-form-urlencoded"} if method == "POST" else {}
        connection.request(method, path, body=body.encode("ascii"), headers={**form, **(headers or {})})
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


def near_misses(real: str) -> st.SearchStrategy[str]:
    """A real token with its id or its signature replaced, cut short, or something added."""
    registrant_id, _, signature = real.partition(".")
    return st.one_of(
        st.builds(lambda part: f"{registrant_id}.{part}", link_token),
        st.builds(lambda part: f"{part}.{signature}", link_token),
        st.builds(lambda part: real + part, link_token.filter(bool)),
        st.integers(min_value=1, max_value=len(real) - 1).map(lambda n: real[:n]),
    )


TOKEN_ROUTES = {
    "unsubscribe page": ("GET", "/u/{}", lambda links: links.unsubscribe),
    "one-click unsubscribe": ("POST", "/u/{}", lambda links: links.unsubscribe),
    "calendar file": ("GET", "/c/{}/invite.ics", lambda links: links.calendar),
    "cancel page": ("GET", "/c/{}", lambda links: links.cancel),
    "cancel form": ("POST", "/c/{}", lambda links: links.cancel),
    "join page": ("GET", "/j/{}", lambda links: links.join),
    "registration link": ("GET", "/r/{}", lambda links: "no real id"),
    "registration page": ("GET", "/register/{}", lambda links: SAMPLE_SLUG),
    "registration form": ("POST", "/register/{}", lambda links: SAMPLE_SLUG),
}


@pytest.mark.parametrize("route", TOKEN_ROUTES)
@hostile
@given(data=st.data())
def test_every_malformed_token_in_a_link_is_an_unknown_link_never_an_error(links, route, data):
    method, path, real_of = TOKEN_ROUTES[route]
    real = real_of(links)
    token = data.draw(link_token | near_misses(real) if "." in real else link_token, label="token")
    assume(unquote(token) != real)

    status, page = answer_to(links.base, method, path.format(token), body="List-Unsubscribe=One-Click")

    assert status == 404, (route, token, page[-300:])
    assert "Traceback" not in page


FORM_BODY = "first_name=Ana&email=ana{n}%40example.org"
clients = iter(range(1, 10**9))  # each example its own client and address: the form's limits stay out of it


def form_post(links: Links, body: str, headers: dict) -> tuple[int, str]:
    n = next(clients)
    client = {"X-Forwarded-For": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"}
    return answer_to(
        links.base, "POST", f"/register/{SAMPLE_SLUG}", FORM_BODY.format(n=n) + body, {**client, **headers}
    )


@hostile
@given(mark=link_token | near_misses("1617267600.signature"))
def test_every_malformed_confirmation_mark_asks_once_more_never_an_error(links, mark):
    same_origin = {"Origin": WEB_BASE_URL, "Sec-Fetch-Site": "same-origin"}

    status, page = form_post(links, f"&leave_empty=x&confirm={mark}", same_origin)

    assert status == 200, (mark, page[-300:])
    assert "press Register again" in page


@hostile
@given(token=link_token | near_misses("1617267600.signature"))
def test_every_malformed_form_token_from_a_client_that_names_no_origin_is_refused_never_an_error(links, token):
    status, page = form_post(links, f"&form_token={token}", {})

    assert status == 403, (token, page[-300:])
    assert "Nobody was registered" in page
