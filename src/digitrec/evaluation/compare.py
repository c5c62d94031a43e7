"""Compare cv and run directories: a table of scores and paired tests over shared folds.

A cv directory (`digitrec cv`) gives one held-out accuracy per fold; a run directory
(`digitrec train`) gives one test accuracy. Two cv results whose folds are identical (same data,
seed, k and stratification: the same `split.hash`) are compared fold by fold with a paired t-test
and a Wilcoxon signed-rank test; results on different folds are never paired.
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import DigitrecError

ALPHA = 0.05  # significance level of the verdicts


@dataclass
class Summary:
    mean: float
    std: float | None  # sample standard deviation (ddof=1); None for a single score
    ci95: tuple[float, float] | None  # mean +- t(0.975, n-1) * std / sqrt(n)


def summarize(scores: Sequence[float]) -> Summary:
    """Mean, sample std and Student-t 95% confidence interval of the mean of `scores`."""
    from scipy import stats

    values = np.asarray(scores, dtype=float)
    if len(values) == 0:
        raise ValueError("no scores to summarize")
    mean = float(values.mean())
    if len(values) < 2:
        return Summary(mean, None, None)
    std = float(values.std(ddof=1))
    half = float(stats.t.ppf(0.975, len(values) - 1)) * std / math.sqrt(len(values))
    return Summary(mean, std, (mean - half, mean + half))


@dataclass
class Entry:
    """One directory's result, as the table shows it."""

    label: str
    path: str
    kind: str  # "cv" or "run"
    recipe: str
    measured_on: str  # "5 folds" or "test split"
    scores: list[float]  # per-fold held-out accuracies, or the single test accuracy
    summary: Summary
    seconds: float | None  # training time: summed over folds for cv
    params: int | None
    split: dict[str, Any] | None = None  # cv only: folds, seed, stratified, hash
    held_out_share: float | None = None  # cv only: held-out / training examples, for the corrected test


@dataclass
class PairedTest:
    a: str
    b: str
    folds: int
    mean_difference: float  # a - b, accuracy
    p_ttest: float  # scipy.stats.ttest_rel, two-sided
    p_wilcoxon: float  # scipy.stats.wilcoxon, two-sided, exact for few folds
    p_corrected: float  # Nadeau & Bengio's corrected resampled t-test (folds share training data)
    min_p_wilcoxon: float  # the smallest two-sided p Wilcoxon can give with this many folds
    verdict: str


@dataclass
class Comparison:
    entries: list[Entry]
    tests: list[PairedTest] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"entries": [asdict(e) for e in self.entries], "tests": [asdict(t) for t in self.tests],
                "warnings": self.warnings, "alpha": ALPHA}


def load_entry(path: str | os.PathLike) -> Entry:
    """Read a cv directory (cv.json) or a run directory (metrics.json)."""
    import json

    path = Path(path).expanduser()
    if path.is_file() and path.name in ("cv.json", "metrics.json"):
        path = path.parent
    if not path.is_dir():
        raise DigitrecError(f"{path}: no such directory; give a folder written by `digitrec cv` or `digitrec train`")
    if (path / "cv.json").is_file():
        cv = json.loads((path / "cv.json").read_text())
        if not cv.get("complete"):
            done, total = len(cv.get("folds", [])), cv.get("split", {}).get("folds", "?")
            raise DigitrecError(f"{path}: an unfinished cv run ({done} of {total} folds); run it again to compare it")
        scores = [fold["accuracy"] for fold in cv["folds"]]
        held = sum(f["held_out_size"] for f in cv["folds"]) / sum(f["train_size"] for f in cv["folds"])
        return Entry(
            label=cv["recipe"], path=str(path), kind="cv", recipe=cv["recipe"], measured_on=f"{len(scores)} folds",
            scores=scores, summary=summarize(scores), seconds=sum(f["seconds"] for f in cv["folds"]),
            params=cv.get("params"), split=cv["split"], held_out_share=held,
        )
    if (path / "metrics.json").is_file():
        metrics = json.loads((path / "metrics.json").read_text())
        if metrics.get("test_accuracy") is None:
            raise DigitrecError(f"{path}: this run has no test accuracy (its dataset has no labelled test split)")
        score = float(metrics["test_accuracy"])
        return Entry(
            label=metrics.get("recipe", path.name), path=str(path), kind="run", recipe=metrics.get("recipe", "?"),
            measured_on="test split", scores=[score], summary=summarize([score]),
            seconds=metrics.get("train_seconds"), params=metrics.get("params"),
        )
    raise DigitrecError(f"{path}: neither a cv directory (no cv.json) nor a run directory (no metrics.json)")


def compare(paths: Sequence[str | os.PathLike]) -> Comparison:
    """Load every directory, then test each pair of cv results that share their folds."""
    if not paths:
        raise DigitrecError("give at least one cv or run directory to compare")
    entries = [load_entry(p) for p in paths]
    _unique_labels(entries)
    comparison = Comparison(entries)
    cv_entries = [e for e in entries if e.kind == "cv"]
    for a, b in itertools.combinations(cv_entries, 2):
        if a.split["hash"] != b.split["hash"]:
            comparison.warnings.append(
                f"{a.label} vs {b.label}: not paired, their folds differ ({_split_text(a)} vs {_split_text(b)}); "
                "run both with the same data, --limit, --folds, --seed and --stratified to test the difference")
            continue
        comparison.tests.append(paired_test(a, b))
    if any(e.kind == "run" for e in entries) and len(entries) > 1:
        comparison.warnings.append("run directories give one test accuracy each: no spread, no paired test")
    return comparison


