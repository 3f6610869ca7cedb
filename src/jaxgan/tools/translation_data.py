"""Three image-to-image translation benchmarks derived offline from MNIST and Fashion-MNIST,
written as folders in the layouts of jaxgan's `paired_folder` and `unpaired_folder` datasets:
`python -m jaxgan.translation_data --task=TASK --out=DIR [--data_dir=DIR] [--image_size=32]`.

Every image is a source image (28x28, grayscale) centred on a black `image_size` canvas (32 by
default: 2 black pixels on each side), then transformed. Integer arithmetic throughout, pixels
outside the canvas count as black, and PNGs are written with PIL (mode L): the same command on
the same source files writes byte-identical folders. A file's name is its source index in its
split (`NNNNN.png`, five digits); DIR/meta.json records the source files' sha256, the transform,
and per folder the files, their source indices and their labels (for the accuracy of a
classifier on translated images); DIR/README.md describes the task.

`edges2fashion` (paired, as pix2pix's edges2shoes): B = the Fashion-MNIST image; A = its edge
map, white (255) edges on black (0), one pixel wide, from
  1. a blur by the binomial kernel [1, 4, 6, 4, 1] / 16 along each axis (about a Gaussian of
     sigma 1), which keeps the fabric's texture out of the edges;
  2. Sobel gradients gx, gy (correlation with [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]] and its
     transpose) and magnitude m = sqrt(gx^2 + gy^2), in grey levels;
  3. non-maximum suppression as in Canny's detector, along the gradient direction quantised to
     a step (dy, dx): (0, 1) when |gy| <= 2/5 |gx| (2/5 standing in for tan 22.5 degrees),
     else (1, 0) when |gx| <= 2/5 |gy|, else (1, 1) when gx and gy have the same sign and
     (1, -1) when not; a pixel is kept when its m is > m at (y + dy, x + dx) and >= m at
     (y - dy, x - dx) (of a symmetric step's two equal pixels, one is kept);
  4. a fixed threshold: kept pixels with m >= 64 are edges.
  Aligned layout: DIR/train/NNNNN.png (all 60,000 train images) and DIR/test/NNNNN.png (all
  10,000 test images), A and B side by side (A the left half: 64x32 at image_size 32).
`thin2thick_mnist` (unpaired, with the truth known): A = thin strokes, B = thick strokes of MNIST
  digits. Thin: the grey erosion by each of the four 2x2 squares that hold the pixel (each the
  minimum over its square), summed and halved (twice their mean, rounded down), clipped to 255:
  strokes lose about a pixel of width and keep their brightness (MNIST's strokes are near
  255). Thick: the grey dilation by the 3x3 square (the maximum over the pixel's
  8-neighbourhood and itself). trainA = the thin versions of train digits 0-29,999, trainB =
  the thick versions of train digits 30,000-59,999: no digit is in both domains, so no pair is
  ever seen in training. testA and testB = the thin and the thick versions of the same 10,000
  test digits under the same file names: testB/NAME is the truth for translating testA/NAME
  (and the reverse).
`sneakers2boots` (unpaired and semantic, horse2zebra in miniature): Fashion-MNIST's class 7
  (Sneaker) as domain A and class 9 (Ankle boot) as domain B, untransformed: trainA and trainB
  from the train split (6,000 each), testA and testB from the test split (1,000 each).

`--max_train=N` / `--max_test=N` keep the first N images of each train / test folder (small
copies for tests); 0 keeps all.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator

import numpy as np
from absl import flags

from jaxgan.data import arrays, download, idx
from jaxgan.errors import UserError

SOURCE_SIZE = 28
EDGE_BLUR = (1, 4, 6, 4, 1)
EDGE_THRESHOLD = 64  # on the Sobel magnitude of the blurred image, in grey levels
DIRECTION_RATIO = (2, 5)  # |a| <= 2/5 |b|: within about 22.5 degrees of b's axis
SNEAKER, ANKLE_BOOT = 7, 9
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot")
_CITATIONS = {"mnist": "LeCun, Cortes, Burges. The MNIST database of handwritten digits.",
              "fashion_mnist": "Xiao, Rasul, Vollgraf. Fashion-MNIST, arXiv:1708.07747, 2017."}
_CHUNK = 2048  # images transformed at once: bounds the memory of the int64 intermediates

FLAGS = flags.FLAGS


def define_flags() -> None:
    """The command's flags (defined only when it runs, so that importing this module defines
    none)."""
    flags.DEFINE_string("task", None, "edges2fashion, thin2thick_mnist or sneakers2boots.")
    flags.DEFINE_string("out", None, "The folder to write (new, or empty).")
    flags.DEFINE_string(
        "data_dir", None, "The folder of the source dataset's four gzipped IDX files (or its "
        "parent with mnist/ or fashion_mnist/ below it); default $JAXGAN_DATA_DIR, the MNIST "
        "bundled with the repository, the download cache. Nothing is downloaded.")
    flags.DEFINE_integer(
        "image_size", 32, "Side of the square canvas the 28x28 images are centred on (>= 28).")
    flags.DEFINE_integer("max_train", 0, "Keep the first N images of each train folder (0: all).")
    flags.DEFINE_integer("max_test", 0, "Keep the first N images of each test folder (0: all).")


# Transforms: uint8 canvases [N, H, W] -> uint8 images.

def centre(images_Nx28x28x1: np.ndarray, size: int) -> np.ndarray:
    """28x28 images centred on black size x size canvases, uint8 [N, size, size]."""
    before = (size - SOURCE_SIZE) // 2
    after = size - SOURCE_SIZE - before
    return np.pad(images_Nx28x28x1[..., 0], ((0, 0), (before, after), (before, after)))


def _shifted(x: np.ndarray, offsets) -> Iterator[np.ndarray]:
    """For each (dy, dx): the array whose pixel (y, x) is x's pixel (y + dy, x + dx), 0 outside."""
    offsets = list(offsets)
    r = max(max(abs(dy), abs(dx)) for dy, dx in offsets)
    padded = np.pad(x, ((0, 0), (r, r), (r, r)))
    h, w = x.shape[1:]
    for dy, dx in offsets:
        yield padded[:, r + dy: r + dy + h, r + dx: r + dx + w]


