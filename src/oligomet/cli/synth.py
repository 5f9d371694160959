"""``oligomet synth``: write the synthetic multicenter registry in the interchange format."""
from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    pass
