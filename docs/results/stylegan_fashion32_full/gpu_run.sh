#!/bin/bash
# Session 12's lent-GPU run (the device tool; one H100): StyleGAN2 on Fashion-MNIST at the
# reference's full 'auto' width for 32 px (512 channels at every resolution, z/w 512, 2 mapping
# layers, bf16 in the 4 highest resolutions with conv_clamp 256, as stylegan2-ada-pytorch's
# --cfg=auto on one GPU), then the ffhq256 / cifar32 preset benchmarks.
#
#   bash docs/results/stylegan_fashion32_full/gpu_run.sh STAGE TRAIN_SECONDS
#
# STAGE train: trains runs/sg_fashion32_full (resuming it when the machine still holds it) until
# TRAIN_SECONDS after this script started, then evaluates checkpoints (EMA) and draws grids.
# STAGE bench: the ffhq256 and cifar32 train-step benchmarks.
# Run from the repository root on the device machine, with .whl (wheels of the packages its image
# lacks), .gpudata/fashion_mnist (the IDX files) and .gpucache/classifiers carried; results go to
# $OUT. On a machine with the project installed, drop the PYTHONPATH lines. SG_EXTRA appends
# training flags (session 12 used it only for a tiny-width CPU check of this script). Session 12
# ran the same recipe spelled as :fashion32 plus width flags, before the :fashion32_auto variant
# existed; a test pins the variant to that run's config.json.
set -u
T0=$(date +%s)
stage=$1; train_s=${2:-0}
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if [ ! -f /tmp/site/.ok ]; then
  mkdir -p /tmp/pins
  pins=$(ls .whl/{flax,optax,orbax_checkpoint,chex}-*.whl)
  rest=$(ls .whl/*.whl | grep -v -e /flax- -e /optax- -e /orbax_checkpoint- -e /chex-)
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site $rest || exit 1
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/pins $pins || exit 1
  touch /tmp/site/.ok
fi
# The project's pinned flax/optax/orbax/chex first; the image's own if those fail to import.
export PYTHONPATH=/tmp/pins:/tmp/site:$PWD/src
if ! python3 -c "import flax.linen, optax, orbax.checkpoint, chex, jax; jax.devices()" 2>/dev/null; then
  echo "pinned packages do not import with this jax; using the image's own"
  export PYTHONPATH=/tmp/site:$PWD/src
fi
export JAXGAN_DATA_DIR=$PWD/.gpudata JAXGAN_CACHE_DIR=$PWD/.gpucache JAXGAN_TFDS_DIR=/tmp/tfds
python3 - <<'EOF' | tee -a "$OUT/env.txt"
import jax, jaxlib, flax, optax, orbax.checkpoint as ocp, chex, numpy, sys
print("python", sys.version.split()[0], "jax", jax.__version__, "jaxlib", jaxlib.__version__,
      "flax", flax.__version__, "optax", optax.__version__, "orbax", ocp.__version__,
      "chex", chex.__version__, "numpy", numpy.__version__)
print("devices", jax.devices())
EOF
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv \
  | tee -a "$OUT/env.txt"

W=runs/sg_fashion32_full
if [ "$stage" = train ]; then
  n=$(ls $W/checkpoints 2>/dev/null | wc -l)
  leg=$([ "$n" = 0 ] && echo 1 || echo 2)
  left=$((T0 + train_s - $(date +%s)))
  timeout -s TERM -k 60 $left python3 -m jaxgan.main \
    --config=experiments/stylegan.py:fashion32_auto --workdir=$W \
    --config.num_train_steps=200000 --config.keep_checkpoints=100 \
    ${SG_EXTRA:-} > "$OUT/train$leg.log" 2>&1
  echo "train rc=$? after $(( $(date +%s) - T0 )) s"; grep -v -i warn "$OUT/train$leg.log" | tail -4
  cp $W/config.json "$OUT/config.json"
  steps=$(ls $W/checkpoints | sort -n | python3 -c "
import sys
s = [int(x) for x in sys.stdin.read().split() if x.isdigit()]
done = set()
import json, os
p = '$W/eval/metrics.jsonl'
if os.path.exists(p):
    done = {json.loads(l)['step'] for l in open(p)}
todo = [x for x in s if x not in done]
pick = todo if len(todo) <= 4 else [todo[len(todo) * k // 4 - 1] for k in (1, 2, 3)] + [todo[-1]]
print(','.join(map(str, sorted(set(pick)))))")
  last=${steps##*,}
  echo "evaluating steps $steps"
  python3 -m jaxgan.evaluate --workdir=$W --once --steps=$steps \
    --metrics=fid_lenet,kid_lenet,is_lenet,pr_lenet > "$OUT/eval$leg.log" 2>&1
  echo "eval rc=$? after $(( $(date +%s) - T0 )) s"
  python3 -m jaxgan.evaluate --workdir=$W --once --steps=$last --generator=params \
    --metrics=fid_lenet,kid_lenet,is_lenet,pr_lenet >> "$OUT/eval$leg.log" 2>&1
  cp $W/eval/metrics.jsonl "$OUT/metrics.jsonl"
  python3 -c "
import json
for l in open('$W/eval/metrics.jsonl'):
    r = json.loads(l); print(r['step'], r.get('generator', ''), r['metric'], r['value'])"
  python3 -m jaxgan.sample --workdir=$W --num=64 --out="$OUT/grid_$last.png" > /dev/null 2>&1
  python3 -m jaxgan.sample --workdir=$W --style_mixing --rows=85,100,75,458 \
    --columns=55,821,1789,293 --mix_layers=coarse --out="$OUT/mixing_$last.png" > /dev/null 2>&1
  echo "stage done after $(( $(date +%s) - T0 )) s"
fi

if [ "$stage" = bench ]; then
  for spec in "ffhq256 8" "ffhq256 32" "cifar32 64"; do
    set -- $spec
    timeout 240 python3 -m jaxgan.bench --config=experiments/stylegan.py:$1 --batch_size=$2 \
      --warmup=2 --steps=16 --repeats=2 --phases 2>"$OUT/bench_$1_$2.err" \
      | tee -a "$OUT/bench.jsonl"
    echo "bench $1 $2 done after $(( $(date +%s) - T0 )) s"
    tail -3 "$OUT/bench_$1_$2.err"
  done
fi
