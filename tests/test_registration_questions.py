"""Registration questions: the definition's `[[registration.questions]]`, the answers each entry
point takes (import, add, the page, the provider), the store, the listing and the export, the
templates, and Zoom's form and answers both ways, checked against Zoom's OpenAPI document."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import requests
from conftest import NOW, SAMPLE_DEFINITION, SAMPLE_SLUG, TEST_SECRET_KEY
from test_zoom import zoom_settings
from web_server import serving
from zoom_openapi import SPEC_PATH, check_exchange, load_zoom_openapi

from webinar_ops.config import Settings
from webinar_ops.definition import PERSON_QUESTIONS, RESERVED_QUESTION_IDS, load_definition, parse_definition
from webinar_ops.errors import InputError
from webinar_ops.mail.compose import Composer
from webinar_ops.people import FIELDS, check_answers
from webinar_ops.providers import load_provider
from webinar_ops.providers.zoom.client import ATTEMPTS, ZoomClient, registration_form
from webinar_ops.providers.zoom.standin import FakeZoom
from webinar_ops.registrants import add_person, apply_import, export_csv, export_rows, plan_import, register_online
from webinar_ops.store import Store
from webinar_ops.sync import sync_webinar
from webinar_ops.web import create_app

QUESTIONS = """
[[registration.questions]]
id = "sector"
text = "Which sector do you work in?"
type = "choice"
choices = ["Government", "Academia", "Civil society"]
required = true

[[registration.questions]]
id = "hope"
text = "What do you hope to learn?"

[[registration.questions]]
id = "phone"
text = "Phone number"

[[registration.questions]]
id = "consent"
text = "I agree that my name is shown to the other participants"
type = "checkbox"
required = true
"""
ASK_FIELDS = """
[[registration.questions]]
id = "organisation"
text = "Your organisation"
required = true