def paired_test(a: Entry, b: Entry) -> PairedTest:
    """Paired t, Wilcoxon and corrected t-tests of a's fold scores against b's (same folds)."""
    from scipy import stats

    x, y = np.asarray(a.scores), np.asarray(b.scores)
    if len(x) != len(y):
        raise DigitrecError(f"{a.label} vs {b.label}: {len(x)} and {len(y)} folds cannot be paired")
    diff = x - y
    k = len(diff)
    if np.all(diff == 0):
        p_t = p_w = p_c = 1.0
    elif np.all(diff == diff[0]):  # no spread: every test is degenerate
        p_t = p_w = p_c = float("nan")
    else:
        p_t = float(stats.ttest_rel(x, y).pvalue)
        p_w = float(stats.wilcoxon(x, y, zero_method="wilcox").pvalue) if np.count_nonzero(diff) else 1.0
        # Folds share (k-2)/(k-1) of their training data, so fold scores are correlated and the
        # plain t-test is optimistic; Nadeau & Bengio (2003) inflate the variance by n_test/n_train.
        share = a.held_out_share or 1 / (k - 1)
        t_c = diff.mean() / math.sqrt((1 / k + share) * diff.var(ddof=1))
        p_c = float(2 * stats.t.sf(abs(t_c), k - 1))
    return PairedTest(a.label, b.label, k, float(diff.mean()), p_t, p_w, p_c, 2 / 2**k, _verdict(a.label, b.label, diff.mean(), p_t))


def _verdict(a: str, b: str, difference: float, p: float) -> str:
    if math.isnan(p):
        return "no test (constant differences)"
    if p >= ALPHA:
        return f"no significant difference (paired t, p >= {ALPHA})"
    better, worse = (a, b) if difference > 0 else (b, a)
    return f"{better} better than {worse} (paired t, p < {ALPHA})"


def _split_text(entry: Entry) -> str:
    split = entry.split
    return f"k={split['folds']} seed {split['seed']} {'stratified' if split['stratified'] else 'plain'} on {split['examples']} examples"


def _unique_labels(entries: list[Entry]) -> None:
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry.label] = counts.get(entry.label, 0) + 1
    for entry in entries:
        if counts[entry.label] > 1:
            entry.label = f"{entry.label} ({Path(entry.path).name})"


def format_markdown(comparison: Comparison) -> str:
    """The table, the paired tests and what they mean, as Markdown (also fine as plain text)."""
    lines = [
        "| recipe | measured on | mean accuracy | std | 95% CI | train time | parameters | directory |",
        "|---|---|---:|---:|---|---:|---:|---|",
    ]
    for e in comparison.entries:
        s = e.summary
        std = f"{s.std:.4f}" if s.std is not None else "-"
        ci = f"[{s.ci95[0]:.4f}, {s.ci95[1]:.4f}]" if s.ci95 is not None else "-"
        seconds = f"{e.seconds:.0f} s" if e.seconds is not None else "-"
        params = f"{e.params:,}" if e.params is not None else "-"
        lines.append(f"| {e.label} | {e.measured_on} | {s.mean:.4f} | {std} | {ci} | {seconds} | {params} | {e.path} |")
    lines += ["", "std is the sample standard deviation (ddof=1); 95% CI is mean +- t(0.975, k-1) * std / sqrt(k)."]
    if comparison.tests:
        lines += [
            "", "## Paired tests over the same folds", "",
            "| a | b | folds | mean a - b | p (paired t) | p (Wilcoxon) | p (corrected t) | verdict |",
            "|---|---|---:|---:|---:|---:|---:|---|",
        ]
        for t in comparison.tests:
            lines.append(f"| {t.a} | {t.b} | {t.folds} | {t.mean_difference:+.4f} | {_p(t.p_ttest)} | {_p(t.p_wilcoxon)} | "
                         f"{_p(t.p_corrected)} | {t.verdict} |")
        k = comparison.tests[0].folds
        lines += [
            "",
            f"With {k} folds Wilcoxon's signed-rank test cannot give a two-sided p below 2/2^{k} = {2 / 2**k:.4f}, so "
            f"{'it can never reach ' + str(ALPHA) + ' and ' if 2 / 2**k >= ALPHA else ''}the paired t-test is the one "
            "with power; both are reported. The corrected t-test (Nadeau & Bengio, 2003) allows for the folds sharing "
            "training data, which makes the plain t-test optimistic: trust a difference most when it also passes that one. "
            "No correction for testing several pairs is applied.",
        ]
    if comparison.warnings:
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in comparison.warnings]
    return "\n".join(lines) + "\n"


def _p(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.4f}"


def write_comparison(comparison: Comparison, out: str | os.PathLike) -> Path:
    """compare.json, compare.md and boxplot.png (every entry's scores side by side) in `out`."""
    import json

    from . import plots
    from ..atomic import atomic_write_text

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "compare.json", json.dumps(comparison.to_dict(), indent=2) + "\n")
    atomic_write_text(out / "compare.md", "# Comparison\n\n" + format_markdown(comparison))
    groups = {e.label: e.scores for e in comparison.entries}
    kinds = {e.kind for e in comparison.entries}
    title = {frozenset({"cv"}): "held-out accuracy per fold", frozenset({"run"}): "test accuracy"}.get(
        frozenset(kinds), "accuracy per fold (cv) or on the test split (run)")
    plots.box_plot(groups, out / "boxplot.png", title=title)
    return out
