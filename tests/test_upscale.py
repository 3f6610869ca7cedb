"""Tiled upscaling against whole-image upscaling with local operators standing in for a
super-resolution generator, the blending windows, and the pieces of `jaxgan.upscale` that need
no trained run (image reading, output naming, network choice, flag checks; the whole command on a
stand-in model)."""

import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image
from test_cli import assert_one_line_error, run_cli

from jaxgan import images, tiling, upscale
from jaxgan.errors import UserError
from jaxgan.families.protocol import Condition, GeneratorExport


def box_model(scale: int, radius: int = 1):
    """Nearest-neighbour upsampling by `scale`, then a (2 radius + 1)^2 box blur with zero
    padding: every output pixel depends on the outputs within `radius` of it."""
    size = 2 * radius + 1

    @jax.jit
    def fn(x_1xHxWxC):
        up = jnp.repeat(jnp.repeat(x_1xHxWxC, scale, axis=1), scale, axis=2)
        window = (1, size, size, 1)
        return jax.lax.reduce_window(up, 0.0, jax.lax.add, window, (1, 1, 1, 1), "SAME") / size**2

    return fn


def block_model(scale: int, block: int):
    """The mean of each aligned `block` x `block` input block, repeated `block * scale` times:
    like a network that pixel-unshuffles its input, it sees the image on a grid of phase 0."""

    @jax.jit
    def fn(x_1xHxWxC):
        window = (1, block, block, 1)
        pooled = jax.lax.reduce_window(x_1xHxWxC, 0.0, jax.lax.add, window, window, "VALID")
        up = block * scale
        return jnp.repeat(jnp.repeat(pooled / block**2, up, axis=1), up, axis=2)

    return fn