[[registration.questions]]
id = "country"
text = "Your country"
"""
FUTURE = ('start = "2021-04-30 15:00"', 'start = "2031-04-30 15:00"')
LATER = NOW.replace(year=2031)


def definition_text(questions: str = QUESTIONS, future: bool = False) -> str:
    text = SAMPLE_DEFINITION.read_text(encoding="utf-8") + questions
    return text.replace(*FUTURE) if future else text


def asking(store: Store, folder: Path, provider: str = "local", future: bool = False, extra: str = ""):
    """The sample webinar, asking QUESTIONS, saved for `provider`."""
    path = folder / "asking.toml"
    text = definition_text(QUESTIONS + extra, future)
    path.write_text(text, encoding="utf-8")
    return store.save_webinar(load_definition(path), text, provider, LATER if future else NOW).record


def problems_of(text: str) -> list:
    with pytest.raises(InputError) as refused:
        parse_definition(text, "webinar.toml")
    return refused.value.problems


GOOD = {"sector": "Academia", "consent": "yes"}


# -- the definition ---------------------------------------------------------------------------


def test_the_questions_are_read_in_order_with_their_kinds():
    definition = parse_definition(definition_text(), "webinar.toml")
    questions = definition.registration.questions

    assert [q.id for q in questions] == ["sector", "hope", "phone", "consent"]
    assert [q.type for q in questions] == ["choice", "text", "text", "checkbox"]
    assert questions[0].choices == ("Government", "Academia", "Civil society")
    assert [q.required for q in questions] == [True, False, False, True]
    assert [q.zoom_field for q in questions] == [None, None, "phone", None]


def test_a_definition_without_registration_asks_nothing(sample):
    assert sample.registration.questions == ()


@pytest.mark.parametrize(
    ("question", "field", "message", "fix"),
    [
        ('id = "sector"\ntext = "Sector?"\ntype = "menu"', "type", "must be one of", "text, choice, checkbox"),
        ('id = "sector"\ntext = "Sector?"\ntype = "choice"', "choices", "is missing", "choices = ["),
        ('id = "sector"\ntext = "Sector?"\nchoices = ["A"]', "choices", "has no choices", 'type = "choice"'),
        ('id = "Sector Name"\ntext = "Sector?"', "id", "is not a question id", "lower case letters"),
        ('id = "email"\ntext = "Your mail?"', "id", "already a column", "another id"),
        ('id = "phone"\ntext = "Phone?"\ntype = "checkbox"', "type", "one of Zoom's own fields", 'type = "text"'),
        ('text = "Sector?"', "id", "is missing", "add `id = ...`"),
        ('id = "sector"\ntext = "Sector <b>?"', "text", "< or >", "without < or >"),
        ('id = "sector"\ntext = "Sector?"\nrequired = "yes"', "required", "must be true or false", "true or false"),
        ('id = "sector"\ntext = "Sector?"\ntype = "choice"\nchoices = ["A", "A"]', "choices[1]", "twice", "once"),
        ('id = "sector"\ntext = "Sector?"\ntype = "choice"\nchoices = []', "choices", "is empty", "list the answers"),
        ('id = "sector"\ntext = "Sector?"\ncolour = "x"', "colour", "unknown key", "allowed keys"),
    ],
)
def test_a_wrong_question_is_refused_with_its_line_and_the_fix(question, field, message, fix):
    text = SAMPLE_DEFINITION.read_text(encoding="utf-8")
    first_line = text.count("\n") + 3  # the blank line, then the table's header, then its first key
    [problem] = problems_of(f"{text}\n[[registration.questions]]\n{question}\n")

    assert problem.field == f"registration.questions[0].{field}"
    assert message in problem.message
    assert fix in problem.fix
    # the key's own line; a missing key, its table's header
    assert first_line - 1 <= problem.line <= first_line + question.count("\n")
    assert problem.source == "webinar.toml"


def test_two_questions_with_one_id_or_one_text_are_refused():
    twice = (
        '\n[[registration.questions]]\nid = "a"\ntext = "Same?"\n[[registration.questions]]\nid = "a"\ntext = "B?"\n'
    )
    same_text = (
        '\n[[registration.questions]]\nid = "a"\ntext = "Same?"\n[[registration.questions]]\nid = "b"\ntext = "Same?"\n'
    )

    [by_id] = problems_of(SAMPLE_DEFINITION.read_text(encoding="utf-8") + twice)
    [by_text] = problems_of(SAMPLE_DEFINITION.read_text(encoding="utf-8") + same_text)

    assert by_id.field == "registration.questions[1].id"
    assert "'a' is given twice" in by_id.message
    assert by_text.field == "registration.questions[1].text"


def test_no_question_id_can_take_a_column_of_the_registrants_but_those_it_asks_for():
    assert set(FIELDS) <= {*RESERVED_QUESTION_IDS, *PERSON_QUESTIONS}


def test_a_question_may_ask_for_the_registrants_own_organisation_job_title_or_country():
    asked = parse_definition(definition_text(ASK_FIELDS), "webinar.toml").registration.questions

    assert [(q.person_field, q.zoom_field, q.required) for q in asked] == [
        ("organisation", "org", True),
        ("country", "country", False),
    ]
    [problem] = problems_of(
        definition_text('[[registration.questions]]\nid = "country"\ntext = "C?"\ntype = "checkbox"\n')
    )
    assert "one of Zoom's own fields" in problem.message


# -- the rules of an answer ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "question", "message"),
    [
        ({**GOOD, "hope": "<script>x</script>"}, "hope", "< or >"),
        ({**GOOD, "hope": "two\nlines"}, "hope", "line break"),
        ({**GOOD, "hope": "x" * 129}, "hope", "longer than 128"),
        ({**GOOD, "sector": "Army"}, "sector", "not one of the choices"),
        ({**GOOD, "sector": ""}, "sector", "is not answered"),
        ({"sector": "Academia"}, "consent", "must be ticked"),
        ({**GOOD, "consent": "maybe"}, "consent", "not yes or no"),
        ({**GOOD, "shoe_size": "44"}, "shoe_size", "not one of this webinar's questions"),
    ],
)
def test_an_answer_breaking_a_rule_is_refused(given, question, message):
    questions = parse_definition(definition_text(), "webinar.toml").registration.questions
    _, problems = check_answers(questions, given)

    assert [name for name, _ in problems] == [question]
    assert message in problems[0][1]


def test_answers_are_kept_as_the_rules_write_them():
    questions = parse_definition(definition_text(), "webinar.toml").registration.questions
    answers, problems = check_answers(questions, {"sector": " Academia ", "hope": "  Open   data ", "consent": "Y"})

    assert problems == []
    assert {a.question.id: a.value for a in answers} == {"sector": "Academia", "hope": "Open data", "consent": "yes"}


# -- the store, add and import --------------------------------------------------------------------


def test_answers_round_trip_through_the_store(store, tmp_path):
    webinar = asking(store, tmp_path)
    add_person(store, webinar, {"email": "ana@example.org", "first_name": "Ana"}, NOW, {**GOOD, "phone": "+82 2 123"})
    row = store.registrant(webinar.id, "ana@example.org")

    assert store.answers(row.id) == {"sector": "Academia", "consent": "yes", "phone": "+82 2 123"}
    assert store.webinar_answers(webinar.id) == {row.id: store.answers(row.id)}


def test_adding_again_keeps_the_answers_not_given_and_changes_those_given(store, tmp_path):
    webinar = asking(store, tmp_path)
    person = {"email": "ana@example.org", "first_name": "Ana"}
    add_person(store, webinar, person, NOW, {**GOOD, "hope": "Budgets"})

    assert add_person(store, webinar, person, NOW, {"hope": "Open data"}) == ("ana@example.org", "updated")
    assert add_person(store, webinar, person, NOW, {}) == ("ana@example.org", "unchanged")
    row = store.registrant(webinar.id, "ana@example.org")
    assert store.answers(row.id) == {"sector": "Academia", "consent": "yes", "hope": "Open data"}


def test_an_add_without_a_required_answer_is_refused_and_keeps_nothing(store, tmp_path):
    webinar = asking(store, tmp_path)
    with pytest.raises(InputError) as refused:
        add_person(store, webinar, {"email": "ana@example.org", "first_name": "Ana"}, NOW, {"sector": "Academia"})

    [problem] = refused.value.problems
    assert (problem.field, problem.message) == ("--answer consent", "must be ticked")
    assert "yes" in problem.fix
    assert store.registrants(webinar.id) == []


def test_changing_the_questions_has_the_next_sync_replace_the_providers_form(store, tmp_path):
    webinar = asking(store, tmp_path)
    store.set_hosted(webinar, "81234567890", None, None)
    assert not store.webinar(webinar.slug).needs_publishing

    changed = definition_text(QUESTIONS.replace("What do you hope to learn?", "What do you hope to take home?"))
    saved = store.save_webinar(parse_definition(changed, "asking.toml"), changed, "local", NOW)

    assert saved.outcome == "updated"
    assert saved.changes == ("registration.questions: changed (4 items)",)
    assert saved.record.revision == webinar.revision, "nobody's calendar changes"
    assert saved.record.needs_publishing


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, *rows])
    return path


def test_an_import_takes_a_column_per_question(store, tmp_path):
    webinar = asking(store, tmp_path)
    path = write_csv(
        tmp_path / "people.csv",
        ["email", "first_name", "Sector", "consent", "hope"],
        [["ana@example.org", "Ana", "Government", "yes", ""], ["bo@example.org", "Bo", "Academia", "x", "Data"]],
    )
    apply_import(store, webinar, plan_import(store, webinar, path), NOW)

    stored = {row.email: store.answers(row.id) for row in store.registrants(webinar.id)}
    assert stored == {
        "ana@example.org": {"sector": "Government", "consent": "yes"},
        "bo@example.org": {"sector": "Academia", "consent": "yes", "hope": "Data"},
    }
    assert not plan_import(store, webinar, path).changes_anything, "the same file twice changes nothing"


def test_an_import_with_bad_answers_names_each_line_and_question_and_imports_nobody(store, tmp_path):
    webinar = asking(store, tmp_path)
    path = write_csv(
        tmp_path / "people.csv",
        ["email", "first_name", "sector", "consent", "hope"],
        [
            ["ana@example.org", "Ana", "Government", "yes", "fine"],
            ["bo@example.org", "Bo", "Army", "yes", ""],
            ["cy@example.org", "Cy", "Academia", "no", "=HYPERLINK(1)<b>"],
        ],
    )
    with pytest.raises(InputError) as refused:
        plan_import(store, webinar, path)

    found = {(p.line, p.field) for p in refused.value.problems}
    assert found == {(3, "sector"), (4, "consent"), (4, "hope")}
    assert any("Government, Academia, Civil society" in p.fix for p in refused.value.problems)
    assert store.registrants(webinar.id) == []


def test_an_import_without_a_required_column_is_refused(store, tmp_path):
    webinar = asking(store, tmp_path)
    path = write_csv(tmp_path / "people.csv", ["email", "first_name"], [["ana@example.org", "Ana"]])
    with pytest.raises(InputError) as refused:
        plan_import(store, webinar, path)

    assert {p.field for p in refused.value.problems} == {"sector", "consent"}


def test_a_required_organisation_is_required_of_an_import_and_an_add(store, tmp_path):
    webinar = asking(store, tmp_path, extra=ASK_FIELDS)
    path = write_csv(
        tmp_path / "people.csv",
        ["email", "first_name", "organisation", "sector", "consent"],
        [["ana@example.org", "Ana", "UN DESA", "Academia", "yes"], ["bo@example.org", "Bo", "", "Academia", "yes"]],
    )
    with pytest.raises(InputError) as refused:
        plan_import(store, webinar, path)
    with pytest.raises(InputError) as refused_add:
        add_person(store, webinar, {"email": "cy@example.org", "first_name": "Cy"}, NOW, GOOD)
    add_person(store, webinar, {"email": "cy@example.org", "first_name": "Cy", "organisation": "NIA"}, NOW, GOOD)

    assert [(p.line, p.field, p.message) for p in refused.value.problems] == [
        (3, "organisation", "is required for this webinar")
    ]
    assert [p.field for p in refused_add.value.problems] == ["--organisation"]
    row = store.registrant(webinar.id, "cy@example.org")
    assert row.organisation == "NIA"
    assert store.answers(row.id) == GOOD, "the organisation is the registrant's field, not an answer"
    assert "organisation" not in export_rows(store, webinar)[0][len(FIELDS) :]


# -- the command line: add, list, export ----------------------------------------------------------


@pytest.fixture
def cli(run, workdir):
    (workdir / "asking.toml").write_text(definition_text(), encoding="utf-8")
    assert run("init").code == 0
    assert run("webinar", "add", "asking.toml").code == 0
    return run


def test_the_command_line_adds_answers_and_lists_them(cli):
    added = cli(
        "registrants", "add", SAMPLE_SLUG, "--email", "ana@example.org", "--first-name", "Ana",
        "--answer", "sector=Civil society", "--answer", "consent=yes", "--answer", "hope=Open = data",
    )  # fmt: skip
    assert added.code == 0, added.stderr

    listed = cli("registrants", "list", SAMPLE_SLUG, "--json")
    table = cli("registrants", "list", SAMPLE_SLUG)
    assert listed.json()[0]["answers"] == {"sector": "Civil society", "consent": "yes", "hope": "Open = data"}
    assert "sector: Civil society" in table.stdout


def test_webinar_show_lists_the_registration_questions(cli):
    shown = cli("webinar", "show", SAMPLE_SLUG)

    assert "Registration questions" in shown.stdout
    assert (
        "sector: Which sector do you work in? (choice of Government, Academia, Civil society; required)" in shown.stdout
    )
    assert "hope: What do you hope to learn? (text)" in shown.stdout


def test_the_command_line_refuses_a_bad_answer_with_exit_code_2(cli):
    refused = cli(
        "registrants", "add", SAMPLE_SLUG, "--email", "ana@example.org", "--first-name", "Ana",
        "--answer", "sector=Army", "--answer", "consent=yes",
    )  # fmt: skip
    no_equals = cli("registrants", "add", SAMPLE_SLUG, "--email", "a@example.org", "--first-name", "A", "--answer", "x")

    assert refused.code == 2
    assert "--answer sector" in refused.stderr
    assert "Government, Academia, Civil society" in refused.stderr
    assert no_equals.code == 2
    assert "ID=VALUE" in no_equals.stderr
    assert cli("registrants", "list", SAMPLE_SLUG, "--json").json() == []


HOSTILE = {"hope": "=cmd|' /C calc'!A0", "phone": "+1 555 0100"}


def add_two(cli) -> None:
    for email, name, extra in (("ana@example.org", "Ana", HOSTILE), ("bo@example.org", "Bø", {})):
        answers = [f"--answer={k}={v}" for k, v in {**GOOD, **extra}.items()]
        assert cli("registrants", "add", SAMPLE_SLUG, "--email", email, "--first-name", name, *answers).code == 0
    assert cli("registrants", "cancel", SAMPLE_SLUG, "bo@example.org").code == 0


def test_the_csv_export_holds_everyone_with_answers_and_no_formula(cli, workdir):
    add_two(cli)
    exported = cli("registrants", "export", SAMPLE_SLUG, "--format", "csv", "--output", "people.csv")
    assert exported.code == 0, exported.stderr

    raw = (workdir / "people.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "Excel reads UTF-8 only after a byte-order mark"
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert [(r["email"], r["status"]) for r in rows] == [
        ("ana@example.org", "approved"),
        ("bo@example.org", "cancelled"),
    ]
    assert rows[1]["first_name"] == "Bø"
    assert rows[0]["sector"] == "Academia"
    assert rows[0]["consent"] == "yes"
    assert rows[0]["hope"] == "'=cmd|' /C calc'!A0"
    assert rows[0]["phone"] == "'+1 555 0100"
    assert rows[1]["hope"] == ""
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row.values())
    assert (workdir / "people.csv").stat().st_mode & 0o077 == 0
    assert b"/j/" not in raw, "no join link"


def test_the_json_export_gives_the_answers_as_they_are(cli):
    add_two(cli)
    exported = cli("registrants", "export", SAMPLE_SLUG, "--format", "json")

    people = json.loads(exported.stdout)
    assert people[0]["answers"] == {**GOOD, **HOSTILE}
    assert people[0]["email"] == "ana@example.org"
    assert people[1]["status"] == "cancelled"
    assert "join_url" not in people[0]


def test_the_export_of_a_webinar_without_questions_has_the_fields_alone(store, sample, tmp_path):
    webinar = store.save_webinar(sample, SAMPLE_DEFINITION.read_text(encoding="utf-8"), "local", NOW).record
    add_person(store, webinar, {"email": "ana@example.org", "first_name": "Ana"}, NOW)
    columns, rows = export_rows(store, webinar)

    assert columns[-1] == "registered_at"
    assert list(csv.reader(io.StringIO(export_csv(columns, rows)[1:])))[1][:2] == ["ana@example.org", "Ana"]


# -- the registration page ------------------------------------------------------------------------


@pytest.fixture
def page(workdir, store):
    settings = Settings(db_path=store.path, secret_key=TEST_SECRET_KEY, base_url="https://webinars.example.org")
    asking(store, workdir)
    with serving(create_app(settings, clock=lambda: NOW)) as base_url:
        yield f"{base_url}/register/{SAMPLE_SLUG}"


def post(page: str, data: dict) -> requests.Response:
    shown = requests.get(page, timeout=10)
    token = shown.text.split('name="form_token" value="', 1)[1].split('"', 1)[0]
    headers = {"Origin": "https://webinars.example.org", "Sec-Fetch-Site": "same-origin"}
    return requests.post(page, data={"form_token": token, **data}, headers=headers, timeout=10)


PERSON = {"first_name": "Mei", "email": "mei@example.org"}


def test_the_page_asks_each_question_in_its_kind_and_marks_the_required_ones(page):
    html = requests.get(page, timeout=10).text

    assert '<select id="answer-sector" name="answer-sector" required aria-required="true">' in html
    assert '<option value="Civil society">Civil society</option>' in html
    assert '<input id="answer-hope" name="answer-hope" type="text" maxlength="128" value="">' in html
    assert 'name="answer-consent" type="checkbox" value="yes" required' in html
    assert 'Which sector do you work in? <span class="required">(required)</span>' in html


def test_the_page_keeps_the_answers(page, store):
    answer = post(page, {**PERSON, "answer-sector": "Government", "answer-consent": "yes", "answer-hope": "Data"})

    assert answer.status_code == 200
    row = store.registrant(store.webinar(SAMPLE_SLUG).id, "mei@example.org")
    assert row.source == "web"
    assert store.answers(row.id) == {"sector": "Government", "consent": "yes", "hope": "Data"}


@pytest.mark.parametrize(
    ("typed", "field", "shown"),
    [
        ({"answer-sector": "Government"}, "answer-consent", "must be ticked"),
        ({"answer-sector": "Army", "answer-consent": "yes"}, "answer-sector", "is not one of the choices"),
        ({"answer-sector": "", "answer-consent": "yes"}, "answer-sector", "is not answered"),
        ({"answer-sector": "Government", "answer-consent": "yes", "answer-hope": "<img src=x>"}, "answer-hope", "&lt;"),
    ],
)
def test_the_server_refuses_what_the_rules_refuse_and_keeps_nobody(page, store, typed, field, shown):
    answer = post(page, {**PERSON, **typed})

    assert answer.status_code == 422
    assert f'<p class="error" id="{field}-error">' in answer.text
    assert shown in answer.text.split(f'id="{field}-error">', 1)[1].split("</p>", 1)[0]
    assert "<img src=x>" not in answer.text
    assert store.registrants(store.webinar(SAMPLE_SLUG).id) == []


def test_the_page_and_the_store_agree_on_the_rules(store, tmp_path):
    webinar = asking(store, tmp_path)
    with pytest.raises(InputError) as refused:
        register_online(store, webinar, PERSON, NOW, answers={"sector": "Army", "consent": "yes"})
    assert [p.field for p in refused.value.problems] == ["sector"]


@pytest.fixture
def page_asking_fields(workdir, store):
    settings = Settings(db_path=store.path, secret_key=TEST_SECRET_KEY, base_url="https://webinars.example.org")
    asking(store, workdir, extra=ASK_FIELDS)
    with serving(create_app(settings, clock=lambda: NOW)) as base_url:
        yield f"{base_url}/register/{SAMPLE_SLUG}"


def test_the_page_asks_for_the_organisation_and_the_country_the_questions_ask_for(page_asking_fields, store):
    html = requests.get(page_asking_fields, timeout=10).text
    without = post(page_asking_fields, {**PERSON, "answer-sector": "Academia", "answer-consent": "yes"})
    given = {**PERSON, "organisation": "NIA", "country": "KR", "answer-sector": "Academia", "answer-consent": "yes"}
    registered = post(page_asking_fields, given)

    assert 'autocomplete="organization" required aria-required="true"' in html
    assert '<option value="KR">South Korea</option>' in html
    assert 'name="answer-organisation"' not in html
    assert without.status_code == 422
    assert "The organisation is required for this webinar" in without.text
    assert registered.status_code == 200
    row = store.registrant(store.webinar(SAMPLE_SLUG).id, "mei@example.org")
    assert (row.organisation, row.country) == ("NIA", "KR")


# -- the providers: local, and Zoom against its OpenAPI document -----------------------------------


def test_the_local_provider_keeps_the_answers_and_gives_them_back(store, tmp_path):
    settings = Settings(db_path=store.path, secret_key=TEST_SECRET_KEY)
    webinar = asking(store, tmp_path)
    add_person(store, webinar, {"email": "ana@example.org", "first_name": "Ana"}, NOW, GOOD)
    provider = load_provider("local", settings, store)
    sync_webinar(store, provider, webinar, NOW)

    [held] = provider.registrants(store.webinar(SAMPLE_SLUG).provider_webinar_id)
    assert held.answers == GOOD


@pytest.fixture
def zoom():
    with FakeZoom(plan="business", seed=7) as fake:
        yield fake


@pytest.fixture
def exchanges(monkeypatch):
    """Every HTTP answer the zoom provider gets, to check against Zoom's document."""
    seen: list[requests.Response] = []
    original = requests.Session.request

    def recording(self, *args, **kwargs):
        response = original(self, *args, **kwargs)
        seen.append(response)
        return response

    monkeypatch.setattr(requests.Session, "request", recording)
    return seen


