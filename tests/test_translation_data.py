"""The offline translation benchmarks (`jaxgan.translation_data`): the transforms against closed
forms, small copies of each task read back through the folder sources, their documented
properties recomputed from the source arrays, byte-identical reruns, and bad input."""

import hashlib
import json

import numpy as np
import pytest
from conftest import REPO, SHARED_DATA
from test_cli import assert_one_line_error, run_cli

from jaxgan import config_lib
from jaxgan.data import folders, idx
from jaxgan.tools import translation_data as td

FASHION = SHARED_DATA / "fashion_mnist"
MNIST = REPO / "data" / "mnist"
MAX_TRAIN, MAX_TEST = 24, 12
DATA_DIRS = {"edges2fashion": FASHION, "thin2thick_mnist": MNIST, "sneakers2boots": FASHION}


def _write(tmp_path_factory, task, **kwargs):
    out = tmp_path_factory.mktemp(task) / "out"
    td.write_task(task, str(out), str(DATA_DIRS[task]), max_train=MAX_TRAIN, max_test=MAX_TEST,
                  **kwargs)
    return out


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Each task's small copy: task -> folder."""
    return {task: _write(tmp_path_factory, task) for task in td.TASKS}


def _meta(out):
    return json.loads((out / "meta.json").read_text())


