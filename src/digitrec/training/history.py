"""The per-epoch history every engine returns, and the one rule that picks the best epoch."""

from __future__ import annotations

from typing import Any

HISTORY_FIELDS = ("epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "seconds")


def best_record(history: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The epoch model.pt keeps: the best validation accuracy (the earliest of equals), else the last."""
    with_val = [row for row in history if row.get("val_acc") is not None]
    if with_val:
        return max(with_val, key=lambda row: row["val_acc"])
    return history[-1] if history else None


def improved(history: list[dict[str, Any]]) -> bool:
    """Whether the newest epoch is the best so far by `best_record`'s rule (always, without validation)."""
    return bool(history) and best_record(history) is history[-1]
