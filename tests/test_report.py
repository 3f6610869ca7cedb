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
               for m, v in (("fid_lenet", s / 100 + (g == "params")), ("cas_lenet", 0.5),
                                ("gantest_lenet", 0.875))]
    # Other protocols of the same metrics (60,000-sample CAS) stay out of the columns.
    records += [{"step": 2000, "generator": "ema", "metric": "cas_lenet", "value": 0.9,
                 "protocol": "cas_lenet_60k"},
                {"step": 2000, "generator": "ema", "metric": "precision_lenet", "value": 0.7,
                 "protocol": "pr_lenet"}]
    _write(run / "eval" / "metrics.jsonl", records)
    _write(tmp_path / "floor.jsonl", [
        {"metric": "fid_lenet", "value": 0.5, "step": None},
        {"metric": "cas_lenet", "value": 0.95, "protocol": "cas_lenet", "step": None},
        {"metric": "cas_lenet", "value": 0.99, "protocol": "cas_lenet_60k", "step": None}])
    out = run_cli("jaxgan.report", f"--floor={tmp_path / 'floor.jsonl'}", str(run)).stdout
    lines = out.strip().splitlines()
    assert len(lines) == 2 + 1 + 2  # header, rule, floor, one row per generator
    assert "| my_run | ema | 2000 | 20.00 |" in out and "| 40× |" in out  # 20 / 0.5
    assert "| 0.700 |" in out and "95.00%" in out and "90.00%" not in out and "99.00%" not in out
    assert "| my_run | params | 2000 | 21.00 |" in out and "50.00%" in out
    assert "| 87.50% |" in out  # GAN-test, its own column
    assert "1000" not in out
    proc = run_cli("jaxgan.report", str(tmp_path / "nope"), check=False)
    assert_one_line_error(proc, "not found")


def test_fid_ratio_keeps_the_decimals_that_decide_a_goal():
    from jaxgan.tools.report import ratio

    assert ratio(2.45, 0.8224) == "2.98×"  # not "3×": the 3x goal is met
    assert ratio(2.80, 0.8224) == "3.40×"  # and this one is not
    assert ratio(20.0, 0.5) == "40×"


def test_a_floor_of_other_extractor_weights_is_refused(tmp_path):
    """A LeNet retrained on another CPU has other weights: its floor is no yardstick for a run
    scored with these (ratios across them would silently mix two metrics)."""
    run = tmp_path / "run"
    lenet = {"extractor": "lenet_mnist", "extractor_sha256": "5d33bdd6" + "0" * 56}
    _write(run / "eval" / "metrics.jsonl",
           [{"step": 1000, "metric": "fid_lenet", "value": 2.0, **lenet}])
    _write(tmp_path / "same.jsonl", [{"metric": "fid_lenet", "value": 0.8, "step": None, **lenet}])
    out = run_cli("jaxgan.report", f"--floor={tmp_path / 'same.jsonl'}", str(run)).stdout
    assert "| 2.50× |" in out
    _write(tmp_path / "other.jsonl", [{"metric": "fid_lenet", "value": 0.8, "step": None,
                                       **lenet, "extractor_sha256": "a20596b1" + "0" * 56}])
    proc = run_cli("jaxgan.report", f"--floor={tmp_path / 'other.jsonl'}", str(run), check=False)
    assert_one_line_error(proc, "5d33bdd6")
    assert "a20596b1" in proc.stderr and "not comparable" in proc.stderr
    # Re-scored with the floor's weights: only those records are read against it.
    _write(run / "eval" / "metrics.jsonl",
           [{"step": 1000, "metric": "fid_lenet", "value": 2.0, **lenet},
            {"step": 1000, "metric": "fid_lenet", "value": 4.0, **lenet,
             "extractor_sha256": "a20596b1" + "0" * 56}])
    out = run_cli("jaxgan.report", f"--floor={tmp_path / 'same.jsonl'}", str(run)).stdout
    assert "| 2.50× |" in out and "4.00" not in out
