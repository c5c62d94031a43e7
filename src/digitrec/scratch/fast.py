"""The fast training step: the maths of `Network.update_mini_batch`, rearranged for speed.

At batch size 10 the matrices are tiny (30x784 @ 784x10), so the time goes to the overhead of
each NumPy call and to allocating temporaries, not to arithmetic. This step therefore
  1. folds each bias into its weight matrix: with a row of ones under the inputs,
     [W | b] [a; 1] = W a + b, so one matrix product gives z, and the same product that gives
     dC/dW gives dC/db in the last column; one update moves both. `network.weights[l]` and
     `network.biases[l]` become views of the columns of that matrix, so they stay current;
  2. writes every intermediate into a buffer allocated once (`out=`), so a batch allocates nothing;
  3. multiplies the output error by the step size eta/B once: the backward pass is linear in
     delta, so every gradient computed from it is already the step to take;
  4. computes sigma' from the activation a (a(1 - a) for the sigmoid), so z^l is computed in
     place in the activation buffer and never kept, and uses scipy's `expit`, the same
     1/(1 + e^-z) in one C loop instead of four NumPy calls;
  5. runs in float32 when the network does (about twice as fast as float64 here).
tests/scratch check that it gives the same parameters as `update_mini_batch` and as PyTorch.
"""

from __future__ import annotations

import numpy as np


class _Buffers:
    """Work arrays for one batch width B. acts[l] is (n_l + 1, B): a^l over a row of ones."""

    def __init__(self, sizes, batch: int, dtype):
        hidden = sizes[1:-1]
        self.acts = [np.ones((n + 1, batch), dtype) for n in hidden]
        self.hidden = [act[:-1] for act in self.acts]  # (n_l, B) views without the ones row
        self.delta = [np.empty((n, batch), dtype) for n in sizes[1:]]
        self.prime = [np.empty((n, batch), dtype) for n in sizes[1:]]


class FastStep:
    """Callable `step(x, y, out) -> out` doing one SGD update in place on `network`.

    Same update as `Network.update_mini_batch` (momentum mu, L2 lmbda over n samples, step eta):
        v <- mu v - eta (grad_C + (lmbda / n) W);  W <- W + v
    and with mu = 0 simply W <- (1 - eta lmbda / n) W - eta grad_C, with no velocity kept.
    """

    def __init__(self, network, eta: float, lmbda: float = 0.0, n: int = 1, momentum: float = 0.0):
        from scipy.special import expit  # imported here: only training needs it

        self.network = network
        self.eta, self.momentum = eta, momentum
        self.params = []  # [W | b], (n_out, n_in + 1) per layer
        for l, (w, b) in enumerate(zip(network.weights, network.biases)):
            p = np.concatenate([w, b], axis=1)
            network.weights[l], network.biases[l] = p[:, :-1], p[:, -1:]
            self.params.append(p)
        self.steps = [np.empty_like(p) for p in self.params]  # eta * [dC/dW | dC/db]
        self.velocity = [np.zeros_like(p) for p in self.params] if momentum else None
        self.decay = eta * lmbda / n  # fraction of each weight removed per step by L2
        self.bias_copy = [np.empty_like(b) for b in network.biases]
        # W^l without its bias column, transposed, for carrying delta back (views: stay current).
        self.weights_t = [p[:, :-1].T for p in self.params]
        self.plain = not momentum and not lmbda  # the update is just [W | b] -= step
        self.sigma = expit if network.activation == "sigmoid" else network.sigma
        self.output_fn = expit if network.output == "sigmoid" else network.output_fn
        self._buffers = {}  # batch width -> _Buffers (the last batch of an epoch may be short)

    def __call__(self, x, y, out):
        """x (n_in + 1, B) ending in a row of ones, one-hot y (n_out, B); outputs go to out (n_out, B)."""
        net, params, steps = self.network, self.params, self.steps
        batch = x.shape[1]
        buf = self._buffers.get(batch)
        if buf is None:
            buf = self._buffers[batch] = _Buffers(net.sizes, batch, net.dtype)
        last = len(params) - 1

        # Forward: z^l = [W | b] [a^{l-1}; 1] lands in the buffer and becomes a^l = sigma(z^l).
        a = x
        for l in range(last):
            np.matmul(params[l], a, out=buf.hidden[l])
            self.sigma(buf.hidden[l], out=buf.hidden[l])
            a = buf.acts[l]
        np.matmul(params[last], a, out=out)
        self.output_fn(out, out=out)

        # Output error delta^L, scaled by eta / B (see the module docstring).
        delta = net.cost_fn.delta_from_output(out, y, out=buf.delta[last], tmp=buf.prime[last])
        delta *= self.eta / batch

        for l in range(last, -1, -1):
            a_prev = x if l == 0 else buf.acts[l - 1]
            np.matmul(delta, a_prev.T, out=steps[l])
            if l > 0:
                # Propagate with W^l *before* it is updated below.
                prev = np.matmul(self.weights_t[l], delta, out=buf.delta[l - 1])
                prev *= net.sigma.prime_from_output(buf.hidden[l - 1], out=buf.prime[l - 1])
            if self.plain:
                params[l] -= steps[l]
            else:
                self._update(l)
            if l > 0:
                delta = prev
        return out

    def _update(self, l: int) -> None:
        """The update with L2 and/or momentum. L2 shrinks weights, not biases: whole-matrix
        passes (contiguous, fast) are used and the bias column is then put right."""
        p, step = self.params[l], self.steps[l]
        if self.velocity is None:
            bias = self.bias_copy[l]
            bias[...] = p[:, -1:]
            p *= 1.0 - self.decay
            p[:, -1:] = bias
            p -= step
            return
        v = self.velocity[l]
        v *= self.momentum
        v -= step
        if self.decay:
            decay = np.multiply(p, self.decay, out=step)  # step reused as scratch space
            decay[:, -1] = 0.0
            v -= decay
        p += v
