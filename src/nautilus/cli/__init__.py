"""The ``nautilus`` command: one subcommand for every user job.

The top-level app and its stack check live in :mod:`nautilus.cli.root`, the helpers every family shares
(output, errors and exit codes, engine clients, time and value parsing) in :mod:`nautilus.cli.common`, and each
command family in its own module, which registers its commands on the app when imported. They are all imported
here, in one place; their order is the order of ``nautilus --help``.
"""

from __future__ import annotations

# isort: off
from nautilus.cli import stack  # noqa: F401  (each import registers that family's commands)
from nautilus.cli import marketdata  # noqa: F401
from nautilus.cli import keys  # noqa: F401
from nautilus.cli import bench  # noqa: F401
from nautilus.cli import analytics  # noqa: F401
from nautilus.cli import db  # noqa: F401
from nautilus.cli import factor  # noqa: F401
from nautilus.cli import features  # noqa: F401
from nautilus.cli import strategy  # noqa: F401
from nautilus.cli import ml  # noqa: F401
from nautilus.cli import portfolio  # noqa: F401
from nautilus.cli import risk  # noqa: F401
from nautilus.cli import sources  # noqa: F401
from nautilus.cli import stream  # noqa: F401
# isort: on
from nautilus.cli.root import app, main

__all__ = ["app", "main"]
