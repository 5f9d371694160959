"""The REDCap API as a source (issue 15 part 2). No REDCap server runs here: a stub HTTP server on the loopback
answers the API's export calls with recorded exports (tests/data/redcap and tests/data/redcap/api), checking the
token and the parameters as REDCap would."""
from __future__ import annotations

import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from test_redcap_exports import _only_without_adverse_events, _same
from typer.testing import CliRunner

from oligomet.cli import app
from oligomet.registry import check_registry, read_registry
from oligomet.registry.importers.redcap_api import RedcapApiError, download_export, read_token

REDCAP = Path(__file__).parents[1] / "data" / "redcap"
API = REDCAP / "api"
TOKEN = "8E66DB6844D58E990075AFB51658A002"

#: project -> {API content: recorded answer}
PROJECTS = {
    "flat": {"project": API / "OligoMet_project.json", "record": REDCAP / "OligoMet_DATA_2024-05-01_1010.csv",
             "metadata": API / "OligoMet_metadata.csv"},
    "longitudinal": {"project": API / "OligoMetLong_project.json",
                     "record": REDCAP / "OligoMetLong_DATA_2024-05-01_1012.csv",
                     "metadata": API / "OligoMetLong_metadata.csv", "event": API / "OligoMetLong_events.csv",
                     "formEventMapping": API / "OligoMetLong_formEventMapping.csv"},
}


class _Stub(BaseHTTPRequestHandler):
    project: dict = {}
    seen: list = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        length = int(self.headers.get("Content-Length", 0))
        form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode("ascii")))
        type(self).seen.append({"path": self.path, "form": form})
        if form.get("token") != TOKEN:
            return self._answer(403, b'{"error": "You do not have permissions to use the API"}')
        recorded = self.project.get(form.get("content"))
        if recorded is None or (form["content"] == "record" and (form.get("type"), form.get("rawOrLabel"))
                                != ("flat", "raw")):
            return self._answer(400, b'{"error": "The value of the parameter \\"content\\" is not valid"}')
        self._answer(200, recorded.read_bytes())

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):   # quiet test output
        pass


@pytest.fixture
def redcap():
    """Start the stub on a free loopback port; yields (url for a project name, the requests seen)."""
    handler = type("Handler", (_Stub,), {"project": {}, "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def url(project: str) -> str:
        handler.project = PROJECTS[project]
        return f"http://127.0.0.1:{server.server_address[1]}/api/"
    yield url, handler.seen
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def clean():
    tables, report = read_registry(REDCAP / "clean")
    assert report.problems.empty
    return tables


@pytest.mark.parametrize("project", ["flat", "longitudinal"])
def test_api_export_reads_to_the_clean_registry(project, redcap, tmp_path, clean):
    url, seen = redcap
    export = download_export(url(project), TOKEN, tmp_path / "export")
    tables, report = check_registry(export)
    _only_without_adverse_events(report.problems)     # the recorded projects predate that instrument
    _same(tables, clean)
    names = sorted(p.name.split("_")[1] for p in (tmp_path / "export").iterdir())
    want = ["DATA", "DataDictionary"] + (["Events", "InstrumentDesignations"] if project == "longitudinal" else [])
    assert names == sorted(want)
    # the token travels in the POST body only, never in the URL
    assert all(r["form"]["token"] == TOKEN and TOKEN not in r["path"] for r in seen)
    assert [r["form"]["content"] for r in seen][:3] == ["project", "record", "metadata"]


def test_cli_import_from_the_api_never_prints_the_token(redcap, tmp_path, clean):
    from oligomet.registry import Store

    url, _ = redcap
    token_file = tmp_path / "token.txt"
    token_file.write_text(TOKEN + "\n", encoding="utf-8")
    db = tmp_path / "r.sqlite"
    res = CliRunner().invoke(app, ["registry", "import", str(tmp_path / "export"), "--db", str(db),
                                   "--redcap-url", url("flat"), "--redcap-token-file", str(token_file)])
    assert res.exit_code == 0, res.output
    assert TOKEN not in res.output and TOKEN.lower() not in res.output
    with Store(db) as store:
        files = set(store.import_files()["file"])
        _same(store.load(), clean, ["patients", "lesions", "treatments"])
    assert {f.split("_")[1] for f in files} == {"DATA", "DataDictionary"}


def test_refused_token_is_one_clear_line_without_the_token(redcap, tmp_path):
    url, _ = redcap
    wrong = "0" * 32
    token_file = tmp_path / "token.txt"
    token_file.write_text(wrong, encoding="utf-8")
    res = CliRunner().invoke(app, ["registry", "validate", str(tmp_path / "export"),
                                   "--redcap-url", url("flat"), "--redcap-token-file", str(token_file)])
    assert res.exit_code == 2
    assert "HTTP 403" in res.output and "API Export" in res.output and wrong not in res.output


def test_token_file_and_url_are_checked_before_anything_is_sent(tmp_path):
    bad = tmp_path / "token.txt"
    bad.write_text("my password\n", encoding="utf-8")
    with pytest.raises(RedcapApiError, match="32 hexadecimal") as exc:
        read_token(bad)
    assert "password" not in str(exc.value)
    with pytest.raises(RedcapApiError, match="https://"):
        download_export("http://redcap.example.org/api/", TOKEN, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_unreachable_server_is_reported(tmp_path):
    with pytest.raises(RedcapApiError, match="cannot reach the REDCap API"):
        download_export("http://127.0.0.1:9/api/", TOKEN, tmp_path / "x", timeout=5)