def test_zoom_gets_the_form_and_the_answers_and_gives_them_back(zoom, exchanges, tmp_path):
    settings = zoom_settings(zoom, tmp_path / "zoom.db")
    with Store.open(settings.db_path) as store:
        webinar = asking(store, tmp_path, "zoom", future=True)
        add_person(store, webinar, {"email": "ana@example.org", "first_name": "Ana"}, LATER, {**GOOD, "phone": "555"})
        add_person(store, webinar, {"email": "bo@example.org", "first_name": "Bo"}, LATER, {**GOOD, "hope": "Data"})
        provider = load_provider("zoom", settings, store)
        report = sync_webinar(store, provider, webinar, LATER)
        webinar = store.webinar(SAMPLE_SLUG)
        zoom_id = webinar.provider_webinar_id
        walk_in = [{"title": "Which sector do you work in?", "value": "Civil society"}]
        walk_in.append({"title": "I agree that my name is shown to the other participants", "value": "Yes"})
        zoom.add_registrant_from_zoom_page(
            zoom_id, "walk.in@example.org", "Walk", phone="777", custom_questions=walk_in
        )
        pulled = sync_webinar(store, provider, webinar, LATER)
        answers = {row.email: store.answers(row.id) for row in store.registrants(webinar.id)}
        form = provider.registration_questions(zoom_id)

    assert report.registered == 2
    assert report.failed == []
    assert form == registration_form(webinar.definition.registration.questions)
    assert form["questions"] == [{"field_name": "phone", "required": False}]
    assert form["custom_questions"][0] == {
        "title": "Which sector do you work in?",
        "type": "single_dropdown",
        "required": True,
        "answers": ["Government", "Academia", "Civil society"],
    }
    assert form["custom_questions"][2] == {
        "title": "I agree that my name is shown to the other participants",
        "type": "single_radio",
        "required": True,
        "answers": ["Yes"],
    }
    held = {r["email"]: r for r in zoom.registrants(zoom_id)}
    assert held["ana@example.org"]["phone"] == "555"
    assert {q["title"]: q["value"] for q in held["bo@example.org"]["custom_questions"]} == {
        "Which sector do you work in?": "Academia",
        "What do you hope to learn?": "Data",
        "I agree that my name is shown to the other participants": "Yes",
    }
    assert pulled.pulled_new == 1
    assert answers["walk.in@example.org"] == {"sector": "Civil society", "consent": "yes", "phone": "777"}
    assert answers["ana@example.org"] == {**GOOD, "phone": "555"}

    openapi = load_zoom_openapi(SPEC_PATH)
    api = [r for r in exchanges if r.url.startswith(zoom.api_url)]
    assert any(r.request.method == "PATCH" and r.url.endswith("/registrants/questions") for r in api)
    assert any(r.request.method == "POST" and r.url.endswith("/registrants") for r in api)
    for response in api:
        check_exchange(openapi, response, request_valid=True)


