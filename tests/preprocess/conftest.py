"""Fixtures shared by the preprocessing tests."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def mnist_sample(small_mnist) -> tuple[np.ndarray, np.ndarray]:
    """20 real MNIST test digits ((20, 28, 28) uint8) and their labels."""
    return small_mnist["test"].images[:20], small_mnist["test"].labels[:20]
