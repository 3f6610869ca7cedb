"""`python -m jaxgan.report [--floor=FLOOR.jsonl] [--plot=FILE.png] RUN_DIR...`: tables and plots
of evaluator records (`jaxgan.tools.report`)."""

from jaxgan import cli
from jaxgan.tools import report

if __name__ == "__main__":
    cli.run(report.main, "jaxgan.report")
