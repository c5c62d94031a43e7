"""Network definitions and the registry that names them; importing this registers every family."""

from . import cnn, lenet, mlp, reference  # noqa: F401  (imported to register their builders)
from .registry import ModelInfo, create_model, list_models, model_info, register_model

__all__ = ["ModelInfo", "create_model", "list_models", "model_info", "register_model"]
