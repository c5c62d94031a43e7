"""digitrec: handwritten-digit recognition toolkit.

The public API is loaded on first use, so `import digitrec.scratch` (or the CLI's start-up)
does not pay for torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from .versions import __version__

# public name -> the module that defines it
_EXPORTS = {
    "load_dataset": "data",
    "Prediction": "predict", "Predictor": "predict", "load_model": "predict",
    "create_model": "models", "list_models": "models",
    "Recipe": "recipes", "get_recipe": "recipes", "list_recipes": "recipes",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'digitrec' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
