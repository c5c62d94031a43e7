"""Backprop against central finite differences, for every hidden activation and output/cost pair."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from digitrec.scratch import ACTIVATIONS, VALID_HEADS, Network

COMBOS = list(itertools.product(ACTIVATIONS, VALID_HEADS))


def _numerical_gradients(net: Network, x, y, eps: float = 1e-6):
    """dC/dp for every parameter p by (C(p + eps) - C(p - eps)) / 2 eps, one entry at a time."""
    grads = []
    for p in net.weights + net.biases:
        g = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            old = p[i]
            p[i] = old + eps
            plus = net.loss(x, y)
            p[i] = old - eps
            minus = net.loss(x, y)
            p[i] = old
            g[i] = (plus - minus) / (2 * eps)
        grads.append(g)
    return grads


@pytest.mark.parametrize("sizes", [[5, 4, 3], [5, 4, 4, 3]], ids=["one-hidden", "two-hidden"])
@pytest.mark.parametrize(("activation", "head"), COMBOS, ids=[f"{a}-{o}-{c}" for a, (o, c) in COMBOS])
def test_backprop_matches_finite_differences(activation, head, sizes):
    output, cost = head
    net = Network(sizes, activation=activation, output=output, cost=cost, init="scaled", seed=1)
    rng = np.random.default_rng(2)
    x = rng.random((sizes[0], 7))  # (features, batch)
    labels = rng.integers(0, sizes[-1], 7)

    grad_w, grad_b = net.backprop(x, labels)
    numerical = _numerical_gradients(net, x, labels)
    for analytic, approx in zip(grad_w + grad_b, numerical):
        assert analytic.shape == approx.shape
        error = np.linalg.norm(analytic - approx) / (np.linalg.norm(analytic) + np.linalg.norm(approx))
        assert error < 1e-6, f"relative error {error:.2e}"
