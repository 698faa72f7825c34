"""Configuration from `.env` and the environment, and `init`'s signing key."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from conftest import REPO, TEST_SECRET_KEY

from webinar_ops.config import Settings, known_keys, load_settings, secret_keys
from webinar_ops.errors import InputError
from webinar_ops.providers.zoom import ZoomSettings
from webinar_ops.transports.smtp import SmtpSettings


@pytest.fixture
def env_file(tmp_path: Path) -> Path:
    return tmp_path / ".env"


def write_env(path: Path, **values: str) -> Path:
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()), encoding="utf-8")
    return path


def refusal(env_file: Path, environ: dict[str, str]) -> InputError:
    with pytest.raises(InputError) as refused:
        load_settings(env_file=env_file, environ=environ)
    return refused.value


def test_nothing_set_gives_the_defaults(env_file):
    settings = load_settings(env_file=env_file, environ={})
    assert settings == Settings()
    assert settings.db_path == Path("data/webinar_ops.db")
    assert settings.provider == "local"
    assert settings.base_url == "http://localhost:8080"
    assert settings.secret_key is None
    assert settings.mail_transport == "maildir"
    assert settings.of(SmtpSettings).security == "starttls"
    assert settings.of(SmtpSettings).port is None


def test_values_are_read_from_dot_env(env_file):
    write_env(
        env_file,
        WEBINAR_OPS_DB="elsewhere/ops.db",
        WEBINAR_OPS_BASE_URL="https://webinars.example.org/",
        WEBINAR_OPS_SECRET_KEY=TEST_SECRET_KEY,
        MAIL_TRANSPORT="smtp",
        MAIL_FROM='"Webinar team <webinars@example.org>"',
        SMTP_HOST="smtp.example.org",
        SMTP_PORT="465",
        SMTP_SECURITY="ssl",
    )
    settings = load_settings(env_file=env_file, environ={})
    assert settings.db_path == Path("elsewhere/ops.db")
    assert settings.base_url == "https://webinars.example.org"
    assert settings.secret_key == TEST_SECRET_KEY
    assert settings.mail_transport == "smtp"
    assert settings.mail_from == "Webinar team <webinars@example.org>"
    assert settings.of(SmtpSettings).host == "smtp.example.org"
    assert settings.of(SmtpSettings).port == 465
    assert settings.of(SmtpSettings).security == "ssl"


def test_the_real_environment_wins_over_dot_env(env_file):
    write_env(env_file, WEBINAR_OPS_BASE_URL="https://from-file.example.org", SMTP_PORT="25")
    settings = load_settings(env_file=env_file, environ={"WEBINAR_OPS_BASE_URL": "https://from-env.example.org"})
    assert settings.base_url == "https://from-env.example.org"
    assert settings.of(SmtpSettings).port == 25


def test_a_bad_value_in_dot_env_is_ignored_when_the_environment_overrides_it(env_file):
    write_env(env_file, SMTP_PORT="abc")
    assert load_settings(env_file=env_file, environ={"SMTP_PORT": "587"}).of(SmtpSettings).port == 587


def test_environment_variables_that_are_not_settings_are_ignored(env_file):
    assert load_settings(env_file=env_file, environ={"HOME": "/root", "SMTP_PORTS": "x"}) == Settings()


def test_every_invalid_value_is_reported_at_once_by_key_with_what_is_allowed(env_file):
    error = refusal(
        env_file,
        {
            "WEBINAR_OPS_PROVIDER": "teams",
            "MAIL_TRANSPORT": "sendmail",
            "SMTP_PORT": "abc",
            "SMTP_SECURITY": "tls",
            "WEBINAR_OPS_BASE_URL": "webinars.example.org",
            "WEBINAR_OPS_SECRET_KEY": "too-short",
        },
    )
    messages = {problem.field: problem.message for problem in error.problems}
    assert set(messages) == {
        "WEBINAR_OPS_PROVIDER",
        "MAIL_TRANSPORT",
        "SMTP_PORT",
        "SMTP_SECURITY",
        "WEBINAR_OPS_BASE_URL",
        "WEBINAR_OPS_SECRET_KEY",
    }
    assert "must be one of: local" in messages["WEBINAR_OPS_PROVIDER"]
    assert "must be one of: maildir, smtp" in messages["MAIL_TRANSPORT"]
    assert "1 to 65535" in messages["SMTP_PORT"]
    assert "must be one of: none, starttls, ssl" in messages["SMTP_SECURITY"]
    assert "https://" in messages["WEBINAR_OPS_BASE_URL"]
    assert "at least 32 characters" in messages["WEBINAR_OPS_SECRET_KEY"]
    for key in messages:
        assert key in str(error)


@pytest.mark.parametrize("port", ["abc", "70000", "0", "-1", "25.5"])
def test_smtp_port_must_be_a_port_number(env_file, port):
    error = refusal(env_file, {"SMTP_PORT": port})
    assert [problem.field for problem in error.problems] == ["SMTP_PORT"]
    assert "must be a port number from 1 to 65535" in str(error)


@pytest.mark.parametrize("user", ["me/../../accounts/x", "me?page_size=1", "me#", "two words", "x" * 65])
def test_a_zoom_user_id_that_would_change_the_request_path_is_refused(env_file, user):
    error = refusal(env_file, {"ZOOM_USER_ID": user})
    assert [problem.field for problem in error.problems] == ["ZOOM_USER_ID"]
    assert "must be `me`, a Zoom user id (letters, digits, - and _) or the user's address" in str(error)


@pytest.mark.parametrize(
    ("user", "kept"),
    [("me", "me"), ("KDcuGIm1QgePTO8WbOqwIQ", "KDcuGIm1QgePTO8WbOqwIQ"), ("Host@Example.org", "host@example.org")],
)
def test_a_zoom_user_is_me_an_id_or_an_address(env_file, user, kept):
    assert load_settings(env_file=env_file, environ={"ZOOM_USER_ID": user}).of(ZoomSettings).user_id == kept


def test_a_bad_value_says_where_it_came_from(env_file):
    write_env(env_file, SMTP_SECURITY="tls")
    error = refusal(env_file, {"MAIL_TRANSPORT": "pigeon"})
    where = {problem.field: problem.source for problem in error.problems}
    assert where == {"SMTP_SECURITY": str(env_file), "MAIL_TRANSPORT": "environment"}


def test_secret_values_never_appear_in_the_error(env_file):
    write_env(env_file, SMTP_PASSWORD="smtp-Sekrit-4711", ZOOM_CLIENT_SECRET="zoom-Sekrit-4712")
    error = refusal(env_file, {"WEBINAR_OPS_SECRET_KEY": "key-Sekrit-4713", "SMTP_PORT": "abc"})
    text = str(error) + repr(error) + "".join(repr(p) for p in error.problems)
    assert "WEBINAR_OPS_SECRET_KEY" in text
    assert "(hidden)" in text
    assert "Sekrit" not in text


def test_secret_values_never_appear_in_the_settings_repr(env_file):
    write_env(
        env_file,
        WEBINAR_OPS_SECRET_KEY=TEST_SECRET_KEY,
        SMTP_PASSWORD="smtp-Sekrit-4711",
        ZOOM_CLIENT_SECRET="zoom-Sekrit-4712",
    )
    settings = load_settings(env_file=env_file, environ={})
    assert settings.of(SmtpSettings).password == "smtp-Sekrit-4711"
    assert "Sekrit" not in repr(settings)
    assert TEST_SECRET_KEY not in repr(settings)


def test_every_secret_key_is_a_known_key():
    assert set(known_keys()) >= secret_keys()
    assert {"WEBINAR_OPS_SECRET_KEY", "SMTP_PASSWORD", "ZOOM_CLIENT_SECRET"} <= secret_keys()


# -- .env.example ---------------------------------------------------------------------------


def example_keys() -> list[str]:
    text = (REPO / ".env.example").read_text(encoding="utf-8")
    return re.findall(r"^([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE)


def test_env_example_lists_every_key_once_in_order():
    assert example_keys() == list(known_keys())


def test_env_example_as_is_gives_the_defaults():
    assert load_settings(env_file=REPO / ".env.example", environ={}) == Settings()


# -- through the command line -----------------------------------------------------------------


def test_an_invalid_value_in_dot_env_stops_a_command_with_exit_code_2(run, workdir):
    write_env(workdir / ".env", SMTP_PORT="70000")
    ran = run("status")
    assert ran.code == 2
    assert "SMTP_PORT" in ran.stderr
    assert "1 to 65535" in ran.stderr
    assert "Traceback" not in ran.stderr


def test_a_secret_in_an_invalid_dot_env_is_not_printed(run, workdir):
    write_env(workdir / ".env", WEBINAR_OPS_SECRET_KEY="short-Sekrit")
    ran = run("status")
    assert ran.code == 2
    assert "WEBINAR_OPS_SECRET_KEY" in ran.stderr
    assert "Sekrit" not in ran.stdout + ran.stderr


def signing_keys(env_path: Path) -> list[str]:
    return re.findall(r"^WEBINAR_OPS_SECRET_KEY=(.+)$", env_path.read_text(encoding="utf-8"), flags=re.MULTILINE)


def test_init_writes_a_private_signing_key_to_dot_env(run, workdir):
    ran = run("init")
    assert ran.code == 0, ran.stderr
    env_path = workdir / ".env"
    assert stat.S_IMODE(env_path.stat().st_mode) == 0o600
    [key] = signing_keys(env_path)
    assert len(key) >= 32
    assert key not in ran.stdout + ran.stderr
    assert load_settings(env_file=env_path, environ={}).secret_key == key


def test_a_second_init_keeps_the_same_key(run, workdir):
    assert run("init").code == 0
    first = signing_keys(workdir / ".env")
    ran = run("init")
    assert ran.code == 0, ran.stderr
    assert "already set" in ran.stdout
    assert signing_keys(workdir / ".env") == first


def test_init_adds_the_key_below_existing_settings(run, workdir):
    (workdir / ".env").write_text("WEBINAR_OPS_BASE_URL=https://webinars.example.org", encoding="utf-8")
    assert run("init").code == 0
    settings = load_settings(env_file=workdir / ".env", environ={})
    assert settings.base_url == "https://webinars.example.org"
    assert settings.secret_key is not None
    assert len(settings.secret_key) >= 32


def test_init_does_not_write_a_key_when_the_environment_gives_one(run, workdir):
    ran = run("init", env={"WEBINAR_OPS_SECRET_KEY": TEST_SECRET_KEY})
    assert ran.code == 0, ran.stderr
    assert not (workdir / ".env").exists() or not signing_keys(workdir / ".env")


def test_init_after_copying_env_example_fills_in_the_key(run, workdir):
    (workdir / ".env").write_text((REPO / ".env.example").read_text(encoding="utf-8"), encoding="utf-8")
    assert run("init").code == 0
    lines = (workdir / ".env").read_text(encoding="utf-8").splitlines()
    assert len([line for line in lines if line.startswith("WEBINAR_OPS_SECRET_KEY=")]) == 1, "the empty line is filled"
    assert len(lines) == len((REPO / ".env.example").read_text(encoding="utf-8").splitlines())
    settings = load_settings(env_file=workdir / ".env", environ={})
    assert settings.secret_key is not None
    assert len(settings.secret_key) >= 32


def test_init_never_leaves_the_signing_key_in_a_file_others_can_read(run, workdir):
    env_path = workdir / ".env"
    env_path.write_text((REPO / ".env.example").read_text(encoding="utf-8"), encoding="utf-8")
    env_path.chmod(0o644)  # what `cp .env.example .env` gives under the usual umask
    assert run("init").code == 0
    assert signing_keys(env_path)
    assert stat.S_IMODE(env_path.stat().st_mode) & 0o077 == 0
