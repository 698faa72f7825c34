"""What a user installs: the wheel carries the templates and the sample under `webinar_ops`, and an
install that lost its templates refuses webinars instead of failing every mail later."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from conftest import REPO, SAMPLE_CSV, SAMPLE_DEFINITION, TEST_SECRET_KEY

from webinar_ops.mail import kinds


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory) -> list[str]:
    folder = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(folder), str(source_tree(folder))],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = folder.glob("webinar_ops-*.whl")
    return zipfile.ZipFile(wheel).namelist()


def source_tree(folder) -> Path:
    """The checkout's files as a clean clone would have them, with the changes not yet committed:
    a build/ folder left by an earlier build would otherwise lend the wheel its old files."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        check=True,
        capture_output=True,
    ).stdout.decode()
    tree = folder / "source"
    for name in filter(None, listed.split("\0")):
        if (REPO / name).is_file():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, tree / name)
    return tree


def test_the_wheel_carries_every_mail_template_in_every_language(wheel_names):
    shipped = {name.removeprefix("webinar_ops/templates/") for name in wheel_names}
    for template in (p.relative_to(REPO / "templates").as_posix() for p in (REPO / "templates").rglob("*.*")):
        if not template.endswith(".py"):
            assert template in shipped


def test_the_wheel_carries_each_languages_compiled_catalog(wheel_names):
    for catalog in (REPO / "webinar_ops" / "locale").glob("*/LC_MESSAGES/messages.mo"):
        assert f"webinar_ops/{catalog.relative_to(REPO / 'webinar_ops').as_posix()}" in wheel_names


def test_the_wheel_carries_the_sample_and_the_jobs_inside_the_package(wheel_names):
    assert "webinar_ops/sample/webinars/undesa-snu-session-5.toml" in wheel_names
    assert "webinar_ops/sample/registrants-sample.csv" in wheel_names
    assert "webinar_ops/jobs/send_due.py" in wheel_names


def test_the_wheel_carries_the_reports_page_templates(wheel_names):
    for template in (REPO / "webinar_ops" / "report" / "templates").glob("*.html"):
        assert f"webinar_ops/report/templates/{template.name}" in wheel_names


def test_the_wheel_carries_every_module_of_the_package(wheel_names):
    package = REPO / "webinar_ops"
    for module in package.rglob("*.py"):
        assert f"webinar_ops/{module.relative_to(package).as_posix()}" in wheel_names


def test_the_wheel_installs_no_top_level_name_but_webinar_ops(wheel_names):
    tops = {name.split("/")[0] for name in wheel_names}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"webinar_ops"}


def test_sample_writes_the_definition_and_the_registrants_into_a_folder(run, workdir):
    ran = run("sample", "mine")
    assert ran.code == 0, ran.stderr
    assert (workdir / "mine" / SAMPLE_DEFINITION.name).read_bytes() == SAMPLE_DEFINITION.read_bytes()
    assert (workdir / "mine" / SAMPLE_CSV.name).read_bytes() == SAMPLE_CSV.read_bytes()
    env = {"WEBINAR_OPS_SECRET_KEY": TEST_SECRET_KEY}
    assert run("webinar", "add", f"mine/{SAMPLE_DEFINITION.name}", env=env).code == 0


def test_sample_keeps_an_existing_file_unless_forced(run, workdir):
    (workdir / SAMPLE_CSV.name).write_text("mine\n", encoding="utf-8")
    ran = run("sample", ".")
    assert ran.code == 2
    assert "--force" in ran.stderr
    assert (workdir / SAMPLE_CSV.name).read_text(encoding="utf-8") == "mine\n"
    assert not (workdir / SAMPLE_DEFINITION.name).exists(), "nothing is half-written"
    assert run("sample", ".", "--force").code == 0
    assert (workdir / SAMPLE_CSV.name).read_bytes() == SAMPLE_CSV.read_bytes()


def test_init_points_at_the_sample_command_not_at_a_checkout_path(run):
    ran = run("init")
    assert "webinar-ops sample" in ran.stdout
    assert "data/webinars" not in ran.stdout


def test_an_install_without_its_templates_refuses_the_webinar_naming_what_is_missing(workdir, tmp_path):
    """The package alone, without the templates beside it, as a wheel that forgot them was."""
    site = tmp_path / "site"
    shutil.copytree(REPO / "webinar_ops", site / "webinar_ops", ignore=shutil.ignore_patterns("__pycache__"))
    # -S: no .pth files, so the editable install cannot hand back the checkout's templates
    ran = subprocess.run(
        [sys.executable, "-S", "-m", "webinar_ops", "webinar", "add", str(SAMPLE_DEFINITION)],
        cwd=workdir,
        env={"PYTHONPATH": f"{site}:{sysconfig.get_paths()['purelib']}", "WEBINAR_OPS_SECRET_KEY": TEST_SECRET_KEY},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 2, ran.stderr
    others = 3 * len(kinds.KINDS) - 3  # a subject, a text and an HTML template per kind of mail
    assert f"after.html, after.subject.txt, after.txt and {others} more cannot be found" in ran.stderr
    assert "reinstall webinar-ops" in ran.stderr