def _correlate(x: np.ndarray, kernel_y, kernel_x) -> np.ndarray:
    """Separable correlation (zero outside) with integer kernels of odd lengths."""
    rx, ry = len(kernel_x) // 2, len(kernel_y) // 2
    along_x = _shifted(x, [(0, i - rx) for i in range(len(kernel_x))])
    rows = sum(k * shifted for k, shifted in zip(kernel_x, along_x))
    along_y = _shifted(rows, [(i - ry, 0) for i in range(len(kernel_y))])
    return sum(k * shifted for k, shifted in zip(kernel_y, along_y))


def edge_map(canvases_NxHxW: np.ndarray) -> np.ndarray:
    """edges2fashion's A: one-pixel white edges (255) on black (0), as the docstring says."""
    # The blur is kept 256x (its kernel's sum), so the threshold is compared 256x too.
    blurred = _correlate(canvases_NxHxW.astype(np.int64), EDGE_BLUR, EDGE_BLUR)
    gx = _correlate(blurred, (1, 2, 1), (-1, 0, 1))
    gy = _correlate(blurred, (-1, 0, 1), (1, 2, 1))
    magnitude2 = gx * gx + gy * gy
    ax, ay = np.abs(gx), np.abs(gy)
    num, den = DIRECTION_RATIO
    horizontal = den * ay <= num * ax
    vertical = den * ax <= num * ay
    diagonal = ~horizontal & ~vertical
    same_sign = (gx > 0) == (gy > 0)
    keep = np.zeros(magnitude2.shape, bool)
    for direction, (dy, dx) in ((horizontal, (0, 1)), (vertical & ~horizontal, (1, 0)),
                                (diagonal & same_sign, (1, 1)), (diagonal & ~same_sign, (1, -1))):
        ahead, behind = _shifted(magnitude2, [(dy, dx), (-dy, -dx)])
        keep |= direction & (magnitude2 > ahead) & (magnitude2 >= behind)
    strong = magnitude2 >= (EDGE_THRESHOLD * sum(EDGE_BLUR) ** 2) ** 2
    return np.where(keep & strong, 255, 0).astype(np.uint8)


