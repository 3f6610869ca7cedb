"""A figure that sets super-resolution runs side by side on the same test images:

    python -m jaxgan.sr_compare --workdir=RUN[@STEP][,RUN[@STEP]...] --out=FIG.png
        [--num=8] [--start=0] [--titles=A,B,...]

One row per image of the first run's condition split (examples [start, start + num)): the
low-resolution input (enlarged by repeating pixels), PIL's bicubic upscaling (the floor that
`jaxgan.evaluate --generator=bicubic` scores), each run's output (its checkpoint `STEP`, default
the latest; EMA weights where the run keeps them) and the high-resolution truth. The runs must
upscale the same data by the same factor; the column order is printed.
"""

from __future__ import annotations

import numpy as np
from absl import flags

from jaxgan.errors import UserError

FLAGS = flags.FLAGS


def define_flags() -> None:
    """The command's flags (defined only when it runs)."""
    flags.DEFINE_list("workdir", [], "Runs to compare: RUN or RUN@STEP, comma-separated.")
    flags.DEFINE_string("out", None, "The PNG file to write.")
    flags.DEFINE_integer("num", 8, "Rows: test images.")
    flags.DEFINE_integer("start", 0, "The first test image.")
    flags.DEFINE_list("titles", [], "Column names printed for the runs (default: folder names).")


def parse_run(text: str) -> tuple[str, int | None]:
    """'RUN' or 'RUN@STEP' -> (workdir, step or None)."""
    workdir, at, step = text.rpartition("@") if "@" in text else (text, "", "")
    if not at:
        return text, None
    if not step.isdigit():
        raise UserError(f"--workdir={text}: a step after '@' must be a whole number")
    return workdir, int(step)


def columns(models, num: int, start: int = 0) -> list[np.ndarray]:
    """[LR enlarged, bicubic, each model's output, HR], each uint8 [num, H, W, C]."""
    from jaxgan.data.degrade import upscale_bicubic
    from jaxgan.images import to_uint8

    first = models[0]
    inputs, targets = first.examples(num, start)
    lr = to_uint8(inputs["image"])
    hr_shape = first.export.image_shape
    scale = hr_shape[0] // lr.shape[1]
    for model in models[1:]:
        if (model.export.image_shape != hr_shape
                or model.export.condition.shape != first.export.condition.shape):
            raise UserError("the runs upscale different image sizes; compare runs of one "
                            "benchmark")
    cols = [np.repeat(np.repeat(lr, scale, axis=1), scale, axis=2),
            upscale_bicubic(lr, scale)]
    cols += [to_uint8(model(inputs)) for model in models]
    cols.append(to_uint8(targets))
    return cols


def main(argv: list[str]) -> None:
    del argv
    from jaxgan import api
    from jaxgan.images import grid, save_png

    if not FLAGS.workdir or not FLAGS.out:
        raise UserError("give --workdir=RUN[@STEP][,RUN...] and --out=FIG.png")
    if FLAGS.num < 1 or FLAGS.start < 0:
        raise UserError("--num must be >= 1 and --start >= 0")
    if FLAGS.titles and len(FLAGS.titles) != len(FLAGS.workdir):
        raise UserError(f"--titles names {len(FLAGS.titles)} column(s) for "
                        f"{len(FLAGS.workdir)} run(s)")
    runs = [parse_run(text) for text in FLAGS.workdir]
    models = [api.load(workdir, step=step) for workdir, step in runs]
    if any(m.export.condition is None or not m.export.condition.target for m in models):
        raise UserError("every run must be an image-conditioned generator with targets (a "
                        "super-resolution run)")
    cols = columns(models, FLAGS.num, FLAGS.start)
    rows = np.stack(cols, axis=1).reshape(-1, *cols[0].shape[1:])
    save_png(FLAGS.out, grid(rows.astype(np.float32) / 127.5 - 1.0, columns=len(cols)))
    titles = FLAGS.titles or [f"{w.rstrip('/').split('/')[-1]}@{m.step}"
                              for (w, _), m in zip(runs, models)]
    print(f"wrote {FLAGS.out}: {len(cols[0])} rows of LR | bicubic | "
          f"{' | '.join(titles)} | HR")
