"""Shared parts of the ``circuitsim reproduce`` experiments: runs over seeds, the Markdown
report (claim, table, verdict, plots) and its JSON twin.

An experiment module exposes ``TITLE``, ``CLAIM`` (the paper's claim, one sentence) and
``run(out: Path, *, seeds: int, fast: bool, progress: bool) -> Report``; ``fast`` shrinks
epochs and sweeps so tests can exercise the whole path in seconds (its numbers are not the
claim's evidence and the report says so).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from circuitsim.io import write_atomic
from circuitsim.spec import build


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    n = len(values)
    m = sum(values) / n
    s = math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return m, s


def cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v).replace("|", "\\|")


@dataclass(slots=True)
class Report:
    """One experiment's evidence: a table (rows of dicts over ``columns``) and a verdict."""

    name: str
    title: str
    claim: str
    columns: list[str]
    rows: list[dict[str, Any]]
    verdict: str
    notes: list[str] = field(default_factory=list)
    plots: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    fast: bool = False

    def markdown(self) -> str:
        lines = [f"# {self.title}", "", f"**Claim.** {self.claim}", ""]
        if self.fast:
            lines += ["**FAST MODE**: shortened runs for testing; these numbers are not "
                      "evidence for the claim.", ""]
        lines += ["| " + " | ".join(self.columns) + " |",
                  "|" + "---|" * len(self.columns)]
        lines += ["| " + " | ".join(cell(r.get(c, "")) for c in self.columns) + " |"
                  for r in self.rows]
        lines += ["", f"**Verdict.** {self.verdict}", ""]
        lines += [f"- {n}" for n in self.notes]
        lines += [""] + [f"![{p.stem}]({p.name})" for p in self.plots]
        lines += ["", f"Wall time: {self.seconds:.0f} s."]
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "claim": self.claim,
                "columns": self.columns, "rows": self.rows, "verdict": self.verdict,
                "notes": self.notes, "plots": [p.name for p in self.plots],
                "seconds": round(self.seconds, 1), "fast": self.fast}

    def write(self, out: Path) -> Path:
        """``report.md`` and ``results.json`` in ``out`` (plots already there)."""
        out.mkdir(parents=True, exist_ok=True)
        write_atomic(out / "results.json", json.dumps(self.to_json(), indent=1) + "\n")
        path = out / "report.md"
        write_atomic(path, self.markdown())
        return path


def accuracy_grid(base: dict[str, Any], configs: Sequence[tuple[str, dict[str, Any]]],
                  seeds: int, ds: Any, sur: Any, progress: bool
                  ) -> tuple[list[dict[str, Any]], dict[str, list[float]]]:
    """Train every ``(label, TrainSpec overrides)`` of ``configs`` on ``base`` for seeds
    ``0..seeds-1``: table rows (accuracy mean ± std, per seed, test loss, difference to the
    first configuration) and the mean test-accuracy curve (%) per label."""
    from circuitsim.train import loop
    from circuitsim.train.config import TrainSpec

    rows, curves = [], {}
    for label, over in configs:
        accs, losses, hist = [], [], []
        for seed in range(seeds):
            spec = build(TrainSpec, {**base, **over, "seed": seed})
            res = loop.run(spec, ds=ds, sur=sur if spec.analog else loop.Surrogates(),
                           progress=progress)
            accs.append(100 * res.test_acc)
            losses.append(res.history[-1]["test_loss"])
            hist.append([100 * h["test_acc"] for h in res.history])
        m, s = mean_std(accs)
        rows.append({"configuration": label, "seeds": seeds, "test acc [%]": f"{m:.2f} ± {s:.2f}",
                     "mean": m, "per seed": ", ".join(f"{a:.2f}" for a in accs),
                     "test loss": mean_std(losses)[0]})
        curves[label] = [sum(c) / len(c) for c in zip(*hist, strict=True)]
    for r in rows:
        r[f"vs {rows[0]['configuration'].split()[0]} [pt]"] = f"{r['mean'] - rows[0]['mean']:+.2f}"
    return rows, curves
