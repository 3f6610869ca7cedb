"""`python -m jaxgan.bench --config=experiments/NAME.py`: train-step speed on synthetic data
(`jaxgan.tools.bench`)."""

from jaxgan import cli
from jaxgan.tools import bench

if __name__ == "__main__":
    cli.run(bench.main, "jaxgan.bench")
