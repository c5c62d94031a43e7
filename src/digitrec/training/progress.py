"""Progress bars and the one-line-per-epoch log shared by every training engine."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from ..faults import pause_point

EPOCH_LINE = (
    "epoch {epoch:>3d}/{epochs:<3d} lr {lr:.3g}  train loss {train_loss:.4f} acc {train_acc:.4f}"
    "{val}  {seconds:.1f}s {rate:,.0f} samples/s"
)


class Reporter:
    """A tqdm bar per epoch (loss, accuracy, samples/s) and one summary line per epoch.

    quiet=True prints nothing. The bar draws only on a terminal; the epoch lines always print.
    """

    def __init__(self, epochs: int, quiet: bool = False, stream: TextIO | None = None) -> None:
        self.epochs = epochs
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self._bar = None

    def log(self, message: str) -> None:
        if not self.quiet:
            print(message, file=self.stream, flush=True)

    def start_epoch(self, epoch: int, samples: int) -> None:
        if self.quiet:
            return
        from tqdm import tqdm

        self._bar = tqdm(
            total=samples, desc=f"epoch {epoch}/{self.epochs}", unit="img", unit_scale=True,
            leave=False, file=self.stream, disable=None, dynamic_ncols=True,
        )

    @property
    def shows_bar(self) -> bool:
        """True while a progress bar is drawn (not quiet, on a terminal)."""
        return self._bar is not None and not self._bar.disable

    def update(self, samples: int, loss: float, accuracy: float | None = None) -> None:
        """Advance the bar by `samples`; loss/accuracy are running means over the epoch so far."""
        pause_point("progress")
        if self._bar is not None:
            shown = {"loss": f"{loss:.4f}"} | ({"acc": f"{accuracy:.4f}"} if accuracy is not None else {})
            self._bar.set_postfix(shown, refresh=False)
            self._bar.update(samples)

    def end_epoch(self, record: dict[str, Any], samples: int) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self.quiet:
            return
        val = ""
        if record.get("val_loss") is not None:
            val = f"  val loss {record['val_loss']:.4f} acc {record['val_acc']:.4f}"
        rate = samples / max(record["seconds"], 1e-9)
        self.log(EPOCH_LINE.format(epochs=self.epochs, val=val, rate=rate, **record))
