"""``python -m smoothcli``: the same as the ``smooth`` console script."""

import os
import sys

from smoothcli.cli import main

try:
    main()
except SystemExit as e:
    if e.code != 130:
        raise
    # Interrupted, and answered with the line and 130.  CPython: a KeyboardInterrupt that ended a
    # string exec/eval (dataclasses, namedtuple and typing build code that way while smooth
    # imports) sets a flag that catching the exception does not clear, and with ``python -m``
    # the interpreter then ends by SIGINT after its clean-up (status -2, no message).  Leave
    # with the status decided instead, once the streams are flushed.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a closed or full stream: the status still holds
            pass
    os._exit(130)
