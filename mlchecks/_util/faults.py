"""Fault injection for crash-safety tests: ``MLCHECKS_FAULT=promote:after-copy`` makes the
process SIGKILL itself when it reaches the named point.

Several points may be given, comma-separated. Points are named ``<operation>:<step>``; the
registry documents its own (see :mod:`mlchecks.registry.local`). Costs one environment lookup
per point when unset.
"""

from __future__ import annotations

import os
import signal

ENV = "MLCHECKS_FAULT"


def point(name: str) -> None:
    """SIGKILL this process if ``name`` is listed in ``$MLCHECKS_FAULT``."""
    spec = os.environ.get(ENV)
    if spec and name in (p.strip() for p in spec.split(",")):
        os.kill(os.getpid(), signal.SIGKILL)
