"""fdsl-train plot: training curves from the log.jsonl of one or more runs, on one figure.

Four panels against the step: training loss, learning rate, images/s and validation top-1
(fine-tuning runs log it every epoch), one line per run, so that a pre-trained run and its
from-scratch baseline can be compared at a glance. A resumed run logs again the steps between
its checkpoint and the point where it was stopped: the last record of a step wins.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from fdsl_train import InputError

LOG_NAME = "log.jsonl"  # engine.LOG_NAME (not imported: plotting needs no torch)
PANELS = (  # (record key, title, logarithmic y axis)
    ("loss", "training loss", False),
    ("lr", "learning rate", True),
    ("images_per_s", "images/s", False),
    ("top1", "validation top-1 (%)", False),
)


def read_curves(run: str) -> dict:
    """{key: (steps, values)} for each panel's key, from RUN/log.jsonl (or a log file)."""
    path = Path(run) / LOG_NAME if Path(run).is_dir() else Path(run)
    try:
        lines = path.read_text().splitlines()
    except OSError:
        raise InputError(f"{run}: no {LOG_NAME} to plot") from None
    last = {key: {} for key, _, _ in PANELS}  # key -> {step: value}
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except ValueError:
            if number == len(lines):
                continue  # the line a killed run was writing
            raise InputError(f"{path} line {number} is not JSON") from None
        for key in last:
            if key in record and "step" in record:
                last[key][record["step"]] = record[key]
    return {key: (sorted(values), [values[step] for step in sorted(values)]) for key, values in last.items()}


def plot(runs: list[str], out: str) -> dict:
    """Draw every run's curves into the PNG ``out``; returns {run: curves}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = {run: read_curves(run) for run in runs}
    if not any(steps for run_curves in curves.values() for steps, _ in run_curves.values()):
        raise InputError(f"no step records in the logs of {', '.join(runs)}")
    figure, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    for (key, title, logarithmic), axis in zip(PANELS, axes.flat):
        drawn = [curves[run][key][1] for run in runs if curves[run][key][1]]
        for run in runs:
            steps, values = curves[run][key]
            axis.plot(steps, values, label=run, marker="o" if key == "top1" else None, markersize=3)
        if not drawn:
            axis.text(0.5, 0.5, "no records", ha="center", va="center", transform=axis.transAxes, color="grey")
        elif logarithmic and all(value > 0 for values in drawn for value in values):
            axis.set_yscale("log")
        axis.set_title(title)
        axis.grid(alpha=0.3)
    for axis in axes[1]:
        axis.set_xlabel("step")
    axes[0][0].legend(fontsize="small")
    figure.tight_layout()
    try:
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        figure.savefig(out, dpi=100)
    except OSError as error:
        raise InputError(f"cannot write {out}: {error.strerror}") from None
    finally:
        plt.close(figure)
    return curves
