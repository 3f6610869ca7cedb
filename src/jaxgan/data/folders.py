"""Image files in the folder layouts users already have, decoded on demand.

- `image_folder`: PNG/JPEG/BMP/WebP files below a directory (below DIR/<split>/ when it
  exists); sub-directories, when present, are the classes (sorted by name).
- `paired_folder`: pix2pix's layouts. Aligned: DIR/<split>/*.png, each file A and B side by
  side (A the left half). Or two folders with matching file names: DIR/A/<split>/ and
  DIR/B/<split>/.
- `unpaired_folder`: CycleGAN's layout: DIR/trainA/, DIR/trainB/, DIR/testA/, DIR/testB/; the
  two domains are separate streams of their own lengths.

How a file becomes an `image_size` square (`dataset.preprocess`): `square_resize` (the centre
square, resized), `resize_crop` (resized to `load_size`, then a random `image_size` crop:
pix2pix's resize_and_crop), `crop` (a random `image_size` crop at the file's resolution:
super-resolution patches). Evaluation takes the centre crop instead of a random one and never
flips. Crops and flips are drawn per example from (seed, the example's position in the stream)
and are the same for every field of a pair.
"""

from __future__ import annotations

import pathlib

import numpy as np

from jaxgan.errors import UserError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


class MissingSplit(UserError):
    """A folder dataset has no images for the split asked for."""
PREPROCESS = ("square_resize", "resize_crop", "crop")
_CROP_SALT = 0xC409


def image_files(directory: pathlib.Path) -> list[pathlib.Path]:
    return sorted(p for p in directory.rglob("*")
                  if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())


def _open(path: pathlib.Path, channels: int):
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.convert("L" if channels == 1 else "RGB")
    except OSError as e:
        raise UserError(f"cannot decode image {path}: {e}") from None


def _array(im, channels: int) -> np.ndarray:
    array = np.asarray(im, dtype=np.uint8)
    return array.reshape(array.shape[0], array.shape[1], channels)


class Fitter:
    """Turns decoded images into `image_size` squares as `dataset.preprocess` says."""

    def __init__(self, dataset, train: bool, seed: int):
        if dataset.preprocess not in PREPROCESS:
            raise UserError(f"dataset.preprocess must be one of {PREPROCESS}, not "
                            f"{dataset.preprocess!r}")
        if dataset.preprocess == "resize_crop" and dataset.load_size < dataset.image_size:
            raise UserError(f"dataset.preprocess=resize_crop resizes to dataset.load_size, then "
                            f"crops dataset.image_size: load_size must be >= "
                            f"{dataset.image_size}, not {dataset.load_size}")
        self.mode, self.size, self.load_size = (dataset.preprocess, dataset.image_size,
                                                dataset.load_size)
        self.flip = bool(dataset.random_flip) and train
        self.train, self.seed, self.channels = train, seed, dataset.channels

    def __call__(self, images: list, position: int) -> list[np.ndarray]:
        """The images of one example (PIL images of the same size: a pair shares its crop)."""
        from PIL import Image

        rng = np.random.default_rng([self.seed, _CROP_SALT, int(position)])
        w, h = images[0].size
        if self.mode == "square_resize":
            side = min(w, h)
            box = ((w - side) // 2, (h - side) // 2)
            images = [im.crop((*box, box[0] + side, box[1] + side)) for im in images]
            if side != self.size:
                images = [im.resize((self.size, self.size), Image.Resampling.LANCZOS)
                          for im in images]
        else:
            if self.mode == "resize_crop":
                images = [im.resize((self.load_size, self.load_size), Image.Resampling.BICUBIC)
                          for im in images]
                w = h = self.load_size
            if w < self.size or h < self.size:
                raise UserError(f"an image of {w}x{h} is smaller than the {self.size}x{self.size} "
                                "crop of dataset.preprocess=crop; lower dataset.image_size")
            if self.train:
                left, top = int(rng.integers(0, w - self.size + 1)), int(
                    rng.integers(0, h - self.size + 1))
            else:
                left, top = (w - self.size) // 2, (h - self.size) // 2
            images = [im.crop((left, top, left + self.size, top + self.size)) for im in images]
        arrays = [_array(im, self.channels) for im in images]
        if self.flip and rng.random() < 0.5:
            arrays = [a[:, ::-1] for a in arrays]
        return arrays


def _split_dir(root: pathlib.Path, split: str) -> pathlib.Path:
    return root / split if (root / split).is_dir() else root


def _check_dir(root: str, what: str) -> pathlib.Path:
    path = pathlib.Path(root).expanduser()
    if not root or not path.is_dir():
        raise UserError(f"{what}: folder not found: {root!r} (set --config.dataset.data_dir)")
    return path


class ImageFolderSource:
    """Fields `image` and `label` (0 without class sub-directories)."""

    def __init__(self, dataset, split: str = "train", train: bool = True, seed: int = 0):
        root = _check_dir(dataset.data_dir, "dataset image_folder")
        path = _split_dir(root, split)
        files = image_files(path)
        if not files:
            raise UserError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) below "
                            f"{str(path)!r}")
        self.name = f"image_folder:{path}"
        self.files = files
        self.class_names = sorted({p.parent.relative_to(path).as_posix() for p in files} - {"."})
        self.num_classes = len(self.class_names)
        index = {c: i for i, c in enumerate(self.class_names)}
        self.labels = np.asarray(
            [index.get(p.parent.relative_to(path).as_posix(), 0) for p in files], np.int32)
        self.fit = Fitter(dataset, train, seed)
        self.streams = {"": len(files)}
        self.fields = ("image", "label")

    def __len__(self) -> int:
        return len(self.files)

    def decode(self, i: int, position: int = 0) -> np.ndarray:
        (image,) = self.fit([_open(self.files[i], self.fit.channels)], position)
        return image

    def read(self, indices: dict[str, np.ndarray], positions: np.ndarray) -> dict[str, np.ndarray]:
        idx = indices[""]
        images = np.stack([self.decode(int(i), int(p)) for i, p in zip(idx, positions)])
        return {"image": images, "label": self.labels[idx]}


