"""Configured addresses as people write them: plain, in angle brackets, or with a display name."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest
from conftest import SAMPLE_CSV, SAMPLE_DEFINITION, SAMPLE_SLUG, TEST_SECRET_KEY, definition_variant

KEY = {"WEBINAR_OPS_SECRET_KEY": TEST_SECRET_KEY}


def previewed_headers(run, workdir, env: dict[str, str], definition=SAMPLE_DEFINITION):
    """The headers of the confirmation `preview --eml` writes with these settings."""
    env = {**KEY, **env}
    for args in (("init",), ("webinar", "add", definition), ("registrants", "import", SAMPLE_SLUG, SAMPLE_CSV)):
        ran = run(*args, env=env)
        assert ran.code == 0, ran.stderr
    ran = run("preview", SAMPLE_SLUG, "--kind", "confirmation", "--eml", workdir / "mail.eml", env=env)
    assert ran.code == 0, ran.stderr
    return message_from_bytes((workdir / "mail.eml").read_bytes(), policy=policy.default)


@pytest.mark.parametrize("written", ["webinars@example.org", "<webinars@example.org>", " webinars@example.org "])
def test_a_plain_sender_address_is_accepted_and_mail_comes_from_it(run, workdir, written):
    ran = run("status", env={**KEY, "MAIL_FROM": written})
    assert ran.code == 0, ran.stderr
    mail = previewed_headers(run, workdir, {"MAIL_FROM": written})
    assert mail["From"].addresses[0].addr_spec == "webinars@example.org"


@pytest.mark.parametrize(
    ("written", "name"),
    [
        ("UN DESA Webinars <webinars@example.org>", "UN DESA Webinars"),
        ('"UN DESA Webinars" <webinars@example.org>', "UN DESA Webinars"),
    ],
)
def test_a_sender_with_a_display_name_keeps_the_name(run, workdir, written, name):
    mail = previewed_headers(run, workdir, {"MAIL_FROM": written})
    assert mail["From"].addresses[0].display_name == name
    assert mail["From"].addresses[0].addr_spec == "webinars@example.org"


@pytest.mark.parametrize("written", ["help@example.org", "<help@example.org>", "Help desk <help@example.org>"])
def test_a_reply_to_address_is_taken_in_every_form(run, workdir, written):
    ran = run("status", env={**KEY, "MAIL_REPLY_TO": written})
    assert ran.code == 0, ran.stderr


@pytest.mark.parametrize("written", ["\u200b <webinars@example.org>", '"\u200b" <webinars@example.org>'])
def test_a_display_name_of_invisible_characters_only_is_still_refused(run, workdir, written):
    ran = run("status", env={**KEY, "MAIL_FROM": written})
    assert ran.code == 2
    assert "MAIL_FROM" in ran.stderr
    assert "no visible letters" in ran.stderr


def test_a_contact_address_may_carry_a_display_name(run, workdir):
    variant = definition_variant(
        workdir, {'email = "jihyun.joung@un.org"': 'email = "Registration desk <jihyun.joung@un.org>"'}
    )
    mail = previewed_headers(run, workdir, {}, definition=variant)
    assert mail["Reply-To"].addresses[0].addr_spec == "jihyun.joung@un.org"
    assert "Registration desk" not in str(mail["Reply-To"]), "the contact's own name is the one shown"
