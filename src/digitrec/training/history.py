"""The per-epoch history every engine returns, and the one rule that picks the best epoch."""

from __future__ import annotations

from typing import Any

HISTORY_FIELDS = ("epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "seconds")


def best_record(history: list[dict[str, Any]], keep: str = "best") -> dict[str, Any] | None:
    """The epoch model.pt keeps. keep="best": the best validation accuracy (the earliest of equals),
    else the last; keep="last": the last, whatever validation says."""
    with_val = [row for row in history if row.get("val_acc") is not None]
    if with_val and keep == "best":
        return max(with_val, key=lambda row: row["val_acc"])
    return history[-1] if history else None


def improved(history: list[dict[str, Any]], keep: str = "best") -> bool:
    """Whether the newest epoch is the best so far by `best_record`'s rule (always, without validation)."""
    return bool(history) and best_record(history, keep) is history[-1]
