"""Turn a person's image of a digit (or a written number) into MNIST-style 28x28 arrays."""

from .io import IMAGE_SUFFIXES, MAX_PIXELS, ImageLike, PreprocessError, UnreadableImage, load_grey
from .mnist import ink_to_mnist, to_mnist
from .number import Classify, Digit, split_digits

__all__ = [
    "IMAGE_SUFFIXES",
    "MAX_PIXELS",
    "Classify",
    "Digit",
    "ImageLike",
    "PreprocessError",
    "UnreadableImage",
    "ink_to_mnist",
    "load_grey",
    "split_digits",
    "to_mnist",
]
