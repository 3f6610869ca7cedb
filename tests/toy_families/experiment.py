"""The toy image-to-image family on a paired folder (pix2pix's aligned A|B files).

    PYTHONPATH=tests python -m jaxgan.main --config=tests/toy_families/experiment.py \\
        --workdir=DIR --config.dataset.data_dir=PAIRED_FOLDER
"""

from jaxgan import config_lib
from toy_families import translation


def get_config(arg=None):
    c = translation.config()
    config_lib.set_keys(c, {
        "batch_size": 8, "num_train_steps": 4, "log_every_steps": 2,
        "checkpoint_every_steps": 2, "sample_every_steps": 4, "num_sample_images": 4,
        "dataset.image_size": 16, "dataset.channels": 1, "dataset.split": "train",
    })
    return config_lib.finalize(c, arg, {"grow": {"model.grow_step": 2}})
