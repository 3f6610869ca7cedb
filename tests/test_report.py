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
    assert "--dataset=mnist" in proc.stderr
    assert proc.stderr.rstrip().endswith("or the run with the floor's weights.")  # a whole sentence
    # Re-scored with the floor's weights: only those records are read against it.
    _write(run / "eval" / "metrics.jsonl",
           [{"step": 1000, "metric": "fid_lenet", "value": 2.0, **lenet},
            {"step": 1000, "metric": "fid_lenet", "value": 4.0, **lenet,
             "extractor_sha256": "a20596b1" + "0" * 56}])
    out = run_cli("jaxgan.report", f"--floor={tmp_path / 'same.jsonl'}", str(run)).stdout
    assert "| 2.50× |" in out and "4.00" not in out


def _plot_records(run_name, generators, sha):
    lenet = {"extractor": "lenet_mnist", "extractor_sha256": sha}
    inception = {"extractor": "inception", "extractor_sha256": "f" * 64}
    curves = {"fid_lenet": lambda s: 400.0 / s, "kid_lenet": lambda s: 2.0 / s,
              "is_lenet": lambda s: 9.0 - 1 / s, "precision_lenet": lambda s: 0.8,
              "recall_lenet": lambda s: 0.5 + s / 100, "fid_inception": lambda s: 90.0 / s}
    records = []
    for step in (1, 2, 5, 10):
        for generator in generators:
            for metric, curve in curves.items():
                provenance = inception if metric.endswith("inception") else lenet
                records.append({"step": step * 1000, "generator": generator, "metric": metric,
                                "value": curve(step), **provenance})
    # Another protocol of is_lenet gets a panel of its own; a non-finite value is not drawn.
    records.append({"step": 10000, "generator": generators[0], "metric": "is_lenet",
                    "protocol": "is_lenet_1k", "value": 8.5, **lenet})
    records.append({"step": 20000, "generator": generators[0], "metric": "kid_lenet",
                    "value": float("nan"), **lenet})
    return records


def test_plot_draws_a_panel_per_metric_with_the_floor(tmp_path):
    from PIL import Image

    from jaxgan.tools import report

    sha = "5d33bdd6" + "0" * 56
    _write(tmp_path / "run_a" / "eval" / "metrics.jsonl",
           _plot_records("run_a", ("ema", "params"), sha))
    _write(tmp_path / "run_b" / "eval" / "metrics.jsonl", _plot_records("run_b", ("ema",), sha))
    floor = tmp_path / "floor.jsonl"
    _write(floor, [
        {"metric": "fid_lenet", "value": 0.5, "step": None, "extractor": "lenet_mnist",
         "extractor_sha256": sha},
        # A floor of another dataset's classifier: no line in these runs' panels.
        {"metric": "is_lenet", "value": 8.0, "step": None, "extractor": "lenet_fashion_mnist",
         "extractor_sha256": "e0" * 32}])
    runs = [str(tmp_path / "run_a"), str(tmp_path / "run_b")]
    png = tmp_path / "curves.png"
    out = run_cli("jaxgan.report", f"--floor={floor}", f"--plot={png}", *runs).stdout
    assert out.strip().splitlines()[-1] == f"plot written to {png}"
    assert "| run_b | ema | 20000 |" in out  # the table is still printed
    with Image.open(png) as image:
        assert image.format == "PNG"
        width, height = image.size
        assert 1000 <= width <= 3000 and 500 <= height <= 2000, image.size
        assert len(image.convert("RGB").getcolors(maxcolors=1 << 16) or range(1 << 16)) > 20

    panels = {ax.get_title(): ax for ax in report.figure(runs, str(floor)).axes}
    assert list(panels) == ["fid_lenet", "kid_lenet", "is_lenet", "precision_lenet",
                            "recall_lenet", "fid_inception", "is_lenet (is_lenet_1k)"]
    fid = panels["fid_lenet"]
    assert fid.get_yscale() == "log"  # 400 down to 40, and the floor at 0.5
    assert [line.get_label() for line in fid.get_lines()] == [
        "run_a / ema", "run_a / params", "run_b", "real-data floor"]
    floor_line = fid.get_lines()[-1]
    assert floor_line.get_linestyle() == "--" and list(floor_line.get_ydata()) == [0.5, 0.5]
    assert list(fid.get_lines()[2].get_xdata()) == [1000, 2000, 5000, 10000]
    assert [t.get_text() for t in fid.get_legend().get_texts()][-1] == "real-data floor"
    assert panels["recall_lenet"].get_yscale() == "linear"  # 0.51 to 0.6
    assert panels["is_lenet"].get_yscale() == "linear"
    assert len(panels["is_lenet"].get_lines()) == 3  # no floor of lenet_fashion_mnist
    assert panels["kid_lenet"].get_lines()[0].get_xdata().max() == 10000  # the NaN left out
    one_k = panels["is_lenet (is_lenet_1k)"].get_lines()
    assert [line.get_label() for line in one_k] == ["run_a / ema", "run_b"]
    assert one_k[1].get_color() == fid.get_lines()[2].get_color()  # run_b's colour everywhere


def test_plot_errors_are_one_line(tmp_path):
    run = tmp_path / "run"
    _write(run / "eval" / "metrics.jsonl", [{"step": 1000, "metric": "fid_lenet", "value": 2.0}])
    proc = run_cli("jaxgan.report", f"--plot={tmp_path / 'no' / 'such' / 'dir.png'}", str(run),
                   check=False)
    assert_one_line_error(proc, "does not exist")
    proc = run_cli("jaxgan.report", f"--plot={tmp_path / 'curves.jpg'}", str(run), check=False)
    assert_one_line_error(proc, "give a .png file name")
    empty = tmp_path / "empty"
    _write(empty / "eval" / "metrics.jsonl", [])
    proc = run_cli("jaxgan.report", f"--plot={tmp_path / 'curves.png'}", str(empty), check=False)
    assert_one_line_error(proc, "no metric records to plot")
    proc = run_cli("jaxgan.report", f"--plot={tmp_path / 'curves.png'}", str(tmp_path / "nope"),
                   check=False)
    assert_one_line_error(proc, "not found")
    assert not (tmp_path / "curves.png").exists()
