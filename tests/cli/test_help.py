"""``--help`` of every subcommand (issue 15, item 13): each option that takes a value names what
to give and in which unit (``--min-accuracy FRACTION``, ``--max-accuracy-drop PP``), never the
option's own name again (``--min-accuracy MIN_ACCURACY``)."""

from __future__ import annotations

import argparse

import pytest

from mlchecks.cli import build_parser, main


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found = dict(action.choices)
    for name, sub in list(found.items()):  # registry list|show|...
        for inner in sub._actions:
            if isinstance(inner, argparse._SubParsersAction):
                found.update({f"{name} {k}": v for k, v in inner.choices.items()})
    return found


def test_every_option_metavar_says_what_to_give():
    echoes = []
    for command, sub in _subparsers().items():
        for action in sub._actions:
            if not action.option_strings or action.nargs == 0 or action.choices:
                continue
            metavar = action.metavar
            if metavar is None or metavar == action.dest.upper():
                echoes.append(f"{command} {action.option_strings[-1]} {metavar or action.dest}")
    assert not echoes, "options whose metavar repeats their name:\n" + "\n".join(echoes)


@pytest.mark.parametrize(("option", "metavar"), [
    ("--min-accuracy", "FRACTION"), ("--max-accuracy-drop", "PP"), ("--max-forgetting", "PP"),
    ("--speed-tolerance", "FRACTION"), ("--max-loss", "NATS"), ("--seeds", "K"),
    ("--registry", "DIR"), ("--json", "FILE"), ("--summary", "FILE"),
])  # fmt: skip
def test_gate_help_shows_units(capsys, option, metavar):
    with pytest.raises(SystemExit):
        main(["gate", "--help"])
    assert f"{option} {metavar}" in capsys.readouterr().out
