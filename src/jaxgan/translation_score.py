"""`python -m jaxgan.translation_score --workdir=RUN[,RUN...] --data=DIR [--network=G_A]
[--identity] [--sheet=FILE.png]`: scores image-to-image runs on a benchmark written by
`python -m jaxgan.translation_data` (`jaxgan.tools.translation_score`)."""

from jaxgan import cli
from jaxgan.tools import translation_score

if __name__ == "__main__":
    translation_score.define_flags()
    cli.run(translation_score.main, "jaxgan.translation_score")
