"""`python -m jaxgan.translation_data --task=TASK --out=DIR [--data_dir=DIR] [--image_size=32]`:
writes an offline image-to-image translation benchmark (edges2fashion, thin2thick_mnist,
sneakers2boots) as a paired or unpaired folder (`jaxgan.tools.translation_data`)."""

from jaxgan import cli
from jaxgan.tools import translation_data

if __name__ == "__main__":
    translation_data.define_flags()
    cli.run(translation_data.main, "jaxgan.translation_data")