def test_an_answer_zoom_holds_that_breaks_a_rule_is_left_out_and_the_person_kept(zoom, tmp_path, caplog):
    settings = zoom_settings(zoom, tmp_path / "zoom.db")
    with Store.open(settings.db_path) as store:
        webinar = asking(store, tmp_path, "zoom", future=True)
        provider = load_provider("zoom", settings, store)
        sync_webinar(store, provider, webinar, LATER)
        zoom_id = store.webinar(SAMPLE_SLUG).provider_webinar_id
        answers = [
            {"title": "Which sector do you work in?", "value": "Government"},
            {"title": "I agree that my name is shown to the other participants", "value": "Yes"},
            {"title": "What do you hope to learn?", "value": "<a href=//evil.example>prizes</a>"},
        ]
        zoom.add_registrant_from_zoom_page(zoom_id, "eve@example.org", "Eve", custom_questions=answers)
        sync_webinar(store, provider, store.webinar(SAMPLE_SLUG), LATER)
        row = store.registrant(webinar.id, "eve@example.org")

    assert row is not None
    assert store_answers(settings, row.id) == {"sector": "Government", "consent": "yes"}
    assert "the answer to 'hope' breaks the rules of answers" in caplog.text
    assert "evil.example" not in caplog.text
    assert "eve@example.org" not in caplog.text


