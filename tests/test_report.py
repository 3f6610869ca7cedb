"""`python -m jaxgan.report`: evaluator records -> one markdown row per run and generator."""

import json

from test_cli import assert_one_line_error, run_cli


def _write(path, records):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def test_last_step_per_generator_and_the_floor_ratio(tmp_path):
    run = tmp_path / "my_run"
    records = [{"step": s, "generator": g, "metric": m, "value": v}
               for s in (1000, 2000) for g in ("ema", "params")
               for m, v in (("fid_lenet", s / 100 + (g == "params")), ("cas_lenet", 0.5))]
    _write(run / "eval" / "metrics.jsonl", records)
    _write(tmp_path / "floor.jsonl", [{"metric": "fid_lenet", "value": 0.5, "step": None}])
    out = run_cli("jaxgan.report", f"--floor={tmp_path / 'floor.jsonl'}", str(run)).stdout
    lines = out.strip().splitlines()
    assert len(lines) == 2 + 1 + 2  # header, rule, floor, one row per generator
    assert "| my_run | ema | 2000 | 20.00 |" in out and "| 40× |" in out  # 20 / 0.5
    assert "| my_run | params | 2000 | 21.00 |" in out and "50.00%" in out
    assert "1000" not in out
    proc = run_cli("jaxgan.report", str(tmp_path / "nope"), check=False)
    assert_one_line_error(proc, "not found")
