"""BigGAN and the scaling machinery: the reference's parameter counts, the conditional BatchNorm's
+1, the hierarchical latent, truncation at 0, parameter and optimizer-state sharding on the
4-device mesh (same numbers, a quarter of the bytes, checkpoints that restore on other meshes,
bit-exact resume), gradient accumulation against one big batch, and the mistakes a user can
make, through the real CLI."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import REPO, load_experiment, override, preflight
from test_cli import run_cli

from jaxgan import families, sharding, train
from jaxgan.checkpoint import Checkpointer
from jaxgan.errors import UserError
from jaxgan.families.gan import steps as gan_steps
from jaxgan.models import biggan
from jaxgan.state import num_params
from jaxgan.train.program import Program

EXPERIMENT = f"--config={REPO / 'experiments' / 'biggan.py'}"


def _reference_counts(resolution, ch, num_classes, latent, shared, hier, attention, channels=3):
    """BigGAN-PyTorch's trainable parameters, tallied from its G_arch / D_arch tables and layers:
    3x3 and 1x1 convolutions with biases, the input linear layer with bias, the conditional
    BatchNorms' bias-free gain and bias maps (from the shared embedding and a z chunk; or two
    [classes, C] tables without a shared embedding), attention's four bias-free 1x1 convs and
    gamma, the output BatchNorm's gain and bias, D's linear logit and [classes, C] embedding."""
    g_in, g_out = ([m * ch for m in mults] for mults in biggan.G_WIDTHS[resolution])
    slots = len(g_in) + 1 if hier else 1
    cond = shared + (latent // slots if hier else 0)
    attn = lambda c: 2 * c * (c // 8) + 2 * c * (c // 2) + 1
    g = num_classes * shared + (latent // slots + 1) * 16 * g_in[0]
    size = 4
    for i, o in zip(g_in, g_out):
        g += 9 * i * o + o + 9 * o * o + o + i * o + o
        g += 2 * cond * (i + o) if shared else 2 * num_classes * (i + o)
        size *= 2
        g += attn(o) if size == attention else 0
    g += 2 * g_out[-1] + 9 * g_out[-1] * channels + channels
    d_out = [m * ch for m in biggan.D_WIDTHS[resolution][0]]
    d, size = 0, resolution
    for i, o, down in zip([channels, *d_out[:-1]], d_out, biggan.D_WIDTHS[resolution][1]):
        d += 9 * i * o + o + 9 * o * o + o + (i * o + o if i != o or down else 0)
        size = size // 2 if down else size
        d += attn(o) if size == attention else 0
    d += d_out[-1] + 1 + num_classes * d_out[-1]
    return g, d


def test_presets_have_the_reference_counts():
    assert _reference_counts(128, 96, 1000, 120, 128, True, 64) == (70_433_988, 87_982_370)
    config = load_experiment("biggan", "imagenet128")
    assert (config.batch_size, config.accumulate_steps) == (2048, 8)
    # Every phase of the first steps traced at 128x128, batch 2048 in 8 micro-batches.
    assert preflight(config) == {"params/G": 70_433_988, "params/D": 87_982_370}
    cifar = _reference_counts(32, 64, 10, 128, 0, False, 0)
    assert cifar == (4_304_387, 4_207_361)
    spec = families.get("gan").setup(load_experiment("biggan", "cifar10"))
    z, y = jnp.zeros((1, 128)), jnp.zeros((1,), jnp.int32)
    g = jax.eval_shape(lambda: spec.generator.init(jax.random.key(0), z, y, train=False))
    d = jax.eval_shape(lambda: spec.discriminator.init(
        jax.random.key(0), jnp.zeros((1, 32, 32, 3)), y, train=False))
    assert (num_params(g["params"]), num_params(d["params"])) == cifar


def test_conditional_batch_norm_gain_is_one_at_zero_embedding():
    x = jax.random.normal(jax.random.key(0), (4, 3, 3, 8)) * 3.0 + 1.0
    bn = biggan.ConditionalBatchNorm()
    variables = bn.init(jax.random.key(1), x, jnp.ones((4, 5)), train=False)
    out, _ = bn.apply(variables, x, jnp.zeros((4, 5)), train=True, mutable=["batch_stats",
                                                                            "spectral"])
    mean, var = x.mean((0, 1, 2)), x.var((0, 1, 2))
    np.testing.assert_allclose(out, (x - mean) / np.sqrt(var + 1e-5), atol=1e-5)
    # A non-zero conditioning vector scales by 1 + W_g c and shifts by W_b c.
    cond = jax.random.normal(jax.random.key(2), (4, 5))
    out, state = bn.apply(variables, x, cond, train=True, mutable=["batch_stats", "spectral"])
    w_g = variables["params"]["gain"]["kernel"]
    w_b = variables["params"]["bias"]["kernel"]
    u_g, u_b = state["spectral"]["gain"]["u"], state["spectral"]["bias"]["u"]
    sigma = lambda w, u: jnp.linalg.norm(w @ u)
    gain = 1.0 + cond @ (w_g / sigma(w_g, u_g))
    bias = cond @ (w_b / sigma(w_b, u_b))
    expected = (x - mean) / np.sqrt(var + 1e-5) * gain[:, None, None] + bias[:, None, None]
    np.testing.assert_allclose(out, expected, atol=1e-2, rtol=1e-2)


def test_hierarchical_latent_chunks():
    assert biggan.z_chunks(120, 128, hier=True) == [20] * 6
    assert biggan.z_chunks(120, 32, hier=True) == [30] * 4
    assert biggan.z_chunks(128, 32, hier=False) == [128]
    with pytest.raises(ValueError, match="multiple of 6"):
        biggan.z_chunks(128, 128, hier=True)
    g = biggan.Generator(resolution=32, channels=1, ch=2, num_classes=3, shared_dim=4,
                         attention_resolution=0)
    z, y = jax.random.normal(jax.random.key(0), (2, 8)), jnp.array([0, 2])
    params = g.init(jax.random.key(1), z, y, train=False)["params"]
    assert params["linear"]["kernel"].shape == (2, 16 * 8)  # the first chunk alone
    for i in range(3):  # each block: the 4-d shared embedding and its own 2-d chunk
        assert params[f"block{i}"]["bn1"]["gain"]["kernel"].shape == (6, 8)
    # Each chunk reaches the image; the last only through the last block's BatchNorms.
    variables = g.init(jax.random.key(1), z, y, train=False)
    grads = jax.grad(lambda z: jnp.sum(g.apply(variables, z, y, train=False) ** 2))(z)
    assert all(float(jnp.abs(grads[:, 2 * i:2 * i + 2]).sum()) > 0 for i in range(4))


def _config(**overrides):
    """The smoke run without attention (the CLI test and the presets' preflight cover it): the
    in-process runs below compile several programs each."""
    return override(load_experiment("biggan"), **{"mesh.data": 1, "model.attention_resolution": 0,
                                                  **overrides})


def _host(tree):
    return jax.tree.map(np.asarray, jax.device_get(tree))


def test_truncation_zero_draws_the_mean_latent():
    spec = families.get("gan").setup(_config())
    z = gan_steps.sample_latents(spec, jax.random.key(0), 6, truncation=0.0)
    np.testing.assert_array_equal(np.abs(z), 0.0)
    variables = jax.jit(lambda: families.get("gan").init(spec, 0))().nets["G"].variables
    labels = jnp.array([1, 1, 1, 4, 4, 4])
    images = spec.generator.apply(variables, z, labels, train=False)
    np.testing.assert_array_equal(images[0], images[2])  # one image per class
    assert float(jnp.abs(images[0] - images[3]).max()) > 1e-3


# Two steps of the "dg" phase (D's update, then G's: one program to compile), no batch
# statistics in G: a bias before BatchNorm has a near-zero gradient that Adam turns into +-lr on
# float noise, which no tolerance would cover.
SHARDED = {"mesh.data": -1, "sharding.rules": "fsdp", "sharding.min_size": 64,
           "num_train_steps": 2, "model.g_norm": "none", "training.n_critic": 1}


def test_sharded_training_matches_replicated_restores_anywhere_and_resumes(tmp_path):
    assert jax.device_count() == 4
    replicated = train.train(_config(**{**SHARDED, "sharding.rules": ""}),
                             str(tmp_path / "replicated"))
    sharded = train.train(_config(**SHARDED), str(tmp_path / "sharded"))
    for name in ("G", "D"):
        chex.assert_trees_all_close(_host(sharded.nets[name].variables),
                                    _host(replicated.nets[name].variables), atol=2e-5, rtol=1e-4)
    chex.assert_trees_all_close(_host(sharded.ema), _host(replicated.ema), atol=2e-5, rtol=1e-4)
    kernel = sharded.nets["G"].params["block0"]["conv1"]["kernel"]
    assert kernel.sharding.spec == jax.sharding.PartitionSpec(None, None, None, "data")
    # Measured on the arrays: what one device holds of the parameters and Adam moments.
    trainable = {name: (net.params, net.opt_state) for name, net in sharded.nets.items()}
    total = sharding.total_bytes(trainable)
    assert sharding.per_device_bytes(replicated.nets["G"].params) == sharding.total_bytes(
        replicated.nets["G"].params)
    ratio = sharding.per_device_bytes(trainable) / total
    print(f"sharded parameters + optimizer state: {ratio:.3f} of {total} bytes per device")
    assert 0.25 <= ratio < 0.27

    # Written sharded at step 1; restored onto 1 and 2 devices; resumed to equal bits.
    run = str(tmp_path / "run")
    saved = _host(train.train(_config(**{**SHARDED, "num_train_steps": 1}), run))
    for devices in (1, 2):
        config = _config(**{**SHARDED, "mesh.data": devices})
        mesh = sharding.make_mesh(config.mesh)
        program = Program(config, mesh)
        restored, _ = Checkpointer(run, keep=3, read_only=True).restore_latest(
            program.abstract_state)
        leaf = restored.nets["G"].params["block0"]["conv1"]["kernel"]
        assert leaf.sharding.mesh.size == devices and int(restored.step) == 1
        chex.assert_trees_all_equal(_host(restored), saved)
    resumed = _host(train.train(_config(**SHARDED), run))
    chex.assert_trees_all_equal(resumed, _host(sharded))


ACCUMULATE = {"model.g_norm": "none", "g_optimizer.eps": 1e3, "d_optimizer.eps": 1e3,
              "batch_size": 8, "training.ema_decay": 0.0}


def test_accumulated_micro_batches_equal_one_big_batch():
    """With Adam's eps far above the gradients, an update is lr * grad / eps: the updates of
    one step compare the gradients. Without batch statistics in G (or D), 4 micro-batches give
    the big batch's."""
    rng = np.random.default_rng(0)
    batch = {"image": rng.uniform(-1, 1, (8, 32, 32, 1)).astype(np.float32),
             "label": rng.integers(0, 10, 8).astype(np.int32)}
    updates = {}
    for k in (1, 4):
        config = _config(**{**ACCUMULATE, "accumulate_steps": k})
        program = Program(config, sharding.make_mesh(config.mesh))
        state = program.init()
        before = _host({n: state.nets[n].params for n in ("G", "D")})
        state, _ = program.phase("dg")(state, batch)  # D's update, then G's through it
        after = _host({n: state.nets[n].params for n in ("G", "D")})
        updates[k] = jax.tree.map(lambda a, b: (a - b) * 1e3 / 2e-4, after, before)
    scale = max(float(np.abs(x).max()) for x in jax.tree.leaves(updates[1]))
    assert scale > 0
    chex.assert_trees_all_close(updates[4], updates[1], atol=1e-4 * scale, rtol=1e-3)


def test_cli_trains_samples_and_refuses_mistakes(tmp_path):
    workdir = str(tmp_path / "run")
    # Two steps: XLA's -O0 code runs the micro-batch loop slowly (about 3 s a step here).
    run_cli("jaxgan.main", f"{EXPERIMENT}:smoke", f"--workdir={workdir}",
            "--config.accumulate_steps=2", "--config.training.n_critic=1",
            "--config.num_train_steps=2")
    run_cli("jaxgan.sample", f"--workdir={workdir}", "--num=4", "--class=3",
            f"--out={tmp_path / 'threes.png'}")
    assert (tmp_path / "threes.png").stat().st_size > 0
    # (--class out of range: one line, exit 2, checked on the cGAN in test_conditional.py.)
    # The CLI's one-line UserError path, checked in-process (no interpreter start each).
    for overrides, message in (({"sharding.rules": "kernel=tensor"}, "names mesh axis 'tensor'"),
                               ({"accumulate_steps": 3}, "not divisible by accumulate_steps"),
                               ({"model.latent_dim": 10}, "multiple of 4"),
                               ({"sharding.rules": "kernel"}, "is not REGEX=AXIS")):
        with pytest.raises(UserError, match=message):
            train.train(_config(**overrides), str(tmp_path / "b"))
    assert not (tmp_path / "b").exists()
