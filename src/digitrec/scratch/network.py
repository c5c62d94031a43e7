"""A fully connected network in NumPy, after Nielsen's network.py and network2.py (chapters 1-3).

Convention: inside the network one sample is one *column*. A mini-batch `x` is a matrix of shape
(features, batch), so layer l computes z^l = W^l a^{l-1} + b^l for the whole batch with one
matrix product; W^l is (n_l, n_{l-1}) and b^l is (n_l, 1), broadcast across the columns.
The image-level methods (`sgd`, `predict_proba`, `predict`, `evaluate`) take images the usual
way, one per row, (N, 784) or (N, 28, 28), and turn them into columns with `to_columns`.
"""

from __future__ import annotations

import numpy as np

from .functions import ACTIVATIONS, COSTS, OUTPUTS, VALID_HEADS

INITS = ("normal", "scaled")
_CHUNK = 10_000  # images per forward pass in predict/evaluate, to bound memory


def to_rows(images, dtype=np.float64, out: np.ndarray | None = None) -> np.ndarray:
    """Images (N, 784) or (N, 28, 28) -> (N, 784) floats in [0, 1], one image per row.

    uint8 pixels are divided by 255; float images are taken to be in [0, 1] already.
    out: an (N, 784) array of `dtype` to write into (e.g. columns of a wider table), so MNIST's
    60,000 images (188 MB as float32) are converted in one pass, with no temporary copy.
    """
    images = np.asarray(images)
    flat = images.reshape(len(images), -1)
    if out is not None and out.shape != flat.shape:
        raise ValueError(f"need out of shape {flat.shape}, got {out.shape}")
    if images.dtype == np.uint8:
        return np.divide(flat, 255, dtype=dtype, out=out)
    if out is None:
        return np.ascontiguousarray(flat, dtype=dtype)
    out[...] = flat
    return out


def to_columns(images, dtype=np.float64) -> np.ndarray:
    """Images (N, 784) or (N, 28, 28) -> network input (784, N): one image per column."""
    return to_rows(images, dtype).T


def one_hot(labels, classes: int, dtype=np.float64) -> np.ndarray:
    """Integer labels (N,) -> one-hot targets (classes, N): column j has a 1 in row labels[j]."""
    labels = np.asarray(labels)
    y = np.zeros((classes, len(labels)), dtype=dtype)
    y[labels, np.arange(len(labels))] = 1.0
    return y


def _choice(kind: str, value: str, valid) -> str:
    if value not in valid:
        raise ValueError(f"unknown {kind} {value!r}; choose from: {', '.join(valid)}")
    return value


