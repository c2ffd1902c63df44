"""Start Rasa with its HTTP API token from the environment, not from the command line.

Runs in Rasa's environment (standard library and Rasa only). ``rasa run
--auth-token X`` would show the token to every local user in ``ps`` and
``/proc/*/cmdline``; the environment of a process is readable only by its owner.
So the supervisor starts ``python -m bot.rasa_main run ...`` with ``RASA_TOKEN``
set, and this adds ``--auth-token`` inside the process.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    token = os.environ.get("RASA_TOKEN", "")
    if not token:
        sys.exit("RASA_TOKEN is not set: Rasa's HTTP API would answer anyone. Set it.")
    # One argument with "=": a random token may start with "-", which argparse would
    # otherwise take for an option ("--auth-token: expected one argument").
    sys.argv = ["rasa", *sys.argv[1:], f"--auth-token={token}"]
    from rasa.__main__ import main as rasa_main

    from bot import rasa_model_loading

    rasa_model_loading.install()  # start-up without tracing a training step
    rasa_main()


if __name__ == "__main__":
    main()
