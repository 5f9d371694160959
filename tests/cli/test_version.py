"""``oligomet --version`` prints the package version and runs no command."""
from typer.testing import CliRunner

import oligomet
from oligomet.cli import app


def test_version_flag_prints_the_package_version():
    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0
    assert res.output.strip() == f"oligomet {oligomet.__version__}"


def test_commands_still_dispatch_after_the_root_callback():
    res = CliRunner().invoke(app, ["validate-protocol", "--help"])
    assert res.exit_code == 0 and "PROTOCOL" in res.output.upper()
