"""`python -m jaxgan.report RUN_DIR...`: tables of evaluator records (`jaxgan.tools.report`)."""

from jaxgan import cli
from jaxgan.tools import report

if __name__ == "__main__":
    cli.run(report.main, "jaxgan.report")