def _digest(out):
    """sha256 over every file's relative path and bytes."""
    digest = hashlib.sha256()
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        digest.update(path.relative_to(out).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _source(dataset_name, out, split, image_size=32):
    dataset = config_lib.dataset_config()
    config_lib.set_keys(dataset, {"name": dataset_name, "data_dir": str(out), "split": split,
                                  "image_size": image_size, "channels": 1})
    source_class = {"paired_folder": folders.PairedFolderSource,
                    "unpaired_folder": folders.UnpairedFolderSource}[dataset_name]
    return source_class(dataset, split=split, train=False)


def _read_all(source):
    indices = {stream: np.arange(n) for stream, n in source.streams.items()}
    return source.read(indices, np.arange(len(source)))


def _canvases(directory, split, indices, size=32):
    images, labels = idx.read_split(str(directory), split)
    return td.centre(images[indices], size), labels[indices]


def _square(value):
    canvas = np.zeros((1, 32, 32), np.uint8)
    canvas[0, 8:24, 8:24] = value
    return canvas


def test_edge_map_of_a_square_is_its_outline_one_pixel_wide():
    edges = td.edge_map(_square(200))[0]
    assert set(np.unique(edges)) == {0, 255}
    for i in range(12, 20):  # away from the corners: one pixel per side, at the step
        assert np.flatnonzero(edges[i]).tolist() == [8, 24], i
        assert np.flatnonzero(edges[:, i]).tolist() == [8, 24], i
    # A straight step of h grey levels peaks at a Sobel magnitude of 4 h (11 - 1) / 16 = 2.5 h
    # after the [1, 4, 6, 4, 1] / 16 blur: the threshold 64 takes steps of 26, not of 25.
    assert np.flatnonzero(td.edge_map(_square(26))[0, 16]).tolist() == [8, 24]
    assert not td.edge_map(_square(25))[0, 12:20].any()


def test_stroke_transforms_closed_forms():
    canvas = np.zeros((1, 9, 9), np.uint8)
    canvas[0, 3:6, 3:6] = 100
    expected_thin = np.zeros((9, 9), np.uint8)
    # twice the mean of the four 2x2 minima: 4 inside squares at the centre, 2 on a side, 1 at a
    # corner of the 3x3 block
    expected_thin[3:6, 3:6] = [[50, 100, 50], [100, 200, 100], [50, 100, 50]]
    np.testing.assert_array_equal(td.thin_strokes(canvas)[0], expected_thin)
    np.testing.assert_array_equal(td.thin_strokes(np.full((1, 4, 4), 200, np.uint8))[0, 1:3, 1:3],
                                  np.full((2, 2), 255))  # clipped
    expected_thick = np.zeros((9, 9), np.uint8)
    expected_thick[2:7, 2:7] = 100
    np.testing.assert_array_equal(td.thick_strokes(canvas)[0], expected_thick)
    np.testing.assert_array_equal(td.centre(np.ones((1, 28, 28, 1), np.uint8), 31)[0, 1],
                                  [0] + [1] * 28 + [0, 0])


def test_edges2fashion_paired_layout_and_edges(written):
    out = written["edges2fashion"]
    meta = _meta(out)
    assert meta["dataset"] == "paired_folder" and meta["source"]["official"]
    for split, count in (("train", MAX_TRAIN), ("test", MAX_TEST)):
        source = _source("paired_folder", out, split)
        assert source.layout == "aligned" and len(source) == count
        batch = _read_all(source)
        a, b = batch["A"][..., 0], batch["B"][..., 0]
        assert a.shape == b.shape == (count, 32, 32)
        entry = meta["folders"][split]
        assert entry["files"] == [f"{i:05d}.png" for i in range(count)]
        canvases, labels = _canvases(FASHION, split, np.arange(count))
        np.testing.assert_array_equal(b, canvases)
        np.testing.assert_array_equal(a, td.edge_map(canvases))
        assert set(np.unique(a)) == {0, 255}
        assert (a == 255).sum((1, 2)).min() > 0, "an empty edge map"
        assert entry["labels"] == labels.tolist() and entry["source_indices"] == list(range(count))


def test_thin2thick_truth_and_disjoint_training_domains(written):
    out = written["thin2thick_mnist"]
    meta = _meta(out)
    assert meta["truth"] == {"testA": "testB", "testB": "testA"}
    train_a = meta["folders"]["trainA"]["source_indices"]
    train_b = meta["folders"]["trainB"]["source_indices"]
    assert len(train_a) == len(train_b) == MAX_TRAIN
    assert max(train_a) < 30_000 <= min(train_b), "trainA and trainB share source digits"
    test_a, test_b = meta["folders"]["testA"], meta["folders"]["testB"]
    assert test_a["files"] == test_b["files"]
    assert test_a["source_indices"] == test_b["source_indices"] == list(range(MAX_TEST))

    batch = _read_all(_source("unpaired_folder", out, "test"))
    canvases, labels = _canvases(MNIST, "test", np.arange(MAX_TEST))
    np.testing.assert_array_equal(batch["A"][..., 0], td.thin_strokes(canvases))
    np.testing.assert_array_equal(batch["B"][..., 0], td.thick_strokes(canvases))
    assert test_a["labels"] == test_b["labels"] == labels.tolist()
    ink_a = batch["A"].astype(np.int64).sum((1, 2, 3))
    ink_b = batch["B"].astype(np.int64).sum((1, 2, 3))
    assert (ink_b > ink_a).all() and (ink_a > 0).all(), (ink_a, ink_b)

    train = _read_all(_source("unpaired_folder", out, "train"))
    for domain, indices, transform in (("A", train_a, td.thin_strokes),
                                       ("B", train_b, td.thick_strokes)):
        canvases, labels = _canvases(MNIST, "train", np.asarray(indices))
        np.testing.assert_array_equal(train[domain][..., 0], transform(canvases))
        assert meta["folders"][f"train{domain}"]["labels"] == labels.tolist()
        assert meta["folders"][f"train{domain}"]["files"] == [f"{i:05d}.png" for i in indices]


def test_sneakers2boots_classes(written, tmp_path_factory):
    out = written["sneakers2boots"]
    meta = _meta(out)
    for split, count in (("train", MAX_TRAIN), ("test", MAX_TEST)):
        _, all_labels = idx.read_split(str(FASHION), split)
        batch = _read_all(_source("unpaired_folder", out, split))
        for domain, label in (("A", td.SNEAKER), ("B", td.ANKLE_BOOT)):
            entry = meta["folders"][f"{split}{domain}"]
            indices = np.asarray(entry["source_indices"])
            assert indices.tolist() == np.flatnonzero(all_labels == label)[:count].tolist()
            assert entry["labels"] == [label] * count
            canvases, _ = _canvases(FASHION, split, indices)
            np.testing.assert_array_equal(batch[domain][..., 0], canvases)
    assert meta["label_names"][td.SNEAKER] == "Sneaker"
    assert meta["label_names"][td.ANKLE_BOOT] == "Ankle boot"

    larger = _write(tmp_path_factory, "sneakers2boots", image_size=36)
    image = _read_all(_source("unpaired_folder", larger, "test", image_size=36))["A"][0, ..., 0]
    canvas, _ = _canvases(FASHION, "test", np.flatnonzero(idx.read_split(
        str(FASHION), "test")[1] == td.SNEAKER)[:1], size=36)
    np.testing.assert_array_equal(image, canvas[0])


@pytest.mark.parametrize("task", list(td.TASKS))
def test_rerun_is_byte_identical(written, tmp_path_factory, task):
    again = _write(tmp_path_factory, task)
    assert _digest(again) == _digest(written[task])


def test_cli_writes_the_same_bytes(written, tmp_path):
    out = tmp_path / "cli"
    proc = run_cli("jaxgan.translation_data", "--task=edges2fashion", f"--out={out}",
                   f"--data_dir={SHARED_DATA}", f"--max_train={MAX_TRAIN}",
                   f"--max_test={MAX_TEST}")
    assert "train 24, test 12" in proc.stdout
    assert _digest(out) == _digest(written["edges2fashion"])
    readme = (out / "README.md").read_text()
    assert "edges2fashion" in readme and "--config.dataset.name=paired_folder" in readme


def test_bad_input_is_one_line(tmp_path):
    out = str(tmp_path / "out")
    proc = run_cli("jaxgan.translation_data", "--task=edges2zebras", f"--out={out}", check=False)
    assert_one_line_error(proc, "unknown --task='edges2zebras'")
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = run_cli("jaxgan.translation_data", "--task=sneakers2boots", f"--out={out}",
                   f"--data_dir={empty}", check=False)
    assert_one_line_error(proc, "holds no fashion_mnist IDX files")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x")
    proc = run_cli("jaxgan.translation_data", "--task=thin2thick_mnist",
                   f"--out={tmp_path / 'full'}", check=False)
    assert_one_line_error(proc, "is not empty")
    proc = run_cli("jaxgan.translation_data", "--out=x", check=False)
    assert_one_line_error(proc, "give --task=TASK")
    assert not (tmp_path / "out").exists() and [p.name for p in tmp_path.iterdir()
                                                if p.name.startswith(".")] == []
