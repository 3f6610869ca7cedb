#!/usr/bin/env bash
# Several jaxgan processes on one machine, talking over localhost (what the tests do): each process
# reads only its slice of every global batch; process 0 writes logs and samples; orbax writes the
# checkpoints collectively. Usage:
#   launch/local_processes.sh NUM_PROCESSES --config=experiments/dcgan_mnist.py --workdir=runs/x
set -euo pipefail
n=${1:?number of processes}; shift
port=${JAXGAN_PORT:-12355}
pids=()
for ((i = 0; i < n; i++)); do
  python -m jaxgan.main "$@" --coordinator_address="127.0.0.1:${port}" \
    --num_processes="$n" --process_id="$i" &
  pids+=($!)
done
# SIGTERM/SIGINT to this script is forwarded: every process saves at an agreed step and exits 0.
trap 'kill -TERM "${pids[@]}" 2>/dev/null' TERM INT
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
exit "$status"
