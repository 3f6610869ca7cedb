"""`python -m jaxgan.anomaly --workdir=RUN --input=FILE_OR_DIR [--out=DIR] [--fpr=0.05]`: scores
images with a trained anomaly model and decides each with a threshold calibrated on held-out
normal images (`jaxgan.tools.anomaly`)."""

from jaxgan import cli
from jaxgan.tools import anomaly

if __name__ == "__main__":
    anomaly.define_flags()
    cli.run(anomaly.main, "jaxgan.anomaly")
