"""Counts what the reliability tests tried; `conftest.py` prints one summary line at the end."""

from __future__ import annotations

COUNTS = {"bad inputs tried": 0, "faults injected": 0, "data lost": 0}


def bad_input(n: int = 1) -> None:
    COUNTS["bad inputs tried"] += n


def fault(n: int = 1) -> None:
    COUNTS["faults injected"] += n


def lost(n: int = 1) -> None:
    COUNTS["data lost"] += n
