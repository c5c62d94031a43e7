"""digitrec: handwritten-digit recognition toolkit."""

__version__ = "0.1.0"
