"""Mini-batch stochastic gradient descent for a scratch `Network`: epochs, metrics, early stopping."""

from __future__ import annotations

import contextlib
import time

import numpy as np

from .fast import FastStep
from .network import _CHUNK, Network, to_columns, to_rows


def sgd(
    network: Network,
    images,
    labels,
    epochs: int,
    batch_size: int,
    eta: float,
    lmbda: float = 0.0,
    momentum: float = 0.0,
    validation=None,
    patience: int | None = None,
    callback=None,
    on_batch=None,
    fast: bool = True,
) -> list[dict]:
    """Train `network` in place; return the history, one metrics dict per epoch.

    images: (N, 784) or (N, 28, 28), uint8 or float in [0, 1]; labels: int (N,).
    eta: step size; the update uses the gradient *averaged* over each mini-batch.
    lmbda: L2 strength, scaled by N: each step multiplies weights by (1 - eta * lmbda / N).
    momentum: mu in v <- mu v - eta grad; W <- W + v (0 = plain SGD).
    validation: optional (images, labels), measured after every epoch.
    patience: stop after this many epochs without a better validation accuracy and put back
        the weights of the best epoch (needs `validation`).
    callback(epoch, metrics): called after each epoch. Metrics are "epoch", "lr", "train_loss",
        "train_acc" (running averages over the epoch's own forward passes, so they cost nothing
        extra), "val_loss", "val_acc" (None without validation) and "seconds" (the epoch's wall
        time, validation included).
    on_batch(samples_done, samples_total, batch_loss): progress hook called after every batch.
    fast: use the optimised `FastStep`; False runs the plain `Network.update_mini_batch`.
    Batches are drawn from a fresh permutation each epoch using the network's seeded `rng`.
    """
    if epochs < 0 or batch_size < 1 or eta <= 0:
        raise ValueError(f"need epochs >= 0, batch_size >= 1 and eta > 0; got {epochs}, {batch_size}, {eta}")
    if patience is not None and (validation is None or patience < 1):
        raise ValueError("patience needs a validation set and must be at least 1")
    labels = np.asarray(labels, dtype=np.int64)
    table = _training_table(images, labels, network)  # (N, 784 + 1 + classes): [x | 1 | y]
    n = len(table)
    if validation is not None:
        val_x, val_labels = to_columns(validation[0], network.dtype), np.asarray(validation[1])
    if fast:
        step = FastStep(network, eta, lmbda, n, momentum)
    else:
        velocity = [np.zeros_like(p) for p in network.weights + network.biases]

        def step(x, y, out):
            out[...] = network.update_mini_batch(x[:-1], y, eta, lmbda, n, momentum, velocity)
            return out

    history, best_acc, best_params, waited = [], -1.0, None, 0
    with _one_blas_thread(), np.errstate(over="ignore"):  # e^-z overflowing to inf is harmless
        for epoch in range(1, epochs + 1):
            start_time = time.perf_counter()
            train_loss, train_acc = _epoch(network, step, table, labels, batch_size, on_batch)
            metrics = {"epoch": epoch, "lr": eta, "train_loss": train_loss, "train_acc": train_acc,
                       "val_loss": None, "val_acc": None}
            if validation is not None:
                metrics["val_loss"], metrics["val_acc"] = _loss_and_accuracy(network, val_x, val_labels)
                if metrics["val_acc"] > best_acc:
                    best_acc, waited = metrics["val_acc"], 0
                    if patience is not None:
                        best_params = [p.copy() for p in network.weights + network.biases]
                else:
                    waited += 1
            metrics["seconds"] = time.perf_counter() - start_time
            history.append(metrics)
            if callback is not None:
                callback(epoch, metrics)
            if patience is not None and waited >= patience:
                break

    layers = len(network.weights)
    if best_params is not None:
        network.weights, network.biases = best_params[:layers], best_params[layers:]
    else:  # plain arrays again, not views into the fast step's [W | b]
        network.weights = [np.ascontiguousarray(w) for w in network.weights]
        network.biases = [np.ascontiguousarray(b) for b in network.biases]
    return history


def _epoch(network: Network, step, table, labels, batch_size: int, on_batch) -> tuple[float, float]:
    """One pass over `table` in a fresh random order; returns the running (mean loss, accuracy)."""
    n, n_in, classes = len(table), network.sizes[0], network.sizes[-1]
    order = network.rng.permutation(n)
    n_batches = -(-n // batch_size)
    outputs = np.empty((n_batches, classes, batch_size), network.dtype)  # each batch's outputs
    for k in range(n_batches):
        rows = table.take(order[k * batch_size : (k + 1) * batch_size], axis=0)  # (B, 784 + 1 + classes)
        x, y = rows[:, : n_in + 1].T, rows[:, n_in + 1 :].T  # (784 + 1, B) ending in ones, (classes, B)
        a = step(x, y, outputs[k, :, : len(rows)])
        if on_batch is not None:
            on_batch(k * batch_size + len(rows), n, network.cost_fn.value(a, y) / len(rows))
    seen = outputs.transpose(0, 2, 1).reshape(-1, classes)[:n]  # (N, classes), sample i = order[i]
    loss = network.cost_fn.value(seen, table[order, n_in + 1 :]) / n
    return loss, float(np.mean(seen.argmax(axis=1) == labels[order]))


def _one_blas_thread():
    """Run BLAS on one thread while training.

    A batch of 10 is too small to split, but OpenBLAS splits wide layers (784-300-10) anyway, and
    on a busy machine its threads then wait for each other: 5 ms instead of 0.16 ms per step was
    measured. threadpoolctl comes with scikit-learn; without it nothing changes.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _training_table(images, labels, network: Network) -> np.ndarray:
    """One row per sample: [pixels in [0, 1] | 1 | one-hot label], so one gather fetches a batch."""
    n_in, classes = network.sizes[0], network.sizes[-1]
    images = np.asarray(images)
    shape = (len(images), int(np.prod(images.shape[1:], dtype=np.int64)))
    if shape[1] != n_in or len(labels) != shape[0] or shape[0] == 0:
        raise ValueError(f"need images (N, {n_in}) and labels (N,), got {shape} and {labels.shape}")
    if labels.min() < 0 or labels.max() >= classes:
        raise ValueError(f"labels must lie in 0..{classes - 1}")
    table = np.zeros((shape[0], n_in + 1 + classes), network.dtype)
    to_rows(images, network.dtype, out=table[:, :n_in])  # the pixels, converted in place
    table[:, n_in] = 1.0
    table[np.arange(shape[0]), n_in + 1 + labels] = 1.0
    return table


def _loss_and_accuracy(network: Network, x, labels) -> tuple[float, float]:
    """Mean cost and accuracy on columns x (784, N), in chunks to bound memory."""
    cost, correct = 0.0, 0
    for start in range(0, x.shape[1], _CHUNK):
        chunk = slice(start, start + _CHUNK)
        a = network.feedforward(x[:, chunk])
        y = np.eye(network.sizes[-1], dtype=network.dtype)[labels[chunk]].T
        cost += network.cost_fn.value(a, y)
        correct += int(np.sum(a.argmax(axis=0) == labels[chunk]))
    return cost / x.shape[1], correct / x.shape[1]