class Network:
    """Layers of sizes `sizes`, e.g. [784, 30, 10]; trained with `sgd`, used with `predict`."""

    def __init__(
        self,
        sizes,
        activation: str = "sigmoid",  # hidden layers: sigmoid | relu | tanh
        output: str = "sigmoid",  # output layer: sigmoid | softmax
        cost: str = "quadratic",  # quadratic | cross-entropy (sigmoid out) | log-likelihood (softmax)
        init: str = "normal",  # normal: N(0, 1); scaled: weights N(0, 1/n_in), as in chapter 3
        dtype=np.float64,  # float32 trains about twice as fast; float64 for exact tests
        seed: int | np.random.Generator | None = None,  # drives the initial weights and shuffling
    ):
        self.sizes = [int(n) for n in sizes]
        if len(self.sizes) < 2 or min(self.sizes) < 1:
            raise ValueError(f"sizes must list at least two positive layer widths, got {list(sizes)}")
        self.activation = _choice("activation", activation, ACTIVATIONS)
        self.output = _choice("output", output, OUTPUTS)
        self.cost = _choice("cost", cost, COSTS)
        if (output, cost) not in VALID_HEADS:
            pairs = ", ".join(f"{o}+{c}" for o, c in VALID_HEADS)
            raise ValueError(f"output {output!r} does not go with cost {cost!r}; choose from: {pairs}")
        self.init = _choice("init", init, INITS)
        self.dtype = np.dtype(dtype).type
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {np.dtype(dtype).name}")
        self.rng = np.random.default_rng(seed)

        self.sigma = ACTIVATIONS[activation]  # hidden-layer activation function
        self.output_fn = OUTPUTS[output]
        self.cost_fn = COSTS[cost]

        # Draw in float64 so float32 and float64 networks with one seed start from the same point.
        self.weights, self.biases = [], []
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]):
            scale = 1.0 / np.sqrt(n_in) if init == "scaled" else 1.0
            self.weights.append((self.rng.standard_normal((n_out, n_in)) * scale).astype(self.dtype))
            self.biases.append(self.rng.standard_normal((n_out, 1)).astype(self.dtype))

    def __repr__(self) -> str:
        return (
            f"Network({self.sizes}, activation={self.activation!r}, output={self.output!r}, "
            f"cost={self.cost!r}, dtype={np.dtype(self.dtype).name})"
        )

    # --- the maths: forward pass, output error, backward pass -----------------------------

    def forward(self, x):
        """Run x (n_in, B) through the network; return every z^l and every activation a^l.

        activations[0] is x itself; activations[-1] is the output (n_out, B).
        """
        activations, zs = [x], []
        last = len(self.weights) - 1
        with np.errstate(over="ignore"):  # e^-z may overflow to inf; 1/(1+inf) = 0 is right
            for l, (w, b) in enumerate(zip(self.weights, self.biases)):
                z = w @ activations[-1] + b  # (n_l, B)
                zs.append(z)
                activations.append(self.output_fn(z) if l == last else self.sigma(z))
        return zs, activations

    def feedforward(self, x):
        """Output activations (n_out, B) for inputs x of shape (n_in, B)."""
        return self.forward(x)[1][-1]

    def backprop(self, x, y):
        """Gradients of the cost *averaged over the batch* with respect to every W^l and b^l.

        x is (n_in, B); y is one-hot (n_out, B) or integer labels (B,). Returns (grad_w, grad_b),
        lists shaped like `weights` and `biases`. The L2 term is not included: `sgd` applies it
        as weight decay.
        """
        y = self._targets(y, x.shape[1])
        zs, activations = self.forward(x)
        return self.backward(zs, activations, y)

    def backward(self, zs, activations, y):
        """The backward pass of `backprop`, given the forward pass's zs and activations."""
        batch = y.shape[1]
        grad_w = [np.empty_like(w) for w in self.weights]
        grad_b = [np.empty_like(b) for b in self.biases]

        # (BP1) output error: delta^L = dC/dz^L, e.g. (a - y) * sigma'(z) for the quadratic cost.
        delta = self.cost_fn.delta(zs[-1], activations[-1], y)  # (n_out, B)
        for l in range(len(self.weights) - 1, -1, -1):
            # (BP3, BP4) dC/db = delta, dC/dW = delta a^{l-1}^T. Summing over the batch's
            # columns (the matrix product does it for W) and dividing by B gives the average.
            grad_b[l] = delta.sum(axis=1, keepdims=True) / batch
            grad_w[l] = (delta @ activations[l].T) / batch
            if l > 0:
                # (BP2) carry the error one layer back through the transposed weights.
                delta = (self.weights[l].T @ delta) * self.sigma.prime(zs[l - 1])
        return grad_w, grad_b

    def loss(self, x, y) -> float:
        """Mean cost per sample over the batch x (n_in, B); y one-hot (n_out, B) or labels (B,).

        Only the data term: the L2 penalty (lmbda / 2n) sum ||W||^2 is left out.
        """
        y = self._targets(y, x.shape[1])
        return self.cost_fn.value(self.feedforward(x), y) / x.shape[1]

    def update_mini_batch(self, x, y, eta, lmbda=0.0, n=1, momentum=0.0, velocity=None):
        """One SGD step on the batch x (n_in, B), written plainly; returns the outputs (n_out, B).

        With velocity v (momentum mu), the L2 penalty lmbda/(2n) ||W||^2 and step size eta:
            v <- mu v - eta (grad_C + (lmbda / n) W);   W <- W + v
        For mu = 0 this is Nielsen's W <- (1 - eta lmbda / n) W - eta grad_C. Biases are not
        decayed. `velocity` is a list of arrays like weights + biases, updated in place.
        """
        y = self._targets(y, x.shape[1])
        if velocity is None:
            velocity = [np.zeros_like(p) for p in self.weights + self.biases]
        zs, activations = self.forward(x)
        grad_w, grad_b = self.backward(zs, activations, y)
        v_w, v_b = velocity[: len(self.weights)], velocity[len(self.weights) :]
        for w, b, gw, gb, vw, vb in zip(self.weights, self.biases, grad_w, grad_b, v_w, v_b):
            vw *= momentum
            vw -= eta * (gw + (lmbda / n) * w)
            vb *= momentum
            vb -= eta * gb
            w += vw
            b += vb
        return activations[-1]

    # --- use ---------------------------------------------------------------------------------

    def predict_proba(self, images) -> np.ndarray:
        """Class probabilities (N, classes) for images (N, 784) or (N, 28, 28), uint8 or float.

        Rows sum to one. Softmax outputs are probabilities already; sigmoid outputs are
        independent scores in (0, 1), so they are divided by their row sum.
        """
        images = np.asarray(images)
        n = len(images)
        probs = np.empty((n, self.sizes[-1]), dtype=self.dtype)
        for start in range(0, n, _CHUNK):
            a = self.feedforward(to_columns(images[start : start + _CHUNK], self.dtype))
            probs[start : start + _CHUNK] = (a / a.sum(axis=0, keepdims=True)).T
        return probs

    def predict(self, images) -> np.ndarray:
        """Predicted class (N,) int64: the output unit with the largest activation."""
        return self.predict_proba(images).argmax(axis=1)

    def evaluate(self, images, labels) -> float:
        """Accuracy in [0, 1] on images (N, ...) with integer labels (N,)."""
        return float(np.mean(self.predict(images) == np.asarray(labels)))

    # --- helpers ---------------------------------------------------------------------------

    def _targets(self, y, batch: int) -> np.ndarray:
        """Accept one-hot targets (n_out, B) as they are; turn integer labels (B,) into them."""
        y = np.asarray(y)
        if y.ndim == 1:
            return one_hot(y, self.sizes[-1], self.dtype)
        if y.shape != (self.sizes[-1], batch):
            raise ValueError(f"targets must be labels ({batch},) or one-hot {(self.sizes[-1], batch)}, got {y.shape}")
        return y
