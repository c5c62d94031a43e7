"""Network definitions, the registry that names them, input normalisation, checkpoints and ensembles.

Importing this registers every family.
"""

from . import best, cnn, fast, lenet, mlp, reference  # noqa: F401  (imported to register their builders)
from .checkpoint import build_model, load_checkpoint, make_checkpoint, save_checkpoint
from .ensemble import Ensemble
from .ensemble_checkpoint import make_ensemble_checkpoint, write_ensemble
from .normalize import Classifier, Normalize
from .registry import ModelInfo, create_model, list_models, model_info, register_model

__all__ = [
    "Classifier", "Ensemble", "ModelInfo", "Normalize", "build_model", "create_model", "list_models", "load_checkpoint",
    "make_checkpoint", "make_ensemble_checkpoint", "model_info", "register_model", "save_checkpoint", "write_ensemble",
]
