#!/bin/bash
# Session 9's 600-800-step screens of stylegan.py:mnist32 recipes, from the repository root with
# the project installed and JAXGAN_DATA_DIR set:
#   bash docs/results/stylegan_mnist32_screens/screen.sh NAME STEPS [--config.key=value ...]
# waits for other trainings, trains runs/NAME, then prints the pixel std over z of each checkpoint
# (pixstd.py), writes the trained generator's grid to /tmp/NAME.png and probes D (mbstd_probe.py).
set -e
name=$1; steps=$2; shift 2
while pgrep -f "jaxgan.main" >/dev/null; do sleep 5; done
timeout -s TERM 25m python -m jaxgan.main --config=experiments/stylegan.py:mnist32 --workdir=runs/$name \
  --config.num_train_steps=$steps --config.checkpoint_every_steps=200 --config.keep_checkpoints=20 "$@" > runs/$name.log 2>&1
python docs/results/stylegan_mnist32_screens/pixstd.py runs/$name 2>&1 | grep -v WARN > runs/$name.pixstd
python -m jaxgan.sample --workdir=runs/$name --out=/tmp/$name.png --num=64 --generator=params > /dev/null 2>&1
python docs/results/stylegan_mnist32_screens/mbstd_probe.py runs/$name $steps 2>&1 | grep -v WARN | tail -3 > runs/$name.probe
