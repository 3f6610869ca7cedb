"""`python -m jaxgan.sr_compare --workdir=RUN[@STEP][,RUN...] --out=FIG.png [--num=8]`: super-
resolution runs side by side on the same test images, with the LR input, bicubic and the HR
truth (`jaxgan.tools.sr_compare`)."""

from jaxgan import cli
from jaxgan.tools import sr_compare

if __name__ == "__main__":
    sr_compare.define_flags()
    cli.run(sr_compare.main, "jaxgan.sr_compare")
