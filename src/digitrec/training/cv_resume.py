"""Continuing a cross-validation that was stopped: the folds in its partial cv.json are kept.

cv.json is rewritten after every finished fold. Run `digitrec cv` again with the same options and
`--out`, and the folds already done are taken from it, the others trained; `--workers` may differ
(a fold's result does not depend on it), nothing else that changes the folds' results may.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import DigitrecError


def resume_state(path: Path, summary: dict[str, Any]) -> dict[str, Any]:
    """{"folds": the finished folds, "params"} of an unfinished cv run in `path` set up as `summary`
    is; {} if there is none."""
    file = path / "cv.json"
    if not file.exists():
        return {}
    try:
        previous = json.loads(file.read_text())
        settings = _settings(previous)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DigitrecError(f"{file}: not a readable cv.json ({exc}); choose another --out") from None
    if previous.get("complete"):
        raise DigitrecError(f"{path} already holds a finished cv run; choose another --out")
    differ = [name for name, value in _settings(summary).items() if settings.get(name) != value]
    if differ:
        raise DigitrecError(f"{path} holds an unfinished cv run with other {', '.join(differ)}; rerun it with its own "
                            "options to continue it, or choose another --out")
    return {"folds": list(previous.get("folds", []))} | ({"params": previous["params"]} if "params" in previous else {})


def _settings(summary: dict[str, Any]) -> dict[str, Any]:
    """What a fold's result depends on (JSON round-tripped, so tuples and lists compare equal)."""
    config = summary["config"]
    return json.loads(json.dumps({
        "split": summary["split"], "threads": summary["threads"], "device": summary["device"], "recipe": config["recipe"],
        "options": {k: v for k, v in config["options"].items() if k in ("data", "limit", "deterministic")},
    }))
