"""``python -m nautilus.cli``: the ``nautilus`` command."""

from nautilus.cli import app

app()
