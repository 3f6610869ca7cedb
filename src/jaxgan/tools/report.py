"""Markdown tables and plots of evaluator records:
`python -m jaxgan.report [--floor=FLOOR.jsonl] [--plot=FILE.png] RUN_DIR...`

One row per (run, generator, step) from each `RUN_DIR/eval/metrics.jsonl` (the last step only
unless `--all_steps`), and the real-data floor from a `--reference --out=FLOOR.jsonl` file, with
the fid_lenet ratio to the floor. `--plot` also draws every metric over training steps, a panel
per metric, a line per run and generator, the floor dashed. Reads records only; computes nothing.

A floor is read against records of the same feature extractor weights only: a run scored with a
classifier of its own (`evaluate --classifier_dir`, e.g. one retrained on another CPU) has
other *_lenet numbers than one scored with the shipped weights. With a floor, a run's records of
other weights are left out, and a run with none of the floor's is refused rather than turned
into ratios.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from absl import flags

from jaxgan.errors import UserError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

COLUMNS = (("fid_lenet", "fid_lenet", "{:.2f}"), ("kid_lenet", "kid_lenet", "{:.2f}"),
           ("is_lenet", "is_lenet", "{:.2f}"), ("precision_lenet", "precision", "{:.3f}"),
           ("recall_lenet", "recall", "{:.3f}"), ("cas_lenet", "CAS", "{:.2%}"),
           ("gantest_lenet", "GAN-test", "{:.2%}"))

_FLOOR = flags.DEFINE_string("floor", None, "JSONL of `evaluate --reference --out=...`.")
_ALL = flags.DEFINE_bool("all_steps", False, "A row for every evaluated step, not just the last.")
_PLOT = flags.DEFINE_string(
    "plot", None, "Also write a PNG of every metric over training steps (a panel per metric, a "
    "line per run and generator, the --floor dashed) to this path.")


def _read(path: str) -> list[dict]:
    if not os.path.isfile(path):
        raise UserError(f"{path} not found (run python -m jaxgan.evaluate first)")
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def _default_protocol(record: dict) -> bool:
    """The columns are the default protocols (10,000 samples); `cas_lenet_60k` or `is_lenet_1k`
    record the same metric names and are left out rather than mixed in."""
    protocol = record.get("protocol", record["metric"])
    extractor = record["metric"].partition("_")[2]  # precision_lenet -> pr_lenet
    return protocol in (record["metric"], f"pr_{extractor}")


def ratio(fid: float, floor_fid: float) -> str:
    """fid / floor, with two decimals below 10x: goals such as "at most 3x" sit there, and a
    whole-number format would print 2.98x and 3.4x alike as 3x."""
    r = fid / floor_fid
    return f"{r:.2f}×" if r < 10 else f"{r:.0f}×"


def _same_extractor(run: str, records: list[dict], floor: str | None,
                    floor_sha: dict[str, str]) -> list[dict]:
    """The records of `run` scored with the floor's extractor weights; one clear error when
    there are records but none of them is (a run scored only with other weights)."""
    def matches(r: dict) -> bool:
        expected = floor_sha.get(r.get("extractor"))
        return not expected or r.get("extractor_sha256") in (None, expected)

    kept = [r for r in records if matches(r)]
    if records and not kept:
        r = records[0]
        extractor = r["extractor"]
        dataset = extractor.removeprefix("lenet_") if extractor.startswith("lenet_") else "..."
        raise UserError(
            f"{run} was scored with {extractor} weights sha256 "
            f"{r['extractor_sha256'][:8]}..., the floor {floor} with "
            f"{floor_sha[extractor][:8]}...: the numbers are not comparable. Score the floor with "
            f"the run's weights (python -m jaxgan.evaluate --reference --dataset={dataset} "
            f"--out=FLOOR.jsonl, with the --classifier_dir or --inception_weights the run was "
            f"scored with), or the run with the floor's weights.")
    return kept


def _read_floor(floor: str | None) -> tuple[list[dict], dict[str, str]]:
    """(records, {extractor: weights sha256}) of a floor file; ([], {}) without one."""
    if not floor:
        return [], {}
    records = _read(floor)
    sha = {r["extractor"]: r["extractor_sha256"] for r in records
           if r.get("extractor") and r.get("extractor_sha256")}
    return records, sha


def _run_records(run: str, floor: str | None, floor_sha: dict[str, str]) -> list[dict]:
    records = _read(os.path.join(run, "eval", "metrics.jsonl"))
    return _same_extractor(run, records, floor, floor_sha)


def _run_name(run: str) -> str:
    return os.path.basename(os.path.normpath(run))


def rows(run_dirs: list[str], floor: str | None, all_steps: bool) -> list[str]:
    header = ["run", "generator", "step", *(label for _, label, _ in COLUMNS), "fid ratio"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    floor_fid = None
    table: list[tuple[str, str, str, dict]] = []
    floor_records, floor_sha = _read_floor(floor)
    if floor:
        values = {r["metric"]: r["value"] for r in floor_records if _default_protocol(r)}
        floor_fid = values.get("fid_lenet")
        table.append(("real-data floor (test vs train)", "", "", values))
    for run in run_dirs:
        records = _run_records(run, floor, floor_sha)
        groups: dict[tuple[str, int], dict] = {}
        for r in filter(_default_protocol, records):
            groups.setdefault((r.get("generator", "params"), r["step"]), {})[r["metric"]] = \
                r["value"]
        for generator in sorted({g for g, _ in groups}):
            steps = sorted(s for g, s in groups if g == generator)
            for step in steps if all_steps else steps[-1:]:
                table.append((_run_name(run), generator, str(step), groups[(generator, step)]))
    for name, generator, step, values in table:
        cells = [name, generator, step]
        cells += [fmt.format(values[key]) if key in values else "" for key, _, fmt in COLUMNS]
        fid = values.get("fid_lenet")
        cells.append(ratio(fid, floor_fid) if fid is not None and floor_fid and step else "")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


# --- plots ----------------------------------------------------------------------------------


def _panel(record: dict) -> str:
    """The panel a record is drawn in: its metric, or for another protocol of it (is_lenet_1k,
    cas_lenet_60k) the metric and the protocol, so that no panel mixes two protocols."""
    if _default_protocol(record):
        return record["metric"]
    return f"{record['metric']} ({record['protocol']})"


def _finite(value: object) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _panel_order(panels: Iterable[str]) -> list[str]:
    known = [metric for metric, _, _ in COLUMNS]
    return sorted(panels, key=lambda p: (known.index(p) if p in known else len(known), p))


def figure(run_dirs: list[str], floor: str | None) -> Figure:
    """A matplotlib figure (Agg canvas) of every metric of the runs' records over training
    steps: a panel per metric, a line per run (and generator, where a run has several), the
    floor's value dashed."""
    floor_records, floor_sha = _read_floor(floor)
    # panel -> line label -> {step: value}; panel -> extractors drawn in it
    lines: dict[str, dict[str, dict[int, float]]] = {}
    extractors: dict[str, set[str]] = {}
    for run in run_dirs:
        records = [r for r in _run_records(run, floor, floor_sha)
                   if isinstance(r.get("step"), int) and _finite(r.get("value"))]
        several = len({r.get("generator", "params") for r in records}) > 1
        for r in records:
            label = _run_name(run)
            if several:
                label += f" / {r.get('generator', 'params')}"
            lines.setdefault(_panel(r), {}).setdefault(label, {})[r["step"]] = r["value"]
            if r.get("extractor"):
                extractors.setdefault(_panel(r), set()).add(r["extractor"])
    if not lines:
        raise UserError(f"no metric records to plot in {', '.join(run_dirs)} (run python -m "
                        "jaxgan.evaluate first)")
    # Floors of the extractors (and weights: _same_extractor) the panel's lines were scored with.
    floors: dict[str, dict[str, float]] = {}
    for r in floor_records:
        extractor = r.get("extractor")
        if (_panel(r) in lines and _finite(r.get("value"))
                and (not extractor or extractor in extractors.get(_panel(r), ()))
                and r.get("extractor_sha256") in (None, floor_sha.get(extractor))):
            floors.setdefault(_panel(r), {})[extractor or ""] = r["value"]

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = _panel_order(lines)
    # One colour per run and generator in every panel (matplotlib's 10-colour cycle).
    labels = sorted({label for panel in lines.values() for label in panel})
    colour = {label: f"C{i % 10}" for i, label in enumerate(labels)}
    columns = min(3, len(panels))
    grid_rows = math.ceil(len(panels) / columns)
    fig = Figure(figsize=(5.2 * columns, 3.8 * grid_rows), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    for i, panel in enumerate(panels):
        axes = fig.add_subplot(grid_rows, columns, i + 1)
        values = []
        for label in sorted(lines[panel]):
            steps = sorted(lines[panel][label])
            ys = [lines[panel][label][s] for s in steps]
            values += ys
            axes.plot(steps, ys, marker=".", color=colour[label], label=label)
        for extractor, value in sorted(floors.get(panel, {}).items()):
            name = "real-data floor" + (f" ({extractor})" if len(floors[panel]) > 1 else "")
            axes.axhline(value, color="black", linestyle="--", linewidth=1, label=name)
            values.append(value)
        # FID and KID fall by orders of magnitude over a run; a linear axis would flatten the end.
        if (panel.startswith(("fid", "kid")) and min(values) > 0
                and max(values) > 10 * min(values)):
            axes.set_yscale("log")
        axes.set_title(panel)
        axes.set_xlabel("training step")
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
    return fig


def plot(run_dirs: list[str], floor: str | None, path: str) -> str:
    """Writes `figure(run_dirs, floor)` to the PNG `path`; returns the path."""
    if not path.lower().endswith(".png"):
        raise UserError(f"--plot={path}: give a .png file name")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UserError(f"--plot={path}: directory {directory} does not exist")
    fig = figure(run_dirs, floor)
    try:
        fig.savefig(path)
    except OSError as e:
        raise UserError(f"--plot={path}: cannot write it ({e.strerror or e})") from None
    return path


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        raise UserError("give one or more run directories: python -m jaxgan.report RUN_DIR...")
    table = rows(argv[1:], _FLOOR.value, _ALL.value)
    written = plot(argv[1:], _FLOOR.value, _PLOT.value) if _PLOT.value else None
    print("\n".join(table))
    if written:
        print(f"plot written to {written}")
