"""A neural network from scratch in NumPy (Nielsen, chapters 1-3); imports no torch."""

from .checkpoint import ScratchCheckpointError, load_network, load_network_and_metadata, save_network
from .functions import ACTIVATIONS, COSTS, OUTPUTS, VALID_HEADS
from .network import Network, one_hot, to_columns, to_rows
from .training import sgd

__all__ = [
    "ACTIVATIONS",
    "COSTS",
    "OUTPUTS",
    "VALID_HEADS",
    "Network",
    "ScratchCheckpointError",
    "load_network",
    "load_network_and_metadata",
    "one_hot",
    "save_network",
    "sgd",
    "to_columns",
    "to_rows",
]
