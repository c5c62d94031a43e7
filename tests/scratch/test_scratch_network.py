"""The scratch network's API: training loop, metrics, early stopping, checkpoints, imports."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import numpy as np
import pytest

from digitrec.scratch import Network, ScratchCheckpointError, load_network, save_network, sgd


def _blobs(n=300, features=8, classes=3, seed=0):
    """Linearly separable clusters in [0, 1]^features: one bright corner per class."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    centres = rng.random((classes, features))
    images = np.clip(centres[labels] + 0.05 * rng.standard_normal((n, features)), 0.0, 1.0)
    return images, labels


def test_import_does_not_pull_in_torch():
    code = "import digitrec.scratch, sys; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(("activation", "output", "cost"), [
    ("sigmoid", "sigmoid", "quadratic"), ("relu", "softmax", "log-likelihood"), ("tanh", "sigmoid", "cross-entropy"),
])
def test_learns_separable_data(activation, output, cost):
    images, labels = _blobs()
    net = Network([8, 16, 3], activation=activation, output=output, cost=cost, init="scaled", seed=0)
    x = images.T
    before = net.loss(x, labels)
    history = sgd(net, images, labels, epochs=15, batch_size=10, eta=0.5)
    assert net.loss(x, labels) < 0.5 * before
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert net.evaluate(images, labels) > 0.95


def test_fast_and_plain_paths_agree_over_many_batches():
    images, labels = _blobs(n=95)  # 95 is not a multiple of 10: the last batch is short
    nets = [Network([8, 6, 5, 3], activation="tanh", output="softmax", cost="log-likelihood", seed=3) for _ in range(2)]
    hist = [
        sgd(net, images, labels, epochs=3, batch_size=10, eta=0.3, lmbda=1.0, momentum=0.5, fast=fast)
        for net, fast in zip(nets, (True, False))
    ]
    for fast_p, plain_p in zip(nets[0].weights + nets[0].biases, nets[1].weights + nets[1].biases):
        np.testing.assert_allclose(fast_p, plain_p, rtol=1e-10, atol=1e-12)
        assert fast_p.flags.c_contiguous
    for fast_m, plain_m in zip(*hist):
        assert fast_m["train_loss"] == pytest.approx(plain_m["train_loss"], rel=1e-10)
        assert fast_m["train_acc"] == plain_m["train_acc"]


def test_float32_follows_float64():
    images, labels = _blobs()
    nets = [Network([8, 16, 3], dtype=dtype, seed=0) for dtype in (np.float32, np.float64)]
    for net in nets:
        sgd(net, images, labels, epochs=2, batch_size=10, eta=1.0)
    assert nets[0].weights[0].dtype == np.float32
    np.testing.assert_allclose(nets[0].weights[0], nets[1].weights[0], atol=1e-4)


