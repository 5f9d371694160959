"""The ``oligomet`` command line: a thin typer shell over ``study/`` and ``registry/``.

Each command group lives in its own module; errors are one clear line unless ``--debug``.
"""
from __future__ import annotations

import typer

from . import board as _board
from . import registry as _registry
from . import study as _study
from . import synth as _synth

app = typer.Typer(help="oligomet: registry, endpoints and survival analyses for metastasis cohort studies.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
app.add_typer(_registry.app, name="registry", help="Validate and import registry data.")
app.add_typer(_board.app, name="board", help="Tumor-board sheets, the decision record, rule-set checks.")
_study.register(app)
_synth.register(app)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        from .. import __version__
        try:   # the installed distribution's version; the package constant when run from a source tree
            installed = version("oligomet")
        except PackageNotFoundError:
            installed = __version__
        typer.echo(f"oligomet {installed}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """oligomet: registry, endpoints and survival analyses for metastasis cohort studies."""


def main() -> None:
    app()