def store_answers(settings: Settings, registrant_id: int) -> dict:
    with Store.open(settings.db_path) as store:
        return store.answers(registrant_id)


def test_a_form_zoom_did_not_take_is_set_at_the_next_sync_and_the_webinar_is_made_once(zoom, tmp_path, monkeypatch):
    monkeypatch.setattr(ZoomClient, "_pause", staticmethod(lambda attempt: None))  # the retries' waits
    settings = zoom_settings(zoom, tmp_path / "zoom.db")
    with Store.open(settings.db_path) as store:
        webinar = asking(store, tmp_path, "zoom", future=True)
        add_person(store, webinar, {"email": "ana@example.org", "first_name": "Ana"}, LATER, GOOD)
        provider = load_provider("zoom", settings, store)

        def fail_after_the_create(response, *args, **kwargs):
            if response.request.method == "POST" and response.url.endswith("/webinars"):
                zoom.set_faults(error_next=ATTEMPTS)  # every try of the next call: the form's PATCH

        provider.client.session.hooks["response"].append(fail_after_the_create)
        first = sync_webinar(store, provider, webinar, LATER)
        after_first = store.webinar(SAMPLE_SLUG)
        second = sync_webinar(store, provider, after_first, LATER)
        after_second = store.webinar(SAMPLE_SLUG)

    assert first.published == "created"
    assert first.registered == 1
    assert "registration questions were not set" in after_first.provider_error
    assert after_first.needs_publishing
    assert second.published == "updated"
    assert after_second.provider_error is None
    assert len(zoom.state()["webinars"]) == 1
    assert provider.registration_questions(after_second.provider_webinar_id) == registration_form(
        after_second.definition.registration.questions
    )


