#!/usr/bin/env bash
# A Cloud TPU pod slice: run the same command on every host; jax.distributed.initialize() detects
# the TPU topology. Example:
#   gcloud compute tpus tpu-vm ssh NAME --worker=all --command \
#     "cd jaxgan && bash launch/tpu_pod.sh --config=experiments/dcgan_64.py --workdir=gs://bucket/run"
set -euo pipefail
python -m jaxgan.main --distributed "$@"
