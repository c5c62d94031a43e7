"""Inference: the Predictor interface, one backend a module (torch, onnx, numpy), one loader table."""

from .load import load_model
from .predictor import Prediction, Predictor, as_batch

__all__ = ["Prediction", "Predictor", "as_batch", "load_model"]