def test_metrics_callback_and_progress_hook():
    images, labels = _blobs(n=95)
    net = Network([8, 10, 3], seed=0)
    epochs_seen, progress = [], []
    history = sgd(
        net, images, labels, epochs=2, batch_size=10, eta=1.0, validation=(images[:30], labels[:30]),
        callback=lambda epoch, metrics: epochs_seen.append((epoch, metrics)),
        on_batch=lambda done, total, loss: progress.append((done, total, loss)),
    )
    assert [e for e, _ in epochs_seen] == [1, 2] and [m for _, m in epochs_seen] == history
    assert set(history[0]) == {"epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "seconds"}
    assert history[0]["lr"] == 1.0 and 0.0 <= history[0]["val_acc"] <= 1.0
    assert len(progress) == 2 * 10 and progress[9][:2] == (95, 95) and progress[0][0] == 10
    assert all(np.isfinite(loss) for _, _, loss in progress)
    # Without validation the val metrics are None.
    assert sgd(net, images, labels, epochs=1, batch_size=10, eta=1.0)[0]["val_acc"] is None


def test_early_stopping_keeps_the_best_weights():
    images, labels = _blobs()
    val_images, val_labels = images[:50], np.random.default_rng(1).integers(0, 3, 50)  # unlearnable
    net = Network([8, 10, 3], seed=0)
    history = sgd(
        net, images, labels, epochs=40, batch_size=10, eta=2.0, validation=(val_images, val_labels), patience=2
    )
    accs = [m["val_acc"] for m in history]
    best = int(np.argmax(accs))
    assert len(history) == best + 1 + 2 < 40
    assert net.evaluate(val_images, val_labels) == accs[best]
    with pytest.raises(ValueError, match="patience"):
        sgd(net, images, labels, epochs=1, batch_size=10, eta=1.0, patience=2)


def test_predict_accepts_rows_and_square_uint8_images():
    net = Network([784, 12, 10], output="softmax", cost="log-likelihood", seed=0)
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    probs = net.predict_proba(images)
    assert probs.shape == (5, 10) and np.allclose(probs.sum(axis=1), 1.0)
    np.testing.assert_allclose(net.predict_proba(images.reshape(5, 784) / 255.0), probs)
    assert net.predict(images).shape == (5,)
    np.testing.assert_allclose(probs, net.feedforward(images.reshape(5, 784).T / 255.0).T)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_save_and_load_round_trip(tmp_path, dtype):
    net = Network([784, 7, 10], activation="tanh", output="softmax", cost="log-likelihood", dtype=dtype, seed=5)
    path = tmp_path / "net.npz"
    save_network(net, path)
    assert [p.name for p in tmp_path.iterdir()] == ["net.npz"]  # no temporary file left behind
    with np.load(path, allow_pickle=False) as data:
        assert str(data["activation"]) == "tanh" and list(data["sizes"]) == [784, 7, 10]
    loaded = load_network(path)
    assert (loaded.sizes, loaded.activation, loaded.output, loaded.cost) == ([784, 7, 10], "tanh", "softmax", "log-likelihood")
    assert loaded.dtype is dtype
    for a, b in zip(net.weights + net.biases, loaded.weights + loaded.biases):
        np.testing.assert_array_equal(a, b)
    images = np.random.default_rng(0).random((4, 784))
    np.testing.assert_array_equal(net.predict_proba(images), loaded.predict_proba(images))


def _bad_files(tmp_path):
    good = tmp_path / "good.npz"
    save_network(Network([4, 3, 2], seed=0), good)
    with np.load(good) as data:
        arrays = dict(data)
    files = {"text.npz": b"not a checkpoint at all"}
    for name, change in {
        "wrong_format.npz": {"format": np.array("something/else")},
        "wrong_shape.npz": {"weight_0": np.zeros((2, 2))},
        "bad_choice.npz": {"activation": np.array("softplus")},
    }.items():
        np.savez(tmp_path / name, **{**arrays, **change})
    np.savez(tmp_path / "missing_key.npz", **{k: v for k, v in arrays.items() if k != "bias_1"})
    np.save(tmp_path / "array.npy", np.zeros(3))
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    with zipfile.ZipFile(tmp_path / "empty_zip.npz", "w"):
        pass
    return ["text.npz", "wrong_format.npz", "wrong_shape.npz", "bad_choice.npz", "missing_key.npz", "array.npy", "empty_zip.npz"]


def test_load_rejects_files_that_are_not_checkpoints(tmp_path):
    for name in _bad_files(tmp_path):
        with pytest.raises(ValueError, match=name):
            load_network(tmp_path / name)
    with pytest.raises(ScratchCheckpointError):
        load_network(tmp_path / "text.npz")
    with pytest.raises(FileNotFoundError):
        load_network(tmp_path / "absent.npz")


def test_bad_options_name_the_valid_choices():
    with pytest.raises(ValueError, match="sigmoid, relu, tanh"):
        Network([4, 2], activation="softplus")
    with pytest.raises(ValueError, match="softmax\\+log-likelihood"):
        Network([4, 2], output="softmax", cost="quadratic")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_to_rows_writes_into_a_table_the_same_values(dtype):
    from digitrec.scratch import to_rows

    images = np.random.default_rng(0).integers(0, 256, (7, 28, 28), dtype=np.uint8)
    table = np.zeros((7, 784 + 3), dtype)
    returned = to_rows(images, dtype, out=table[:, :784])
    np.testing.assert_array_equal(table[:, :784], images.reshape(7, -1).astype(dtype) / 255)
    assert np.shares_memory(returned, table) and returned.dtype == dtype
    assert not table[:, 784:].any()  # the columns after the pixels are untouched
    floats = table[:, :784].copy()
    np.testing.assert_array_equal(to_rows(floats, dtype, out=np.empty_like(floats)), floats)  # floats: copied as they are
    with pytest.raises(ValueError, match="shape"):
        to_rows(images, dtype, out=np.empty((7, 783), dtype))
