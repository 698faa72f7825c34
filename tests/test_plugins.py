"""Providers and transports are plugins: found by name in the installed metadata, each owning
its settings, and never imported by the core's modules."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from conftest import REPO, TEST_SECRET_KEY

from webinar_ops import plugins, tokens
from webinar_ops.config import Settings, load_settings
from webinar_ops.providers import provider_plugin
from webinar_ops.providers.zoom import ZoomSettings
from webinar_ops.transports.smtp import SmtpSettings

PACKAGE = REPO / "webinar_ops"
PLUGIN_PACKAGES = ("providers/local", "providers/zoom", "transports/maildir", "transports/smtp")


def imported_modules(path: Path) -> set[str]:
    """Every webinar_ops module `path` imports, at its top, in a function or under TYPE_CHECKING."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return {name for name in found if name.startswith("webinar_ops") and is_module(name)}


def is_module(name: str) -> bool:
    """Whether the dotted `name` is a module or package of webinar_ops (not a class in one)."""
    path = REPO.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def test_the_built_in_plugins_are_found_by_name_in_the_installed_metadata():
    assert plugins.names(plugins.PROVIDERS) == ("local", "zoom")
    assert plugins.names(plugins.TRANSPORTS) == ("maildir", "smtp")
    assert plugins.load(plugins.PROVIDERS, "zoom").name == "zoom"


def test_no_module_of_the_core_imports_a_plugin_but_the_command_that_runs_the_local_zoom():
    plugin_modules = tuple("webinar_ops." + folder.replace("/", ".") for folder in PLUGIN_PACKAGES)
    offenders = {}
    for path in PACKAGE.rglob("*.py"):
        if any(path.is_relative_to(PACKAGE / folder) for folder in PLUGIN_PACKAGES):
            continue
        named = sorted(name for name in imported_modules(path) if name.startswith(plugin_modules))
        if named:
            offenders[str(path.relative_to(REPO))] = named
    assert offenders == {"webinar_ops/cli.py": ["webinar_ops.providers.zoom.standin"]}


def test_reading_the_configuration_imports_no_provider_client_nor_flask():
    code = (
        "import sys; from webinar_ops.config import load_settings; load_settings(environ={'ZOOM_PLAN': 'free'}); "
        "print(sorted(m for m in ('requests', 'flask', 'webinar_ops.providers.zoom.client') if m in sys.modules))"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert ran.stdout.strip() == "[]"


def test_each_plugin_reads_its_own_keys_and_is_reached_by_its_settings_class(tmp_path):
    environ = {"ZOOM_PLAN": "free", "SMTP_HOST": "smtp.example.org", "WEBINAR_OPS_SECRET_KEY": TEST_SECRET_KEY}
    settings = load_settings(env_file=tmp_path / ".env", environ=environ)
    assert settings.of(ZoomSettings).plan == "free"
    assert settings.of(ZoomSettings).user_id == "me", "a key left unset keeps the plugin's default"
    assert settings.of(SmtpSettings).host == "smtp.example.org"
    assert settings.secret_key == TEST_SECRET_KEY


def test_settings_with_a_plugin_replace_that_plugin_only():
    settings = Settings().with_plugin(ZoomSettings(plan="free"), SmtpSettings(host="a.example.org"))
    changed = settings.with_plugin(ZoomSettings(plan="business"))
    assert changed.of(ZoomSettings).plan == "business"
    assert changed.of(SmtpSettings).host == "a.example.org"
    assert Settings().of(ZoomSettings) == ZoomSettings()


def test_each_provider_says_which_part_of_its_join_link_is_secret():
    zoom_link = "https://us02web.zoom.us/w/81234567890?tk=" + "z" * 40
    local_link = "https://webinars.example.org/j/" + "L" * 22
    assert provider_plugin("zoom").join_link_secret(zoom_link) == "z" * 40
    assert provider_plugin("local").join_link_secret(local_link) == "L" * 22
    assert provider_plugin("local").join_link_secret(zoom_link) is None
    said = f"refused: {'z' * 40} and {'L' * 22}"
    assert tokens.conceal(said, zoom_link) == f"refused: [the join link] and {'L' * 22}"
    assert tokens.conceal(said, local_link) == f"refused: {'z' * 40} and [the join link]"
