"""Writing trained models in formats other tools run: ONNX."""

from .onnx import export_checkpoint, export_model

__all__ = ["export_checkpoint", "export_model"]