class PairedFolderSource:
    """Fields `A` and `B`, one example per pair, cropped and flipped together."""

    def __init__(self, dataset, split: str = "train", train: bool = True, seed: int = 0):
        root = _check_dir(dataset.data_dir, "dataset paired_folder")
        self.fit = Fitter(dataset, train, seed)
        a_dir, b_dir = root / "A" / split, root / "B" / split
        if a_dir.is_dir() and b_dir.is_dir():
            self.layout = "folders"
            a_files, b_files = image_files(a_dir), image_files(b_dir)
            a_names = [p.relative_to(a_dir).as_posix() for p in a_files]
            b_names = [p.relative_to(b_dir).as_posix() for p in b_files]
            if len(a_files) != len(b_files):
                raise UserError(f"paired folder {root}: A/{split} has {len(a_files)} images but "
                                f"B/{split} has {len(b_files)}; every A needs its B of the "
                                "same file name")
            if a_names != b_names:
                odd = sorted(set(a_names) ^ set(b_names))[:3]
                raise UserError(f"paired folder {root}: A/{split} and B/{split} differ in file "
                                f"names (e.g. {', '.join(odd)}); pairs share a file name")
            self.pairs = list(zip(a_files, b_files))
        elif (root / split).is_dir():
            self.layout = "aligned"
            self.pairs = [(p, None) for p in image_files(root / split)]
        else:
            raise MissingSplit(f"paired folder {root}: expected {root}/{split}/ of aligned A|B "
                            f"images or {root}/A/{split}/ and {root}/B/{split}/ with matching "
                            "file names")
        if not self.pairs:
            raise MissingSplit(f"paired folder {root}: no images for split {split!r}")
        self.name = f"paired_folder:{root}"
        self.num_classes = 0
        self.streams = {"": len(self.pairs)}
        self.fields = ("A", "B")

    def __len__(self) -> int:
        return len(self.pairs)

    def _pair(self, i: int):
        a_path, b_path = self.pairs[i]
        a = _open(a_path, self.fit.channels)
        if b_path is None:  # aligned: A is the left half, B the right
            w, h = a.size
            if w % 2:
                raise UserError(f"{a_path} is {w} pixels wide: an aligned A|B image has an even "
                                "width (A the left half, B the right)")
            return a.crop((0, 0, w // 2, h)), a.crop((w // 2, 0, w, h))
        b = _open(b_path, self.fit.channels)
        if a.size != b.size:
            raise UserError(f"paired images differ in size: {a_path} is {a.size[0]}x{a.size[1]}, "
                            f"{b_path} is {b.size[0]}x{b.size[1]}")
        return a, b

    def read(self, indices: dict[str, np.ndarray], positions: np.ndarray) -> dict[str, np.ndarray]:
        pairs = [self.fit(list(self._pair(int(i))), int(p))
                 for i, p in zip(indices[""], positions)]
        return {"A": np.stack([a for a, _ in pairs]), "B": np.stack([b for _, b in pairs])}


class UnpairedFolderSource:
    """Fields `A` and `B` from two independent streams (CycleGAN's trainA/ and trainB/)."""

    def __init__(self, dataset, split: str = "train", train: bool = True, seed: int = 0):
        root = _check_dir(dataset.data_dir, "dataset unpaired_folder")
        self.fit = Fitter(dataset, train, seed)
        self.files = {}
        for domain in ("A", "B"):
            path = root / f"{split}{domain}"
            files = image_files(path) if path.is_dir() else []
            if not files:
                raise MissingSplit(f"unpaired folder {root}: no images in {path} (CycleGAN's "
                                "layout: trainA/, trainB/, testA/, testB/)")
            self.files[domain] = files
        self.name = f"unpaired_folder:{root}"
        self.num_classes = 0
        self.streams = {d: len(f) for d, f in self.files.items()}
        self.fields = ("A", "B")

    def __len__(self) -> int:
        return max(self.streams.values())

    def read(self, indices: dict[str, np.ndarray], positions: np.ndarray) -> dict[str, np.ndarray]:
        out = {}
        for salt, domain in enumerate(("A", "B")):
            out[domain] = np.stack([
                self.fit([_open(self.files[domain][int(i)], self.fit.channels)],
                         int(p) * 2 + salt)[0]
                for i, p in zip(indices[domain], positions)])
        return out
