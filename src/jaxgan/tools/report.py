"""Markdown tables of evaluator records: `python -m jaxgan.report --floor=FLOOR.jsonl RUN_DIR...`

One row per (run, generator, step) from each `RUN_DIR/eval/metrics.jsonl` (the last step only
unless `--all_steps`), and the real-data floor from a `--reference --out=FLOOR.jsonl` file, with
the fid_lenet ratio to the floor. Reads records only; computes nothing.

A floor is read against records of the same feature extractor weights only: jaxgan's LeNet is
trained on each machine, and its weights (so every *_lenet number) differ between CPUs. With a
floor, a run's records of other weights are left out, and a run with none of the floor's is
refused rather than turned into ratios.
"""

from __future__ import annotations

import json
import os

from absl import flags

from jaxgan.errors import UserError

COLUMNS = (("fid_lenet", "fid_lenet", "{:.2f}"), ("kid_lenet", "kid_lenet", "{:.2f}"),
           ("is_lenet", "is_lenet", "{:.2f}"), ("precision_lenet", "precision", "{:.3f}"),
           ("recall_lenet", "recall", "{:.3f}"), ("cas_lenet", "CAS", "{:.2%}"),
           ("gantest_lenet", "GAN-test", "{:.2%}"))

_FLOOR = flags.DEFINE_string("floor", None, "JSONL of `evaluate --reference --out=...`.")
_ALL = flags.DEFINE_bool("all_steps", False, "A row for every evaluated step, not just the last.")


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


def _same_extractor(run: str, records: list[dict], floor: str,
                    floor_sha: dict[str, str]) -> list[dict]:
    """The records of `run` scored with the floor's extractor weights; one clear error when
    there are records but none of them is (a run scored only on another machine)."""
    def matches(r: dict) -> bool:
        expected = floor_sha.get(r.get("extractor"))
        return not expected or r.get("extractor_sha256") in (None, expected)

    kept = [r for r in records if matches(r)]
    if records and not kept:
        r = records[0]
        raise UserError(
            f"{run} was scored with {r['extractor']} weights sha256 "
            f"{r['extractor_sha256'][:8]}..., the floor {floor} with "
            f"{floor_sha[r['extractor']][:8]}...: the numbers are not comparable. Score the "
            f"floor with the run's weights (python -m jaxgan.evaluate --reference "
            f"--dataset=... --out=FLOOR.jsonl where they are), or the run with the floor's")
    return kept


def rows(run_dirs: list[str], floor: str | None, all_steps: bool) -> list[str]:
    header = ["run", "generator", "step", *(label for _, label, _ in COLUMNS), "fid ratio"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    floor_fid = None
    table: list[tuple[str, str, str, dict]] = []
    floor_sha: dict[str, str] = {}
    if floor:
        floor_records = _read(floor)
        floor_sha = {r["extractor"]: r["extractor_sha256"] for r in floor_records
                     if r.get("extractor") and r.get("extractor_sha256")}
        values = {r["metric"]: r["value"] for r in floor_records if _default_protocol(r)}
        floor_fid = values.get("fid_lenet")
        table.append(("real-data floor (test vs train)", "", "", values))
    for run in run_dirs:
        records = _read(os.path.join(run, "eval", "metrics.jsonl"))
        records = _same_extractor(run, records, floor, floor_sha)
        groups: dict[tuple[str, int], dict] = {}
        for r in filter(_default_protocol, records):
            groups.setdefault((r.get("generator", "params"), r["step"]), {})[r["metric"]] = \
                r["value"]
        for generator in sorted({g for g, _ in groups}):
            steps = sorted(s for g, s in groups if g == generator)
            for step in steps if all_steps else steps[-1:]:
                table.append((os.path.basename(os.path.normpath(run)), generator, str(step),
                              groups[(generator, step)]))
    for name, generator, step, values in table:
        cells = [name, generator, step]
        cells += [fmt.format(values[key]) if key in values else "" for key, _, fmt in COLUMNS]
        fid = values.get("fid_lenet")
        cells.append(ratio(fid, floor_fid) if fid is not None and floor_fid and step else "")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        raise UserError("give one or more run directories: python -m jaxgan.report RUN_DIR...")
    print("\n".join(rows(argv[1:], _FLOOR.value, _ALL.value)))

