#!/bin/bash
# Several jaxgan runs side by side on one GPU, then the evaluator on each: a hyperparameter sweep
# of experiments/dcgan_mnist.py (docs/scaling.md; its records: docs/results/h200_sweep/).
#
#   bash launch/one_gpu_sweep.sh            # from the repository root
#
# 1. a probe: PROBE_STEPS steps of :infogan20_learned and one evaluation, which also prepares the
#    tfds data and caches the reference statistics before the parallel jobs need them;
# 2. the real-data floor on this device (`evaluate --reference`);
# 3. every RUNS line (name|variant of experiments/dcgan_mnist.py|extra flags) trains in its own
#    process until TRAIN_S seconds after the start (SIGTERM: each saves a checkpoint and exits);
# 4. one evaluator per run scores about MAX_EVALS of its checkpoints (multiples of EVAL_EVERY
#    and the last) with the four default metrics; summary.txt (`jaxgan.report --all_steps`, with
#    the floor) and results.tgz land in $OUT.
# Env: TOTAL_S, TRAIN_S, PROBE_STEPS, NSTEPS, CKPT, EVAL_EVERY, MAX_EVALS, NUMS, RUNS, SWEEP_DIR,
# OUT, PY. JAXGAN_CACHE_DIR (the evaluator's reference statistics) defaults to .dev/cache; the
# *_lenet metrics use the LeNet shipped with jaxgan.
# Python packages the machine lacks can sit as wheels in .whl/ (installed into /tmp/site);
# .whl/pinned/ (flax/optax/orbax/chex at pyproject.toml's versions) is tried only if the probe
# fails.
set -u
T0=$(date +%s)
el() { echo $(( $(date +%s) - T0 )); }
TOTAL_S=${TOTAL_S:-570}; TRAIN_S=${TRAIN_S:-330}; PROBE_STEPS=${PROBE_STEPS:-2000}
NSTEPS=${NSTEPS:-80000}; CKPT=${CKPT:-2000}; EVAL_EVERY=${EVAL_EVERY:-4000}
NUMS=${NUMS:-10000}; MAX_EVALS=${MAX_EVALS:-6}
OUTD=${OUT:-/tmp/sweep_out}; mkdir -p "$OUTD"
W=${SWEEP_DIR:-/tmp/sw}; mkdir -p "$W"
export JAXGAN_CACHE_DIR=${JAXGAN_CACHE_DIR:-$PWD/.dev/cache} JAXGAN_TFDS_DIR=$W/tfds XLA_PYTHON_CLIENT_PREALLOCATE=false
export TF_CPP_MIN_LOG_LEVEL=2 PYTHONUNBUFFERED=1
PY=${PY:-python3}

