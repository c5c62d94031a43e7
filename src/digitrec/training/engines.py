"""The training engines in one plain table: train, cv and the distributed launcher call
`get_engine(recipe.engine).fit(...)` and nothing else. Importing it registers nothing elsewhere.

The table names each engine's module and class; an engine is imported when first asked for, so a
NumPy-network run never pays for importing torch (a second or more of a short run).
"""

from __future__ import annotations

import importlib

from .interface import Engine

ENGINES: dict[str, tuple[str, str]] = {
    "torch": ("digitrec.training.torch_engine", "TorchEngine"),
    "scratch": ("digitrec.training.scratch_engine", "ScratchEngine"),
}
_made: dict[str, Engine] = {}


def get_engine(name: str) -> Engine:
    if name not in ENGINES:
        from ..errors import DigitrecError

        raise DigitrecError(f"unknown engine '{name}'; choose from: {', '.join(ENGINES)}")
    if name not in _made:
        module, cls = ENGINES[name]
        _made[name] = getattr(importlib.import_module(module), cls)()
    return _made[name]
