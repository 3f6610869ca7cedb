"""`python -m jaxgan.synthesize --workdir=RUN --per_class=N --out=DIR_OR_FILE.npz`: a labelled
synthetic dataset from a class-conditional run, as an image folder with class sub-folders or as
arrays, with its provenance (`jaxgan.tools.synthesize`)."""

from jaxgan import cli
from jaxgan.tools import synthesize

if __name__ == "__main__":
    synthesize.define_flags()
    cli.run(synthesize.main, "jaxgan.synthesize")
