"""Nielsen's network.py (chapter 1) ported to Python 3: one backprop call per sample.

The baseline that `benchmarks/scratch.py` times against the vectorised `digitrec.scratch`
engine. Kept faithful on purpose: column vectors (784, 1), float64, a Python loop over the
samples of each mini-batch, gradients summed with list comprehensions.
"""

from __future__ import annotations

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    return sigmoid(z) * (1 - sigmoid(z))


class ReferenceNetwork:
    def __init__(self, weights, biases):
        """Start from given float64 weights [(n_out, n_in)] and biases [(n_out, 1)]."""
        self.weights = [np.array(w, dtype=np.float64) for w in weights]
        self.biases = [np.array(b, dtype=np.float64) for b in biases]
        self.num_layers = len(weights) + 1

    def sgd_epoch(self, training_data, mini_batch_size, eta, rng):
        """One epoch of network.py's SGD over a list of (x (784, 1), y (10, 1)) pairs."""
        order = rng.permutation(len(training_data))
        training_data = [training_data[i] for i in order]
        for k in range(0, len(training_data), mini_batch_size):
            self.update_mini_batch(training_data[k : k + mini_batch_size], eta)

    def update_mini_batch(self, mini_batch, eta):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        self.weights = [w - (eta / len(mini_batch)) * nw for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - (eta / len(mini_batch)) * nb for b, nb in zip(self.biases, nabla_b)]

    def backprop(self, x, y):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        delta = (activations[-1] - y) * sigmoid_prime(zs[-1])
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, self.num_layers):
            z = zs[-l]
            sp = sigmoid_prime(z)
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sp
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return (nabla_b, nabla_w)


def as_training_data(rows, labels):
    """(N, 784) floats and (N,) labels -> network.py's list of (x (784, 1), y (10, 1)) pairs."""
    eye = np.eye(10)
    return [(row.reshape(784, 1).astype(np.float64), eye[label].reshape(10, 1)) for row, label in zip(rows, labels)]