def test_zoom_asks_for_the_organisation_as_its_own_field_and_gets_it(zoom, tmp_path):
    settings = zoom_settings(zoom, tmp_path / "zoom.db")
    with Store.open(settings.db_path) as store:
        webinar = asking(store, tmp_path, "zoom", future=True, extra=ASK_FIELDS)
        person = {"email": "ana@example.org", "first_name": "Ana", "organisation": "UN DESA", "country": "BR"}
        add_person(store, webinar, person, LATER, GOOD)
        provider = load_provider("zoom", settings, store)
        report = sync_webinar(store, provider, webinar, LATER)
        zoom_id = store.webinar(SAMPLE_SLUG).provider_webinar_id
        form = provider.registration_questions(zoom_id)

    assert report.failed == []
    assert form["questions"] == [
        {"field_name": "phone", "required": False},
        {"field_name": "org", "required": True},
        {"field_name": "country", "required": False},
    ]
    [held] = zoom.registrants(zoom_id)
    assert (held["org"], held["country"]) == ("UN DESA", "BR")


def test_someone_who_signs_up_on_zoom_s_page_comes_in_with_the_organisation_and_country_they_gave(
    zoom, tmp_path, caplog
):
    settings = zoom_settings(zoom, tmp_path / "zoom.db")
    with Store.open(settings.db_path) as store:
        webinar = asking(store, tmp_path, "zoom", future=True, extra=ASK_FIELDS)
        provider = load_provider("zoom", settings, store)
        sync_webinar(store, provider, webinar, LATER)
        webinar = store.webinar(SAMPLE_SLUG)
        zoom_id = webinar.provider_webinar_id
        walk_in = [{"title": "Which sector do you work in?", "value": "Government"}]
        walk_in.append({"title": "I agree that my name is shown to the other participants", "value": "Yes"})
        zoom.add_registrant_from_zoom_page(
            zoom_id, "walk.in@example.org", "Walk", org="Ministry of the Interior", country="KR",
            job_title="<b>Director</b>", custom_questions=walk_in,
        )  # fmt: skip
        sync_webinar(store, provider, webinar, LATER)
        pulled = store.registrant(webinar.id, "walk.in@example.org")

    assert (pulled.organisation, pulled.country) == ("Ministry of the Interior", "KR")
    assert pulled.job_title is None, "markup is refused, as an import refuses it"
    assert "job title breaks the rules of an import" in caplog.text
    assert "Director" not in caplog.text


