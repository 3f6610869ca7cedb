"""An exclusive lock between processes, for work that must happen once when several jobs start
together: preparing a tfds dataset, computing cached reference statistics. Such jobs are the
processes of one multi-process run on a host, an evaluator started beside its training run, or
parallel test workers; without the lock each would do the work, and two tfds preparations of
one dataset into one directory can fail on the final rename.

POSIX `flock` on a lock file next to the result; on systems without `fcntl` it does not lock.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from jaxgan.errors import UserError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; concurrent first runs may repeat the work
    fcntl = None


@contextlib.contextmanager
def exclusive(path: str) -> Iterator[None]:
    """Holds an exclusive lock on `path` (created if missing) for the `with` block."""
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        file = open(path, "a")  # noqa: SIM115 (closed by the with below)
    except OSError as e:
        raise UserError(f"cannot create the lock file {path}: {e.strerror}; its directory must "
                        "be writable (JAXGAN_TFDS_DIR, JAXGAN_CACHE_DIR choose where)") from None
    with file:
        if fcntl is not None:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(file.fileno(), fcntl.LOCK_UN)
