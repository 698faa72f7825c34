"""The suppression list (plan.py rule n): a hard bounce at RCPT or DATA puts the address on it,
for every webinar; its mail is skipped with the reason; taken off, its mail still to come goes
out. Through the real CLI against a real SMTP server on loopback (smtp_servers.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import SAMPLE_SLUG
from smtp_servers import smtp_server
from test_smtp import starting_in

from webinar_ops import times
from webinar_ops.store import Store

AMELIE = "amelie.laurent@example.org"
KWAME = "kwame.mensah@example.org"
SECOND_SLUG = "undesa-snu-session-6"


def second_webinar(workdir):
    """The sample webinar again under another slug and calendar entry: a second webinar."""
    first = starting_in(workdir, timedelta(days=3))
    second = workdir / "second.toml"
    text = first.read_text(encoding="utf-8").replace(f'slug = "{SAMPLE_SLUG}"', f'slug = "{SECOND_SLUG}"', 1)
    assert SECOND_SLUG in text
    second.write_text(text, encoding="utf-8")
    return second


def mail_over(server) -> dict[str, str]:
    return {"MAIL_TRANSPORT": "smtp", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(server.port), "SMTP_SECURITY": "none"}


def register(run, env, slug: str, *emails: str) -> None:
    for email in emails:
        assert run("registrants", "add", slug, "--email", email, "--first-name", "Test", env=env).code == 0


def confirmations(run, env, slug: str) -> dict[str, dict]:
    rows = run("outbox", slug, "--json", env=env).json()
    return {row["email"]: row for row in rows if row["kind"] == "confirmation"}


@pytest.mark.parametrize("at", ["rcpt", "data"])
def test_an_address_refused_with_550_is_suppressed_and_skipped_for_a_second_webinar_until_removed(run, workdir, at):
    with smtp_server() as server:
        server.handler.reject(AMELIE, at=at)
        env = mail_over(server)
        assert run("init", env=env).code == 0
        assert run("webinar", "add", starting_in(workdir, timedelta(days=2)), env=env).code == 0
        register(run, env, SAMPLE_SLUG, AMELIE, KWAME)
        assert run("run", "--once", env=env).code == 0

        listed = run("suppressions", "list", "--json", env=env).json()
        assert [(e["email"], e["reason"], e["source"]) for e in listed] == [(AMELIE, "hard bounce", "smtp")]
        assert "User unknown" in listed[0]["detail"], "the server's own words"
        assert confirmations(run, env, SAMPLE_SLUG)[AMELIE]["state"] == "failed"

        assert run("webinar", "add", second_webinar(workdir), env=env).code == 0
        register(run, env, SECOND_SLUG, AMELIE, KWAME)
        assert run("run", "--once", env=env).code == 0
        today = times.utc_now().date().isoformat()
        reason = f"the address is suppressed: hard bounce on {today}"
        second = confirmations(run, env, SECOND_SLUG)
        assert (second[AMELIE]["state"], second[AMELIE]["reason"]) == ("skipped", reason)
        assert second[KWAME]["state"] == "sent"
        [status] = run("status", SECOND_SLUG, "--json", env=env).json()
        assert {"kind": "confirmation", "state": "skipped", "why": reason, "n": 1} in status["not_sent"]
        assert reason in run("status", SECOND_SLUG, env=env).stdout
        assert len(server.handler.refusals) == 1, "the server was asked about her once, not for the second webinar"

        server.handler.accept(AMELIE)
        removed = run("suppressions", "remove", AMELIE.upper(), env=env)
        assert removed.code == 0
        assert "1 skipped mail back in the queue" in removed.stdout
        assert run("run", "--once", env=env).code == 0
        assert run("run", "--once", env=env).code == 0
        after = confirmations(run, env, SECOND_SLUG)
        first = confirmations(run, env, SAMPLE_SLUG)

    assert after[AMELIE]["state"] == "sent", "taken off the list, her mail still to come went out"
    assert first[AMELIE]["state"] == "failed", "a refused mail is not sent again"
    assert run("suppressions", "list", "--json").json() == []
    received = sorted(r.rcpt_tos[0] for r in server.handler.received)
    assert received == sorted([KWAME, KWAME, AMELIE]), "nothing sent twice"


def test_a_temporary_refusal_suppresses_nobody(run, workdir):
    with smtp_server() as server:
        server.handler.fail_temporarily(AMELIE, times=1)
        env = mail_over(server)
        assert run("init", env=env).code == 0
        assert run("webinar", "add", starting_in(workdir, timedelta(days=2)), env=env).code == 0
        register(run, env, SAMPLE_SLUG, AMELIE)
        assert run("run", "--once", env=env).code == 0
        assert confirmations(run, env, SAMPLE_SLUG)[AMELIE]["state"] == "pending"
    assert run("suppressions", "list", "--json").json() == []


def test_the_organiser_adds_lists_and_removes_an_address_through_the_cli(run, workdir):
    assert run("init").code == 0
    added = run("suppressions", "add", " Amelie.Laurent@Example.org ", "--reason", "asked by phone")
    assert added.code == 0, added.stderr
    assert "Suppressed amelie.laurent@example.org: asked by phone" in added.stdout
    [entry] = run("suppressions", "list", "--json").json()
    assert (entry["email"], entry["reason"], entry["source"], entry["detail"]) == (
        AMELIE,
        "asked by phone",
        "organiser",
        None,
    )
    assert AMELIE in run("suppressions", "list").stdout
    assert run("suppressions", "remove", AMELIE).code == 0
    assert run("suppressions", "list", "--json").json() == []


def test_an_address_that_is_not_valid_or_not_listed_is_refused_and_changes_nothing(run, workdir):
    assert run("init").code == 0
    bad = run("suppressions", "add", "Ann <ann@example.org>")
    assert bad.code != 0
    assert "not a plain email address" in bad.stderr
    assert "name@example.org" in bad.stderr
    missing = run("suppressions", "remove", "nobody@example.org")
    assert missing.code != 0
    assert "nobody@example.org is not on the suppression list" in missing.stderr
    assert run("suppressions", "list", "--json").json() == []


def test_the_store_keeps_one_entry_per_casefolded_address_and_forgets_it_on_removal(tmp_path):
    now = times.parse_iso_utc("2026-12-06T10:00:00Z")
    with Store.open(tmp_path / "w.db") as store:
        store.suppress("Ana@Example.org", "complaint", None, "organiser", now)
        store.suppress("ana@example.org", "hard bounce", "550 5.1.1 unknown", "smtp", now + timedelta(hours=1))
        [entry] = store.suppressions()
        assert (entry.email, entry.reason, entry.detail) == ("ana@example.org", "hard bounce", "550 5.1.1 unknown")
        assert store.suppression("ANA@example.org").describe() == "the address is suppressed: hard bounce on 2026-12-06"
        assert store.unsuppress("ana@EXAMPLE.org")
        assert store.suppression("ana@example.org") is None
        assert not store.unsuppress("ana@example.org")
