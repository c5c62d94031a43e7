"""Writing trained models in formats other tools run: ONNX."""

from .onnx import checkpoint_to_onnx, export_checkpoint, export_model

__all__ = ["checkpoint_to_onnx", "export_checkpoint", "export_model"]
