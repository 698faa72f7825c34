"""What the package ships beside its code: the default mail templates and the sample webinar.

The repository keeps them at its top (`templates/`, `data/`); the wheel carries them inside
the package (`webinar_ops.templates`, `webinar_ops.sample`), and both are found through
importlib.resources, so an installed webinar-ops never looks for a checkout.
"""

from __future__ import annotations

import os
import shutil
from importlib import resources
from pathlib import Path


def _folder(package: str) -> Path:
    """The folder of a shipped package, as a real path: Jinja's loader and copying need one.
    In a broken install without it, the path where it belongs, so that the commands that
    need it can say what is missing (`webinar add` refuses the webinar) instead of crashing."""
    try:
        return Path(os.fspath(resources.files(package)))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent / package.rpartition(".")[2]


TEMPLATES = _folder("webinar_ops.templates")
SAMPLE_FOLDER = _folder("webinar_ops.sample")
SAMPLE_WEBINAR = SAMPLE_FOLDER / "webinars" / "undesa-snu-session-5.toml"
SAMPLE_REGISTRANTS = SAMPLE_FOLDER / "registrants-sample.csv"
SAMPLE_FILES = (SAMPLE_WEBINAR, SAMPLE_REGISTRANTS)


def sample_targets(folder: Path) -> list[Path]:
    """Where `write_sample` puts the sample definition and CSV in `folder`."""
    return [folder / path.name for path in SAMPLE_FILES]


def write_sample(folder: Path, force: bool = False) -> list[Path]:
    """Copy the sample definition and its registrants CSV into `folder`, and return their paths.

    Existing files are kept unless `force`: FileExistsError names the first one found,
    before anything is written."""
    targets = sample_targets(folder)
    if not force:
        for target in targets:
            if target.exists():
                raise FileExistsError(target)
    folder.mkdir(parents=True, exist_ok=True)
    for source, target in zip(SAMPLE_FILES, targets, strict=True):
        shutil.copyfile(source, target)
    return targets
