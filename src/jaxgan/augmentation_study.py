"""`python -m jaxgan.augmentation_study --generator=RUN --per_class=N --out=study.json`: a
classifier trained on few labels, with and without a class-conditional GAN's images
(`jaxgan.tools.augmentation_study`)."""

from jaxgan import cli
from jaxgan.tools import augmentation_study

if __name__ == "__main__":
    augmentation_study.define_flags()
    cli.run(augmentation_study.main, "jaxgan.augmentation_study")
