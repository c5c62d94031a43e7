"""digitrec's version and the library versions recorded beside every model and run."""

from __future__ import annotations

import platform
import sys
from importlib import metadata

__version__ = "0.1.0"


def versions() -> dict[str, str]:
    """digitrec, torch, numpy and Python versions as plain strings (checkpoints hold no objects).

    torch's version comes from the loaded module when there is one (it carries the build, e.g.
    "2.13.0+cpu"), else from the installed package, so asking never imports torch.
    """
    found = {"digitrec": __version__}
    for name in ("torch", "numpy"):
        module = sys.modules.get(name)
        try:
            found[name] = str(module.__version__) if module is not None else metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    found["python"] = platform.python_version()
    return found
