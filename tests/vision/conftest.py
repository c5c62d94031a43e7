"""Fixtures shared by the vision tests."""

from __future__ import annotations

import numpy as np
import pytest
from drawing import assert_mnist_like, seven

from digitrec.vision import to_mnist


@pytest.fixture(scope="module")
def mnist_sample(small_mnist) -> tuple[np.ndarray, np.ndarray]:
    """20 real MNIST test digits ((20, 28, 28) uint8) and their labels."""
    return small_mnist["test"].images[:20], small_mnist["test"].labels[:20]


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    """What to_mnist makes of the plain 7: the output every variant should reproduce."""
    result = to_mnist(seven())
    assert_mnist_like(result)
    return result
