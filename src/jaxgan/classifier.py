"""`python -m jaxgan.classifier --dataset=mnist`: trains the domain classifier behind the
`*_lenet` metrics (`jaxgan.evaluation.classifier`). jaxgan ships trained ones and scores with
them; training reproduces them, or makes others to score with via `--classifier_dir`."""

from jaxgan import cli
from jaxgan.evaluation import classifier

if __name__ == "__main__":
    classifier.define_flags()
    cli.run(classifier.main, "jaxgan.classifier")
