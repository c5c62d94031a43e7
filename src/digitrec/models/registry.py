"""Model registry: names -> builder functions, in the style of timm's `_registry.py`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

ModelBuilder = Callable[..., nn.Module]


@dataclass(frozen=True)
class ModelInfo:
    """What `model_info` tells a person about a registered model."""

    name: str
    description: str  # first line of the builder's docstring
    source: str  # the tutorial (seed) or project the architecture comes from

    def __str__(self) -> str:
        return f"{self.name}: {self.description} (source: {self.source})"


_BUILDERS: dict[str, ModelBuilder] = {}
_INFO: dict[str, ModelInfo] = {}


def register_model(name: str, *, source: str) -> Callable[[ModelBuilder], ModelBuilder]:
    """Register `builder(**kwargs) -> nn.Module` under `name`; its docstring's first line describes it."""

    def decorate(builder: ModelBuilder) -> ModelBuilder:
        if name in _BUILDERS:
            raise ValueError(f"model {name!r} is already registered")
        doc = (builder.__doc__ or "").strip()
        _BUILDERS[name] = builder
        _INFO[name] = ModelInfo(name, doc.splitlines()[0] if doc else "", source)
        return builder

    return decorate


def list_models() -> list[str]:
    """Registered model names, sorted."""
    return sorted(_BUILDERS)


def _check_name(name: str) -> None:
    if name not in _BUILDERS:
        raise ValueError(f"unknown model {name!r}; choose from: {', '.join(list_models())}")


def model_info(name: str) -> ModelInfo:
    """One-line description and source tutorial of a registered model."""
    _check_name(name)
    return _INFO[name]


def create_model(name: str, **kwargs) -> nn.Module:
    """Build a registered model; kwargs are plain JSON values (see each builder's docstring)."""
    _check_name(name)
    return _BUILDERS[name](**kwargs)
