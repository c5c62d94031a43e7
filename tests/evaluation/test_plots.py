"""Plots draw real PNG files."""

def test_fold_curves_draws_every_fold(tmp_path):
    from digitrec.evaluation.plots import fold_curves

    history = [{"epoch": e, "train_loss": 1 / e, "train_acc": 1 - 1 / (e + 1), "val_loss": 1.1 / e, "val_acc": 0.9} for e in (1, 2, 3)]
    path = fold_curves([history, history], tmp_path / "curves.png")
    assert path.stat().st_size > 1000 and path.read_bytes()[:4] == b"\x89PNG"


def test_reliability_diagram_draws_a_panel_per_temperature(tmp_path):
    import numpy as np

    from digitrec.evaluation.calibration import reliability_bins, softmax
    from digitrec.evaluation.plots import reliability_diagram

    rng = np.random.default_rng(0)
    logits, labels = rng.normal(0, 3, (300, 10)), rng.integers(0, 10, 300)
    panels = {"before (T = 1)": reliability_bins(softmax(logits), labels),
              "after (T = 3)": reliability_bins(softmax(logits / 3), labels)}
    path = reliability_diagram(panels, tmp_path / "reliability.png", title="test")
    assert path.stat().st_size > 1000 and path.read_bytes()[:4] == b"\x89PNG"
    assert [p.name for p in tmp_path.iterdir()] == ["reliability.png"]  # written atomically: no temporary left
