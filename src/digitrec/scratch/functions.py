"""Activation functions and cost functions of Nielsen's chapters 1-3, written out in NumPy.

Every array here holds one sample per column: `z` and `a` are (neurons, batch), `y` is the
one-hot target (classes, batch). Costs return the sum over the batch; callers divide by the
batch size.
"""

from __future__ import annotations

import numpy as np

# --- activations --------------------------------------------------------------------------
# Each activation knows sigma(z), sigma'(z) for the readable backprop, and sigma' written in
# terms of the output a = sigma(z), which lets the fast training path skip storing z.


class Sigmoid:
    """sigma(z) = 1 / (1 + e^-z); sigma'(z) = sigma(z) (1 - sigma(z))."""

    name = "sigmoid"

    def __call__(self, z, out=None):
        out = np.negative(z, out=out)  # the same 1 / (1 + e^-z), step by step into `out`
        np.exp(out, out=out)
        np.add(out, 1.0, out=out)
        return np.reciprocal(out, out=out)

    def prime(self, z):
        a = self(z)
        return a * (1.0 - a)

    def prime_from_output(self, a, out):
        np.subtract(1.0, a, out=out)
        return np.multiply(out, a, out=out)


class Tanh:
    """tanh(z); tanh'(z) = 1 - tanh(z)^2."""

    name = "tanh"

    def __call__(self, z, out=None):
        return np.tanh(z, out=out)

    def prime(self, z):
        return 1.0 - np.tanh(z) ** 2

    def prime_from_output(self, a, out):
        np.multiply(a, a, out=out)
        return np.subtract(1.0, out, out=out)


class ReLU:
    """max(0, z); its derivative is 1 where z > 0 and 0 elsewhere (we pick 0 at z = 0)."""

    name = "relu"

    def __call__(self, z, out=None):
        return np.maximum(z, 0.0, out=out)

    def prime(self, z):
        return (z > 0).astype(z.dtype)

    def prime_from_output(self, a, out):
        # a > 0 exactly where z > 0; writing the bool straight into a float buffer casts it.
        return np.greater(a, 0.0, out=out, casting="unsafe")


class Softmax:
    """a_j = e^{z_j} / sum_k e^{z_k} down each column; only used as an output layer."""

    name = "softmax"

    def __call__(self, z, out=None):
        # Subtracting the column maximum changes nothing mathematically and avoids overflow.
        out = np.subtract(z, z.max(axis=0, keepdims=True), out=out)
        np.exp(out, out=out)
        return np.divide(out, out.sum(axis=0, keepdims=True), out=out)


ACTIVATIONS = {cls.name: cls() for cls in (Sigmoid, ReLU, Tanh)}
OUTPUTS = {cls.name: cls() for cls in (Sigmoid, Softmax)}


# --- costs --------------------------------------------------------------------------------
# `delta` is the output error dC/dz^L. For the pairs we allow it has a short closed form.


def _safe_log(a):
    """ln(a) with a clipped into [eps, 1 - eps], so a saturated unit costs ~36 (float64), not inf."""
    eps = np.finfo(a.dtype).eps
    return np.log(np.clip(a, eps, 1.0 - eps))


class QuadraticCost:
    """C = 1/2 ||a - y||^2; delta = (a - y) * sigma'(z) (chapter 1)."""

    name = "quadratic"

    def value(self, a, y):
        return 0.5 * float(np.sum((a - y) ** 2))

    def delta(self, z, a, y):
        return (a - y) * OUTPUTS["sigmoid"].prime(z)

    def delta_from_output(self, a, y, out, tmp):
        """The same delta from a = sigmoid(z) alone, written into `out` (`tmp` is scratch space)."""
        np.subtract(a, y, out=out)
        return np.multiply(out, OUTPUTS["sigmoid"].prime_from_output(a, tmp), out=out)


class CrossEntropyCost:
    """C = -sum_j [y_j ln a_j + (1 - y_j) ln(1 - a_j)]; with sigmoid outputs delta = a - y (ch. 3)."""

    name = "cross-entropy"

    def value(self, a, y):
        return -float(np.sum(y * _safe_log(a) + (1.0 - y) * _safe_log(1.0 - a)))

    def delta(self, z, a, y):
        return a - y

    def delta_from_output(self, a, y, out, tmp):
        return np.subtract(a, y, out=out)


class LogLikelihoodCost:
    """C = -ln a_y (the log-probability of the true class); with softmax outputs delta = a - y."""

    name = "log-likelihood"

    def value(self, a, y):
        return -float(np.sum(y * _safe_log(a)))

    def delta(self, z, a, y):
        return a - y

    def delta_from_output(self, a, y, out, tmp):
        return np.subtract(a, y, out=out)


COSTS = {cls.name: cls() for cls in (QuadraticCost, CrossEntropyCost, LogLikelihoodCost)}

# Output layer / cost pairs from the book whose output error has the closed forms above.
VALID_HEADS = (("sigmoid", "quadratic"), ("sigmoid", "cross-entropy"), ("softmax", "log-likelihood"))
