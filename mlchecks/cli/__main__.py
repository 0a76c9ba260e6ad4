"""``python -m mlchecks.cli``: the ``mlchecks`` command."""

import sys

from mlchecks.cli import main

sys.exit(main())
