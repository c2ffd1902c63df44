"""bot.rasa_main hands Rasa its API token from the environment.

A token from ``secrets.token_urlsafe`` starts with "-" about once in 64 runs; passed as
a separate argument, argparse took it for an option and Rasa exited with code 2
("--auth-token: expected one argument"), which failed a browser test at random.
"""

from __future__ import annotations

import argparse
import sys

import pytest

from bot import rasa_main


@pytest.mark.parametrize("token", ["-starts-with-a-dash", "plain-token_0123456789"])
def test_the_token_reaches_rasa_whatever_its_first_character(
    token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rasa.cli.arguments import run as run_arguments

    seen: list[list[str]] = []
    monkeypatch.setenv("RASA_TOKEN", token)
    monkeypatch.setattr(sys, "argv", ["python", "run", "--enable-api", "--port", "5005"])
    monkeypatch.setattr("rasa.__main__.main", lambda: seen.append(list(sys.argv)))
    rasa_main.main()
    # Rasa's own parser for `rasa run` reads the token back unchanged.
    parser = argparse.ArgumentParser()
    run_arguments.set_run_arguments(parser)
    parsed = parser.parse_args(seen[0][2:])
    assert parsed.auth_token == token