def random_image(shape, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


def seam_mask(shape_hw, scale, tile, overlap, multiple, band):
    """Output pixels within `band` of a tile edge that a neighbouring tile shares."""
    masks = []
    for length in shape_hw:
        plan = tiling.plan_axis(length + -length % multiple, tile, overlap, scale, multiple)
        mask = np.zeros((length + -length % multiple) * scale, bool)
        for start in plan.starts:
            end = start + plan.span
            for edge, shared in ((start, start > 0), (end, end * scale < mask.size)):
                if shared:
                    mask[max(edge * scale - band, 0) : edge * scale + band] = True
        masks.append(mask[: length * scale])
    return masks[0][:, None] | masks[1][None, :]


# (image shape, scale, tile, overlap, multiple): non-square with the last tiles shifted inward,
# tile == 2 * overlap, sizes not multiples of the generator's, one axis shorter than a tile, the
# whole image smaller than a tile.
SETTINGS = [
    ((37, 53, 3), 2, 16, 4, 1),
    ((37, 53, 1), 3, 12, 6, 1),
    ((40, 29, 3), 4, 16, 2, 4),
    ((10, 50, 3), 2, 16, 4, 2),
    ((11, 13, 3), 2, 32, 8, 4),
]


@pytest.mark.parametrize("shape, scale, tile, overlap, multiple", SETTINGS)
def test_tiled_equals_whole_for_a_local_operator(shape, scale, tile, overlap, multiple):
    fn, image = box_model(scale), random_image(shape)
    tiled = tiling.upscale_tiled(fn, image, scale, tile, overlap, multiple)
    whole = tiling.upscale_whole(fn, image, scale, multiple)
    assert tiled.shape == whole.shape == (shape[0] * scale, shape[1] * scale, shape[2])
    diff = np.abs(tiled - whole)
    seams = seam_mask(shape[:2], scale, tile, overlap, multiple, band=scale)
    tiles = [len(tiling.plan_axis(n + -n % multiple, tile, overlap, scale, multiple).starts)
             for n in shape[:2]]
    seam_diff = diff[seams].max() if seams.any() else 0.0
    print(f"{shape} x{scale} tile {tile} overlap {overlap} multiple {multiple}: "
          f"{tiles[0]}x{tiles[1]} tiles, largest difference {diff.max():.2e}, "
          f"at seams {seam_diff:.2e}")
    assert (tiles == [1, 1]) == (shape[0] <= tile and shape[1] <= tile)
    assert seams.any() == (tiles != [1, 1])
    # The box blur reaches one output pixel past a tile edge, which weighs EDGE_WEIGHT there.
    assert diff.max() < 1e-5


def test_seams_of_a_wider_operator_are_cross_faded():
    """A 7x7 blur gets 3 output pixels at each tile edge wrong; the ramp keeps them faint where
    tiles that merely abut (no overlap) show them in full."""
    scale, radius, tile, shape = 2, 3, 16, (45, 38, 3)
    fn, image = box_model(scale, radius), random_image(shape, seed=1)
    whole = tiling.upscale_whole(fn, image, scale)
    diffs = {}
    for overlap in (0, 4):
        diff = np.abs(tiling.upscale_tiled(fn, image, scale, tile, overlap) - whole)
        seams = seam_mask(shape[:2], scale, tile, overlap, 1, band=radius)
        diffs[overlap] = diff[seams].max()
        assert diff[~seams].max() < 1e-5, overlap  # identical away from the seams
    print(f"7x7 blur, x{scale}, tile {tile}: largest seam difference {diffs[4]:.4f} with an "
          f"overlap of 4, {diffs[0]:.4f} with abutting tiles")
    assert diffs[0] > 0.05  # the seams a plain tiling shows
    assert diffs[4] < diffs[0] / 4


def test_tiles_start_on_the_generators_grid():
    """A network that sees its input in aligned blocks gives the whole-image output in tiles
    that start at multiples of its size multiple, and not in tiles that start anywhere."""
    scale, block, image = 2, 4, random_image((44, 40, 3), seed=2)
    fn = block_model(scale, block)
    whole = tiling.upscale_whole(fn, image, scale, block)
    aligned = tiling.upscale_tiled(fn, image, scale, tile=16, overlap=3, multiple=block)
    assert np.abs(aligned - whole).max() < 1e-5
    assert all(s % block == 0 for s in tiling.plan_axis(44, 16, 3, scale, block).starts)
    anywhere = tiling.upscale_tiled(fn, image, scale, tile=16, overlap=3, multiple=1)
    assert np.abs(anywhere - whole).max() > 0.1


@pytest.mark.parametrize("length, tile, overlap, scale, multiple", [
    (53, 16, 4, 2, 1), (37, 12, 6, 3, 1), (40, 16, 2, 4, 4), (10, 16, 4, 2, 2),
    (64, 16, 0, 2, 1), (50, 16, 8, 1, 2), (3, 4, 1, 4, 1),
])
def test_blending_windows(length, tile, overlap, scale, multiple):
    plan = tiling.plan_axis(length, tile, overlap, scale, multiple)
    assert plan.span == min(tile, length)
    assert plan.starts[0] == 0 and plan.starts[-1] + plan.span == length
    assert all(s % multiple == 0 for s in plan.starts)
    assert all(b - a <= plan.span - overlap for a, b in zip(plan.starts, plan.starts[1:]))
    assert plan.total.shape == (length * scale,) and plan.total.min() > 0
    assert np.outer(plan.total, plan.total).min() > 0  # the 2-D sum of separable windows
    ramp = overlap * scale
    for i, (start, window) in enumerate(zip(plan.starts, plan.windows)):
        assert window.shape == (plan.span * scale,) and window.min() > 0
        np.testing.assert_array_equal(window[ramp:-ramp or None], 1.0)  # 1 inside
        for side, shared in ((window, i > 0), (window[::-1], i < len(plan.starts) - 1)):
            if shared and ramp:  # linear from EDGE_WEIGHT at the edge towards 1
                linear = np.maximum(np.arange(ramp) / ramp, tiling.EDGE_WEIGHT)
                np.testing.assert_allclose(side[:ramp], linear, rtol=1e-6)
            else:  # on the image border (or no overlap): 1
                np.testing.assert_array_equal(side[:ramp], 1.0)
    placed = np.zeros(length * scale)
    for start, window in zip(plan.starts, plan.windows):
        placed[start * scale : start * scale + window.size] += window
    np.testing.assert_allclose(plan.total, placed, rtol=1e-6)


def test_tiling_errors_say_what_to_do():
    cases = [
        ((0, 0), "--tile must be a positive number of input pixels, not 0"),
        ((-8, 2), "not -8"),
        ((16, -1), "--tile_overlap must be 0 or more input pixels, not -1"),
        ((10, 6), ("--tile=10 is less than twice --tile_overlap=6: use --tile=12 or more, or "
                   "--tile_overlap=5 or less")),
        ((10, 2, 4), ("--tile=10 is not a multiple of 4, the size multiple of this generator: "
                      "use --tile=8 or --tile=12")),
        ((2, 0, 4), "use --tile=4$"),
        ((4, 1, 4), "--tile=4 leaves no room for --tile_overlap=1"),
    ]
    for args, message in cases:
        with pytest.raises(UserError, match=message.replace("(", r"\(")):
            tiling.check_tiling(*args)
        with pytest.raises(UserError, match=message.replace("(", r"\(")):
            tiling.upscale_tiled(box_model(2), random_image((8, 8, 1)), 2, *args)
    tiling.check_tiling(8, 4, 4)
    tiling.check_tiling(4, 0, 4)
    with pytest.raises(ValueError, match=r"into \[1, 8, 8, 1\], not \[1, 12, 12, C\]"):
        tiling.upscale_whole(box_model(2), random_image((4, 4, 1)), 3)


def test_pad_and_crop_to_the_size_multiple():
    image = np.arange(11 * 13, dtype=np.float32).reshape(11, 13, 1)
    padded = tiling.pad_to_multiple(image, 4)
    assert padded.shape == (12, 16, 1)
    np.testing.assert_array_equal(padded[:11, :13], image)
    np.testing.assert_array_equal(padded[11, :13], image[9])  # reflection
    np.testing.assert_array_equal(padded[:11, 13:16], image[:, [11, 10, 9]])
    assert tiling.pad_to_multiple(np.zeros((1, 2, 3)), 8).shape == (8, 8, 3)
    assert tiling.pad_to_multiple(image, 1) is image
    seen = []

    def nearest(x):
        seen.append(x.shape)
        return np.repeat(np.repeat(x, 2, axis=1), 2, axis=2)

    for out in (tiling.upscale_whole(nearest, image, 2, 4),
                tiling.upscale_tiled(nearest, image, 2, tile=16, overlap=4, multiple=4)):
        np.testing.assert_array_equal(out, np.repeat(np.repeat(image, 2, axis=0), 2, axis=1))
    assert seen == [(1, 12, 16, 1)] * 2


def _save(path, array, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode).save(path)


def test_read_image_channels_and_the_alpha_refusal(tmp_path):
    rng = np.random.default_rng(0)
    gray, rgb = (rng.integers(0, 256, s, dtype=np.uint8) for s in ((6, 5), (6, 5, 3)))
    _save(tmp_path / "gray.png", gray)
    _save(tmp_path / "rgb.jpg", rgb)
    repeated = upscale.read_image(tmp_path / "gray.png", 3)
    assert repeated.shape == (6, 5, 3) and all((repeated[..., c] == gray).all() for c in range(3))
    luminance = upscale.read_image(tmp_path / "rgb.jpg", 1)
    expected = np.asarray(Image.open(tmp_path / "rgb.jpg").convert("L"))
    np.testing.assert_array_equal(luminance[..., 0], expected)
    _save(tmp_path / "rgba.png", rng.integers(0, 256, (6, 5, 4), dtype=np.uint8))
    _save(tmp_path / "la.png", rng.integers(0, 256, (6, 5, 2), dtype=np.uint8), "LA")
    palette = Image.fromarray(gray).convert("P")
    palette.save(tmp_path / "palette.png", transparency=0)
    for name, kind in (("rgba", "RGBA"), ("la", "LA"), ("palette", "P with transparency")):
        message = rf"{name}.png has an alpha channel \({kind}\): flatten it first, e\.g\. " \
                  "convert it to RGB"
        for read in (lambda p: upscale.read_image(p, 3), lambda p: upscale.read_image(p, 1),
                     upscale.check_image):
            with pytest.raises(UserError, match=message):
                read(tmp_path / f"{name}.png")
    (tmp_path / "broken.png").write_text("not an image")
    for read in (lambda p: upscale.read_image(p, 3), upscale.check_image):
        with pytest.raises(UserError, match="cannot decode image .*broken.png"):
            read(tmp_path / "broken.png")
    upscale.check_image(tmp_path / "rgb.jpg")


def test_outputs_mirror_the_input_tree(tmp_path):
    pixels = np.zeros((4, 4, 3), np.uint8)
    for name in ("a/x.png", "a/b/y.jpg", "z.BMP", "out/old.png"):
        _save(tmp_path / "in" / name, pixels)
    (tmp_path / "in" / "notes.txt").write_text("not an image")
    source = str(tmp_path / "in")
    files = upscale.input_files(source, str(tmp_path / "in" / "out"))
    assert [f.relative_to(source).as_posix() for f in files] == ["a/b/y.jpg", "a/x.png", "z.BMP"]
    names = upscale.output_names(files, source)
    assert [n.as_posix() for n in names] == ["a/b/y.png", "a/x.png", "z.png"]
    assert len(upscale.input_files(source)) == 4  # the old outputs are inputs without --output
    single = str(tmp_path / "in" / "a" / "b" / "y.jpg")
    assert [n.as_posix() for n in upscale.output_names(upscale.input_files(single), single)] \
        == ["y.png"]
    _save(tmp_path / "in" / "a" / "x.jpg", pixels)
    with pytest.raises(UserError, match=r"x.jpg and .*x.png would both be written as a/x.png"):
        upscale.output_names(upscale.input_files(source), source)
    with pytest.raises(UserError, match="neither an image file nor a folder"):
        upscale.input_files(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no images"):
        upscale.input_files(str(tmp_path / "empty"))


def _export(condition_shape, image_shape, multiple=1):
    condition = Condition("lr", condition_shape) if condition_shape else None
    return GeneratorExport(network="G", image_shape=image_shape, generate=None,
                           condition=condition, size_multiple=multiple)


def test_network_choice_and_scale():
    def family(**exports):
        return types.SimpleNamespace(generators=lambda spec: exports)

    noise = _export(None, (32, 32, 3))
    with pytest.raises(UserError, match="not conditioned on images; use python -m jaxgan.sample"):
        upscale.choose_network(family(G=noise), None, None)
    sr = _export((8, 8, 3), (32, 32, 3))
    mixed = family(G=noise, G_sr=sr)
    assert upscale.choose_network(mixed, None, None) == ("G_sr", sr)
    assert upscale.choose_network(mixed, None, "G_sr") == ("G_sr", sr)
    with pytest.raises(UserError, match="--network=G is not conditioned on images; .* are G_sr"):
        upscale.choose_network(mixed, None, "G")
    with pytest.raises(UserError, match="--network=D: this model's generators are G, G_sr"):
        upscale.choose_network(mixed, None, "D")
    assert upscale.scale_of(sr) == 4
    assert upscale.scale_of(_export((8, 6, 1), (16, 12, 1))) == 2
    assert upscale.scale_of(_export((8, 8, 3), (8, 8, 3))) == 1
    for shapes in (((8, 8, 3), (20, 20, 3)), ((8, 8, 3), (16, 24, 3))):
        with pytest.raises(UserError, match="not to a whole number of times larger"):
            upscale.scale_of(_export(*shapes))


def test_the_srgan_familys_generator_is_upscalable():
    from conftest import load_experiment

    from jaxgan import families

    config = load_experiment("srgan")
    family = families.get(config.family)
    name, export = upscale.choose_network(family, family.setup(config), None)
    assert name == "G" and export.condition.field == "lr"
    assert upscale.scale_of(export) == config.dataset.lr_scale == 4


def test_upscale_command_on_a_stand_in_model(tmp_path, monkeypatch, capsys):
    """The command's loop with the run replaced by the box model (2x, size multiple 2): gray and
    colour inputs in a tree, tiled output as whole output, the summary line."""
    from jaxgan import api, families, workdir

    export = _export((8, 8, 3), (16, 16, 3), multiple=2)
    fn, loaded = box_model(2), []

    class StandIn:
        step, weights = 7, "ema"

        def __call__(self, batch):
            return fn(batch["image"])

    monkeypatch.setattr(workdir, "load_config", lambda path: types.SimpleNamespace(family="sr"))
    monkeypatch.setattr(families, "get", lambda name: types.SimpleNamespace(
        setup=lambda config: None, generators=lambda spec: {"G": export}))
    monkeypatch.setattr(api, "load", lambda *a, **k: loaded.append(k) or StandIn())
    rng = np.random.default_rng(3)
    _save(tmp_path / "in" / "gray.png", rng.integers(0, 256, (13, 9), dtype=np.uint8))
    _save(tmp_path / "in" / "sub" / "rgb.png", rng.integers(0, 256, (20, 24, 3), dtype=np.uint8))
    outputs = {}
    for tile in (8, 0):
        out = tmp_path / f"out{tile}"
        written = upscale.upscale("run", str(tmp_path / "in"), str(out), tile=tile, overlap=2,
                                  step=5, weights="ema")
        assert sorted(written) == [str(out / "gray.png"), str(out / "sub" / "rgb.png")]
        outputs[tile] = [np.asarray(Image.open(p)) for p in sorted(written)]
        captured = capsys.readouterr()
        how = "in 8x8 tiles overlapping by 2" if tile else "whole"
        assert f"upscaled 2 image(s) x2 {how} to {out} with G (ema) of step 7 in" \
            in captured.out
        assert "1 padded (reflection) to multiples of 2" in captured.out
        assert "[2/2] sub/rgb.png" in captured.err and ("tile 12/12" in captured.err) == bool(tile)
    assert loaded[0] == {"step": 5, "weights": "ema", "network": "G"}
    gray, rgb = outputs[0]
    assert gray.shape == (26, 18, 3) and rgb.shape == (40, 48, 3)
    assert (gray[..., 0] == gray[..., 2]).all()  # a gray input, repeated to the model's 3
    expected = tiling.upscale_whole(fn, np.repeat(
        np.asarray(Image.open(tmp_path / "in" / "gray.png"))[..., None], 3, axis=2)
        / 127.5 - 1.0, 2, 2)
    np.testing.assert_array_equal(gray, images.to_uint8(expected))
    for tiled, whole in zip(outputs[8], outputs[0]):
        # Equal to 1e-5 before rounding (above), which may still round an exact x.5 apart.
        assert np.abs(tiled.astype(int) - whole).max() <= 1
        assert np.mean(tiled != whole) < 0.01
    with pytest.raises(UserError, match="--tile=7 is not a multiple of 2"):
        upscale.upscale("run", str(tmp_path / "in"), str(tmp_path / "x"), tile=7, overlap=2)
    assert not (tmp_path / "x").exists() and len(loaded) == 2  # refused before loading


def test_upscale_cli_checks_flags_and_inputs_before_the_run(tmp_path):
    missing = str(tmp_path / "no_run")
    proc = run_cli("jaxgan.upscale", f"--workdir={missing}", f"--input={tmp_path / 'none'}",
                   f"--output={tmp_path / 'out'}", "--tile=16", "--tile_overlap=10", check=False)
    assert_one_line_error(proc, "--tile=16 is less than twice --tile_overlap=10: use --tile=20 "
                                "or more, or --tile_overlap=8 or less")
    _save(tmp_path / "in" / "rgba.png", np.zeros((4, 4, 4), np.uint8))
    proc = run_cli("jaxgan.upscale", f"--workdir={missing}", f"--input={tmp_path / 'in'}",
                   f"--output={tmp_path / 'out'}", check=False)
    assert_one_line_error(proc, "rgba.png has an alpha channel (RGBA): flatten it first")
    _save(tmp_path / "in" / "rgba.png", np.zeros((4, 4, 3), np.uint8))
    proc = run_cli("jaxgan.upscale", f"--workdir={missing}", f"--input={tmp_path / 'in'}",
                   f"--output={tmp_path / 'out'}", "--tile=32", check=False)
    assert_one_line_error(proc, "config.json not found")
