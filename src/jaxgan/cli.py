"""What every jaxgan command does the same way: quiet library logs, flag errors and user errors
as one line on stderr with exit status 2."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable

from absl import app
from absl import logging as absl_logging

from jaxgan import config_lib
from jaxgan.errors import UserError


def run(main: Callable[[list[str]], None], prog: str) -> None:
    def wrapped(argv: list[str]) -> None:
        absl_logging.set_verbosity(absl_logging.WARNING)
        try:
            main(argv)
        except UserError as e:
            print(f"{prog}: error: {e}", file=sys.stderr)
            sys.exit(2)

    app.run(wrapped, flags_parser=functools.partial(config_lib.parse_flags_or_exit, prog=prog))
