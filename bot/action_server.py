"""Start rasa-sdk's action server after loading the knowledge base.

Loading tokenizes every question variant (a few seconds for the starter
knowledge base); doing it before the server answers its health check means
the supervisor waits for it, not the first buyer who asks a question.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> None:
    from rasa_sdk.__main__ import main_from_args
    from rasa_sdk.endpoint import create_argument_parser

    from actions.dependencies import knowledge

    args = create_argument_parser().parse_args(argv)
    knowledge().current()
    main_from_args(args)


if __name__ == "__main__":
    main(sys.argv[1:])
