"""An older commit's code beside this checkout's: its src/ from `git archive`, and its digitrec
package importable under another name, so both run in one process, image by image."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def export(commit: str, folder: Path) -> Path:
    """`commit`'s src/ extracted into `folder`; returns the src path."""
    folder.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "src"], check=True, capture_output=True).stdout
    archive_path = folder / "src.tar"
    archive_path.write_bytes(archive)
    with tarfile.open(archive_path) as tar:
        tar.extractall(folder, filter="data")
    return folder / "src"


def import_package(src: Path, name: str):
    """The digitrec package under `src` imported as `name` (its modules import each other
    relatively, so the copy never touches this checkout's)."""
    spec = importlib.util.spec_from_file_location(name, src / "digitrec" / "__init__.py",
                                                  submodule_search_locations=[str(src / "digitrec")])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
