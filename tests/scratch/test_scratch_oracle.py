"""The scratch network against PyTorch autograd: same weights, same batch, same numbers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from digitrec.scratch import ACTIVATIONS, VALID_HEADS, Network, sgd

COMBOS = list(itertools.product(ACTIVATIONS, VALID_HEADS))
IDS = [f"{a}-{o}-{c}" for a, (o, c) in COMBOS]
SIZES = [6, 5, 4, 3]


def _torch_loss(params, x, labels, activation, output, cost):
    """Mean cost over the batch, from torch's own building blocks. x is (features, batch)."""
    layers = len(params) // 2
    a = torch.from_numpy(x)
    for l in range(layers):
        z = params[l] @ a + params[layers + l]
        if l < layers - 1:
            a = {"sigmoid": torch.sigmoid, "relu": torch.relu, "tanh": torch.tanh}[activation](z)
    batch = x.shape[1]
    labels = torch.from_numpy(labels)
    y = F.one_hot(labels, z.shape[0]).T.to(z.dtype)
    if cost == "quadratic":
        return F.mse_loss(torch.sigmoid(z), y, reduction="sum") / 2 / batch
    if cost == "cross-entropy":
        return F.binary_cross_entropy(torch.sigmoid(z), y, reduction="sum") / batch
    return F.cross_entropy(z.T, labels, reduction="sum") / batch  # softmax + log-likelihood


def _torch_params(net: Network):
    return [torch.tensor(p, requires_grad=True) for p in net.weights + net.biases]


def _max_rel(ours, theirs) -> float:
    theirs = np.asarray(theirs)
    return float(np.max(np.abs(ours - theirs)) / max(np.max(np.abs(theirs)), 1e-300))


def _problem(activation, head, seed=0, batch=8):
    output, cost = head
    net = Network(SIZES, activation=activation, output=output, cost=cost, init="scaled", seed=seed)
    rng = np.random.default_rng(seed + 100)
    return net, rng.random((batch, SIZES[0])), rng.integers(0, SIZES[-1], batch)


@pytest.mark.parametrize(("activation", "head"), COMBOS, ids=IDS)
def test_loss_and_gradients_match_torch(activation, head):
    net, images, labels = _problem(activation, head)
    x = images.T  # (features, batch)
    params = _torch_params(net)
    loss = _torch_loss(params, x, labels, activation, *head)
    loss.backward()

    assert abs(net.loss(x, labels) - loss.item()) <= 1e-10 * abs(loss.item())
    grad_w, grad_b = net.backprop(x, labels)
    for ours, p in zip(grad_w + grad_b, params):
        assert _max_rel(ours, p.grad.numpy()) < 1e-8


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "plain"])
@pytest.mark.parametrize(("lmbda", "momentum"), [(0.0, 0.0), (2.0, 0.0), (2.0, 0.9)], ids=["sgd", "l2", "l2-momentum"])
@pytest.mark.parametrize(("activation", "head"), COMBOS, ids=IDS)
def test_sgd_steps_match_torch(activation, head, lmbda, momentum, fast):
    net, images, labels = _problem(activation, head)
    n, eta, steps = len(images), 0.5, 3
    params = _torch_params(net)
    layers = len(params) // 2
    optimizer = torch.optim.SGD(
        [{"params": params[:layers], "weight_decay": lmbda / n}, {"params": params[layers:], "weight_decay": 0.0}],
        lr=eta, momentum=momentum,
    )
    for _ in range(steps):
        optimizer.zero_grad()
        _torch_loss(params, images.T, labels, activation, *head).backward()
        optimizer.step()

    # batch_size = n: one step per epoch on the whole set, so the shuffle order cannot matter.
    sgd(net, images, labels, epochs=steps, batch_size=n, eta=eta, lmbda=lmbda, momentum=momentum, fast=fast)
    for ours, p in zip(net.weights + net.biases, params):
        assert _max_rel(ours, p.detach().numpy()) < 1e-8