def test_a_webinar_approved_by_hand_approves_at_zoom_those_added_with_answers(zoom, tmp_path):
    settings = zoom_settings(zoom, tmp_path / "zoom.db")
    with Store.open(settings.db_path) as store:
        path = tmp_path / "manual.toml"
        text = definition_text(future=True).replace('approval = "automatic"', 'approval = "manual"')
        path.write_text(text, encoding="utf-8")
        webinar = store.save_webinar(load_definition(path), text, "zoom", LATER).record
        add_person(store, webinar, {"email": "ana@example.org", "first_name": "Ana"}, LATER, GOOD)
        report = sync_webinar(store, load_provider("zoom", settings, store), webinar, LATER)
        row = store.registrant(webinar.id, "ana@example.org")

    assert report.failed == []
    [held] = zoom.registrants(store_webinar_id(settings))
    assert held["status"] == "approved"
    assert (row.status, row.provider_status) == ("approved", "approved")


def store_webinar_id(settings: Settings) -> str:
    with Store.open(settings.db_path) as store:
        return store.webinar(SAMPLE_SLUG).provider_webinar_id


# -- templates -------------------------------------------------------------------------------------


def test_templates_see_the_readers_answers(store, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "confirmation.txt").write_text(
        'Sector: {{ person.answers.get("sector", "none") }}; hope: {{ person.answers.get("hope", "none") }}\n',
        encoding="utf-8",
    )
    webinar = asking(store, tmp_path, extra='\n[mail]\ntemplates = "mine"\n')
    add_person(store, webinar, {"email": "ana@example.org", "first_name": "Ana"}, NOW, GOOD)
    row = store.registrant(webinar.id, "ana@example.org")
    settings = Settings(db_path=store.path, secret_key=TEST_SECRET_KEY)

    words = Composer(webinar, settings, answers=store.answers).render("confirmation", row, NOW, None)
    without = Composer(webinar, settings).render("confirmation", row, NOW, None)

    assert "Sector: Academia; hope: none" in words.text
    assert "Sector: none" in without.text
