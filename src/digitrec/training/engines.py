"""The training engines in one plain table: train, cv (and later the distributed launcher) call
`ENGINES[recipe.engine].fit(...)` and nothing else. Importing it registers nothing elsewhere."""

from __future__ import annotations

from .interface import Engine
from .scratch_engine import ScratchEngine
from .torch_engine import TorchEngine

ENGINES: dict[str, Engine] = {"torch": TorchEngine(), "scratch": ScratchEngine()}


def get_engine(name: str) -> Engine:
    if name not in ENGINES:
        from ..errors import DigitrecError

        raise DigitrecError(f"unknown engine '{name}'; choose from: {', '.join(ENGINES)}")
    return ENGINES[name]
