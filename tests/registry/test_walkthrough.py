"""docs/registry.md's walk-through ("Bringing your hospital's data") and FHIR section, run as written: every
``oligomet`` command of their bash blocks must exit 0, and a ``# ...`` line right after a command is output
that must appear (up to a trailing ``...``)."""
from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from oligomet.cli import app

ROOT = Path(__file__).parents[2]
DOCS = ROOT / "docs" / "registry.md"


def _section(title: str) -> str:
    text = DOCS.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def _commands(section: str) -> list[tuple[str, list[str]]]:
    """(command, expected output lines) of the section's bash blocks, in order."""
    out: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S):
        for line in block.splitlines():
            if line.startswith("oligomet "):
                out.append((line.split("  #")[0].strip(), []))
            elif line.startswith("# ") and out:
                out[-1][1].append(line[2:].split("...")[0].strip())
    return out


@pytest.mark.parametrize("title", ["Bringing your hospital's data", "FHIR R4 / mCODE bundles"])
def test_every_command_of_the_docs_runs_as_written(title, tmp_path, monkeypatch):
    commands = _commands(_section(title))
    assert len(commands) >= 2
    (tmp_path / "tests").symlink_to(ROOT / "tests")      # the docs' paths are relative to the repository
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for command, expected in commands:
        res = runner.invoke(app, shlex.split(command)[1:], env={**os.environ, "COLUMNS": "200"})
        assert res.exit_code == 0, f"{command}\n{res.output}"
        for text in expected:
            assert text in res.output, f"{command}: {text!r} not in\n{res.output}"
