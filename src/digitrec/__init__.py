"""digitrec: handwritten-digit recognition toolkit."""

__version__ = "0.1.0"

from .data import load_dataset  # noqa: E402  (after __version__, which submodules read)
from .inference import Predictor, load_model  # noqa: E402

__all__ = ["Predictor", "__version__", "load_dataset", "load_model"]