if [ -d .whl ] && [ -z "${NO_WHL:-}" ]; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site || { echo "wheel install failed"; exit 3; }
fi
export PYTHONPATH=$PWD/src:${PYTHONPATH:-}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null
versions() { $PY -c "
import jax, flax, optax, orbax.checkpoint as oc, chex, numpy
print('jax', jax.__version__, 'flax', flax.__version__, 'optax', optax.__version__, 'orbax', oc.__version__, 'chex', chex.__version__, 'numpy', numpy.__version__)
print(jax.devices())"; }
versions

probe() {  # one short real run + one evaluation: proves the stack, prepares tfds and the reference stats
  rm -rf "$W/probe"
  timeout 200 $PY -m jaxgan.main --config=experiments/dcgan_mnist.py:infogan20_learned --workdir="$W/probe" \
    --config.num_train_steps=$PROBE_STEPS --config.checkpoint_every_steps=$PROBE_STEPS \
    --config.log_every_steps=500 --config.sample_every_steps=100000 > "$W/probe.log" 2>&1 \
  && timeout 150 $PY -m jaxgan.evaluate --workdir="$W/probe" --steps=$PROBE_STEPS --num_samples=$NUMS >> "$W/probe.log" 2>&1
}
if ! probe; then
  echo "[$(el)s] probe failed with the image's packages:"; tail -25 "$W/probe.log"
  if [ -d .whl/pinned ]; then
    echo "[$(el)s] retrying with the pinned flax/optax/orbax/chex"
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/pinned .whl/pinned/*.whl
    export PYTHONPATH=$PWD/src:/tmp/pinned:/tmp/site
    versions
    probe || { echo "[$(el)s] probe failed again:"; tail -40 "$W/probe.log"; cp "$W/probe.log" "$OUTD/"; exit 4; }
  else
    cp "$W/probe.log" "$OUTD/"; exit 4
  fi
fi
grep -E 'steps/s' "$W/probe.log" | tail -2
grep -E '"metric"|fid_lenet|recall' "$W/probe.log" | tail -4
cp "$W/probe.log" "$OUTD/"
echo "[$(el)s] probe ok"

# The real-data floor on this device, for reading the runs' numbers against.
timeout 120 $PY -m jaxgan.evaluate --reference --dataset=mnist --out="$W/floor.jsonl" \
  > "$W/reference.log" 2>&1 &
REF=$!

# name|config variant|overrides
RUNS=${RUNS:-"
base|infogan20_learned|
base_s1|infogan20_learned|--config.seed=1
proj|infogan20_learned|--config.model.info_projection=true
ms01|infogan20_learned_ms|--config.loss.mode_seeking=0.1
mbstd|infogan20_learned|--config.d_layers.minibatch_std=true
r1|infogan20_learned|--config.regularizer.r1_gamma=0.05
cat40|infogan20_learned|--config.model.info_categories=40
ema4|infogan20_learned|--config.training.ema_decay=0.9999
bs128|infogan20_learned|--config.batch_size=128
"}
wait $REF; cp "$W/reference.log" "$OUTD/" 2>/dev/null; tail -8 "$W/reference.log"
FLOOR=(); [ -s "$W/floor.jsonl" ] && FLOOR=(--floor="$W/floor.jsonl")
LEFT=$(( TRAIN_S - $(el) )); [ $LEFT -lt 60 ] && LEFT=60
echo "[$(el)s] training window ${LEFT}s"
PIDS=()
while IFS='|' read -r name variant extra; do
  [ -z "$name" ] && continue
  timeout --signal=TERM --kill-after=30 $LEFT $PY -m jaxgan.main --config=experiments/dcgan_mnist.py:$variant \
    --workdir="$W/$name" --config.num_train_steps=$NSTEPS --config.checkpoint_every_steps=$CKPT \
    --config.keep_checkpoints=200 --config.sample_every_steps=100000 --config.log_every_steps=1000 $extra \
    > "$W/$name.log" 2>&1 &
  PIDS+=($!)
done <<< "$RUNS"
wait "${PIDS[@]}"
echo "[$(el)s] training done"
for f in "$W"/*.log; do echo "== $f"; grep -E '^step' "$f" | tail -1; grep -iE 'error|Traceback' "$f" | head -3; done

# Evaluate every EVAL_EVERY-th checkpoint and the last, one evaluator process per run.
PIDS=()
while IFS='|' read -r name variant extra; do
  [ -z "$name" ] && continue
  saved=$(ls "$W/$name/checkpoints" 2>/dev/null | grep -E '^[0-9]+$' | sort -n)
  [ -z "$saved" ] && { echo "$name: no checkpoints"; continue; }
  last=$(tail -1 <<< "$saved")
  e=$(( (last / MAX_EVALS + CKPT - 1) / CKPT * CKPT )); [ $e -lt $EVAL_EVERY ] && e=$EVAL_EVERY
  steps=$(awk -v e=$e -v l=$last '$1 % e == 0 || $1 == l' <<< "$saved" | paste -sd,)
  echo "$name: evaluating $steps"
  timeout $(( TOTAL_S - $(el) - 15 )) $PY -m jaxgan.evaluate --workdir="$W/$name" --steps=$steps \
    --num_samples=$NUMS > "$W/$name.eval.log" 2>&1 &
  PIDS+=($!)
done <<< "$RUNS"
wait "${PIDS[@]}"
echo "[$(el)s] evaluation done"
ls -d "$W"/*/eval | xargs -n1 dirname | xargs $PY -m jaxgan.report --all_steps "${FLOOR[@]}" \
  | tee "$OUTD/summary.txt"
(cd "$W" && tar czf "$OUTD/results.tgz" --exclude=checkpoints --exclude=tfds --exclude='*.npz' .)
echo "[$(el)s] end"
