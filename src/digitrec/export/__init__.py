"""Writing trained models in formats other tools run: ONNX, and the cached export predict runs.

Names load on first use (PEP 562): `export.cache` must stay importable without torch, which
`export.onnx` imports, so that a cached export answers without it.
"""

from importlib import import_module

_HOMES = {"runnable_export": ".cache", "load_fastest": ".cache",
          "checkpoint_to_onnx": ".onnx", "export_checkpoint": ".onnx", "export_model": ".onnx"}
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_HOMES[name], __name__), name)
