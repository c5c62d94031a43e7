"""A neural network from scratch in NumPy (Nielsen, chapters 1-3); imports no torch."""

from .checkpoint import ScratchCheckpointError
from .functions import ACTIVATIONS, COSTS, OUTPUTS, VALID_HEADS
from .network import Network, one_hot, to_columns, to_rows
from .predictor import load_scratch_predictor
from .presets import PRESETS, ScratchConfig, nielsen_config
from .training import sgd

__all__ = [
    "ACTIVATIONS",
    "COSTS",
    "OUTPUTS",
    "PRESETS",
    "VALID_HEADS",
    "Network",
    "ScratchCheckpointError",
    "ScratchConfig",
    "load_scratch_predictor",
    "nielsen_config",
    "one_hot",
    "sgd",
    "to_columns",
    "to_rows",
]