def thin_strokes(canvases_NxHxW: np.ndarray) -> np.ndarray:
    """thin2thick_mnist's A: twice the mean of the four 2x2 grey erosions holding each pixel."""
    x = canvases_NxHxW.astype(np.int32)
    square = [(0, 0), (0, 1), (1, 0), (1, 1)]
    erosions = [np.minimum.reduce(list(_shifted(x, [(cy + dy, cx + dx) for dy, dx in square])))
                for cy in (-1, 0) for cx in (-1, 0)]  # the squares' top-left corners
    return np.minimum(255, sum(erosions) // 2).astype(np.uint8)


def thick_strokes(canvases_NxHxW: np.ndarray) -> np.ndarray:
    """thin2thick_mnist's B: the grey dilation by the 3x3 square."""
    square = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    return np.maximum.reduce(list(_shifted(canvases_NxHxW, square)))


def _edges_and_image(canvases_NxHxW: np.ndarray) -> np.ndarray:
    return np.concatenate([edge_map(canvases_NxHxW), canvases_NxHxW], axis=2)


def _unchanged(canvases_NxHxW: np.ndarray) -> np.ndarray:
    return canvases_NxHxW


# Tasks.

@dataclasses.dataclass(frozen=True)
class Folder:
    name: str  # DIR/<name>/
    split: str  # the source split
    indices: np.ndarray  # source indices, in file order
    render: Callable[[np.ndarray], np.ndarray]  # canvases [N, S, S] -> uint8 images [N, h, w]


@dataclasses.dataclass(frozen=True)
class Task:
    source: str  # mnist | fashion_mnist
    dataset: str  # the jaxgan dataset.name that reads the folder
    layout: str
    description: str
    transform: dict
    # (labels per source split, max_train, max_test) -> the folders to write
    folders: Callable[[dict[str, np.ndarray], int, int], list[Folder]]
    truth: dict[str, str] = dataclasses.field(default_factory=dict)


def _first(n: int, cap: int) -> np.ndarray:
    return np.arange(min(n, cap) if cap > 0 else n)


def _edges2fashion_folders(labels, max_train, max_test):
    return [Folder(split, split, _first(len(labels[split]), cap), _edges_and_image)
            for split, cap in (("train", max_train), ("test", max_test))]


def _thin2thick_folders(labels, max_train, max_test):
    half = len(labels["train"]) // 2
    test = _first(len(labels["test"]), max_test)
    return [Folder("trainA", "train", _first(half, max_train), thin_strokes),
            Folder("trainB", "train", half + _first(half, max_train), thick_strokes),
            Folder("testA", "test", test, thin_strokes),
            Folder("testB", "test", test, thick_strokes)]


def _sneakers2boots_folders(labels, max_train, max_test):
    folders = []
    for split, cap in (("train", max_train), ("test", max_test)):
        for domain, label in (("A", SNEAKER), ("B", ANKLE_BOOT)):
            indices = np.flatnonzero(labels[split] == label)
            folders.append(Folder(f"{split}{domain}", split, indices[_first(len(indices), cap)],
                                  _unchanged))
    return folders


_CENTRED = "each 28x28 image centred on a black image_size canvas"
TASKS = {
    "edges2fashion": Task(
        source="fashion_mnist", dataset="paired_folder",
        layout="aligned: DIR/train/NNNNN.png and DIR/test/NNNNN.png, A|B side by side (A the "
               "left half)",
        description="Fashion-MNIST images (B) from their edge maps (A), as pix2pix's "
                    "edges2shoes: every train and test image.",
        transform={
            "canvas": _CENTRED,
            "B": "the image",
            "A": "edge map of B: white (255) edges on black (0)",
            "blur_per_axis": f"{list(EDGE_BLUR)} / {sum(EDGE_BLUR)}",
            "gradient": "Sobel: correlation with [[-1,0,1],[-2,0,2],[-1,0,1]] and its transpose",
            "non_maximum_suppression": "kept when the magnitude is > the next pixel's and >= "
                                       "the previous pixel's along the gradient direction "
                                       "(horizontal if |gy| <= 2/5 |gx|, vertical if |gx| <= "
                                       "2/5 |gy|, else diagonal)",
            "threshold_grey_levels": EDGE_THRESHOLD,
        },
        folders=_edges2fashion_folders),
    "thin2thick_mnist": Task(
        source="mnist", dataset="unpaired_folder",
        layout="CycleGAN's: DIR/trainA/, trainB/, testA/, testB/",
        description="MNIST digits with thin strokes (A) and thick strokes (B). trainA and trainB "
                    "come from disjoint halves of the train split; testB holds the thick "
                    "versions of testA's digits under the same file names: the truth for A->B "
                    "(and B->A).",
        transform={
            "canvas": _CENTRED,
            "A": "thin: min(255, floor((e1 + e2 + e3 + e4) / 2)), e_i the grey erosions (minima) "
                 "over the four 2x2 squares that hold the pixel",
            "B": "thick: grey dilation (maximum) over the 3x3 square centred on the pixel",
            "trainA": "train indices [0, N/2), thin",
            "trainB": "train indices [N/2, N), thick",
            "testA/testB": "the same test indices, thin / thick",
        },
        folders=_thin2thick_folders, truth={"testA": "testB", "testB": "testA"}),
    "sneakers2boots": Task(
        source="fashion_mnist", dataset="unpaired_folder",
        layout="CycleGAN's: DIR/trainA/, trainB/, testA/, testB/",
        description="Fashion-MNIST sneakers (A, class 7) and ankle boots (B, class 9), "
                    "untransformed: a semantic unpaired task, horse2zebra in miniature.",
        transform={"canvas": _CENTRED, "A": f"class {SNEAKER} (Sneaker)",
                   "B": f"class {ANKLE_BOOT} (Ankle boot)"},
        folders=_sneakers2boots_folders),
}


# Sources and writing.

def source_dir(name: str, data_dir: str | None) -> pathlib.Path:
    """The folder with `name`'s four gzipped IDX files: `data_dir` (or `data_dir`/`name`), else
    the local places `jaxgan.data` looks in. Never downloads."""
    files = ", ".join(download.FILES[name])
    if data_dir:
        path = pathlib.Path(data_dir).expanduser()
        for candidate in (path, path / name):
            if arrays.has_files(name, candidate):
                return candidate
        raise UserError(f"--data_dir={data_dir!r} holds no {name} IDX files (expected {files} "
                        f"there or in {name}/ below it)")
    try:
        return arrays.resolve_data_dir(name, None, allow_download=False)
    except UserError:
        raise UserError(f"no {name} IDX files found locally; pass --data_dir=DIR of a folder "
                        f"holding {files} (published at {download.URLS[name]})") from None


def _sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _save_png(path: pathlib.Path, image_HxW: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(np.ascontiguousarray(image_HxW)).save(path, format="PNG")


def _json(meta: dict) -> str:
    """Indented JSON with lists of numbers and names on one line each."""
    text = json.dumps(meta, indent=2, sort_keys=True)
    return re.sub(r"\[\n\s*([^\[\]{}]*?)\n\s*\]",
                  lambda m: "[" + " ".join(m.group(1).split()) + "]", text) + "\n"


def _readme(task_name: str, task: Task, meta: dict) -> str:
    counts = "\n".join(f"| {name} | {f['source_split']} | {f['count']:,} |"
                       for name, f in meta["folders"].items())
    sources = "\n".join(f"- `{file}`: sha256 `{digest}`"
                        for file, digest in meta["source"]["sha256"].items())
    transform = "\n".join(f"- {key}: {value}" for key, value in task.transform.items())
    size = meta["image_size"]
    aligned = f" (A|B files {2 * size}x{size})" if task.dataset == "paired_folder" else ""
    official = ("the official files" if meta["source"]["official"]
                else "files that differ from the official release")
    return f"""# {task_name}

{task.description}

Written by `{meta['command']}`
(`jaxgan.tools.translation_data`, whose docstring specifies the transforms exactly); the same
command on the same source files writes the same bytes.

Layout ({task.dataset}): {task.layout}. Images: {size}x{size} grayscale PNG{aligned}; a
file's name is its index in the source split.

| folder | source split | images |
|---|---|---|
{counts}

Transform:
{transform}

Source: {task.source} ({meta['source']['citation']}), {official}:
{sources}

meta.json lists, per folder, the files, their source indices and their labels (in file order).

Train with jaxgan: `--config.dataset.name={task.dataset} --config.dataset.data_dir=DIR
--config.dataset.image_size={size} --config.dataset.channels=1`.
"""


def _check_out(out: str) -> pathlib.Path:
    path = pathlib.Path(out).expanduser()
    if path.exists() and not path.is_dir():
        raise UserError(f"--out={out} is a file; give a new or empty folder")
    if path.is_dir() and any(path.iterdir()):
        raise UserError(f"--out={out} is not empty; give a new or empty folder")
    return path


def write_task(task_name: str, out: str, data_dir: str | None = None, image_size: int = 32,
               max_train: int = 0, max_test: int = 0) -> dict:
    """Writes `task_name`'s folders, meta.json and README.md into `out` (new or empty); returns
    the metadata. The folder appears complete or not at all."""
    if task_name not in TASKS:
        raise UserError(f"unknown --task={task_name!r}; the tasks are {', '.join(TASKS)}")
    if image_size < SOURCE_SIZE:
        raise UserError(f"--image_size={image_size}: the 28x28 images are centred on the canvas, "
                        f"so it must be >= {SOURCE_SIZE}")
    if max_train < 0 or max_test < 0:
        raise UserError("--max_train and --max_test must be >= 0 (0: all)")
    task = TASKS[task_name]
    out_path = _check_out(out)
    directory = source_dir(task.source, data_dir)
    data = {split: idx.read_split(str(directory), split) for split in idx.IDX_FILES}
    folders = task.folders({split: labels for split, (_, labels) in data.items()},
                           max_train, max_test)
    digests = {file: _sha256(directory / file) for file in download.FILES[task.source]}
    command = " ".join(["python -m jaxgan.translation_data", f"--task={task_name}",
                        f"--image_size={image_size}"]
                       + [f"--{k}={v}" for k, v in (("max_train", max_train),
                                                     ("max_test", max_test)) if v])
    meta = {
        "task": task_name,
        "description": task.description,
        "command": command,
        "dataset": task.dataset,
        "layout": task.layout,
        "image_size": image_size,
        "channels": 1,
        "transform": task.transform,
        "source": {
            "dataset": task.source,
            "citation": _CITATIONS[task.source],
            "sha256": digests,
            "official": all(digests[f] == e.sha256
                            for f, e in download.FILES[task.source].items()),
        },
        "label_names": (list(FASHION_CLASSES) if task.source == "fashion_mnist"
                        else [str(d) for d in range(10)]),
        "truth": task.truth,
        "folders": {},
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{out_path.name}.", dir=out_path.parent))
    try:
        for folder in folders:
            images, labels = data[folder.split]
            names = [f"{i:05d}.png" for i in folder.indices]
            (staging / folder.name).mkdir()
            for start in range(0, len(folder.indices), _CHUNK):
                chunk = folder.indices[start: start + _CHUNK]
                rendered = folder.render(centre(images[chunk], image_size))
                for name, image in zip(names[start: start + _CHUNK], rendered):
                    _save_png(staging / folder.name / name, image)
            meta["folders"][folder.name] = {
                "source_split": folder.split, "count": len(names), "files": names,
                "source_indices": [int(i) for i in folder.indices],
                "labels": [int(labels[i]) for i in folder.indices],
            }
        (staging / "meta.json").write_text(_json(meta))
        (staging / "README.md").write_text(_readme(task_name, task, meta))
        if out_path.is_dir():
            out_path.rmdir()  # checked empty above
        os.replace(staging, out_path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return meta


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise UserError(f"unexpected arguments {' '.join(argv[1:])}; give --task= and --out=")
    if not FLAGS.task or not FLAGS.out:
        raise UserError(f"give --task=TASK (one of {', '.join(TASKS)}) and --out=DIR")
    meta = write_task(FLAGS.task, FLAGS.out, FLAGS.data_dir, FLAGS.image_size,
                      FLAGS.max_train, FLAGS.max_test)
    counts = ", ".join(f"{name} {f['count']:,}" for name, f in meta["folders"].items())
    print(f"{meta['task']} written to {FLAGS.out}: {counts}")
