"""Plots draw real PNG files."""

def test_fold_curves_draws_every_fold(tmp_path):
    from digitrec.evaluation.plots import fold_curves

    history = [{"epoch": e, "train_loss": 1 / e, "train_acc": 1 - 1 / (e + 1), "val_loss": 1.1 / e, "val_acc": 0.9} for e in (1, 2, 3)]
    path = fold_curves([history, history], tmp_path / "curves.png")
    assert path.stat().st_size > 1000 and path.read_bytes()[:4] == b"\x89PNG"
