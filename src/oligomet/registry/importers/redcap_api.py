"""The REDCap API as a source, next to file exports (issue 15 part 2): plain HTTPS, standard library only.

``download_export(url, token, folder)`` asks the project for what a user would export by hand and
writes it into ``folder`` under REDCap's own file names, so that the export is then read, hashed into
the import's provenance and kept exactly as a file export is:

* ``<project>_DATA_<date>.csv``: the records (flat, raw codes, data access groups);
* ``<project>_DataDictionary_<date>.csv``: the metadata, which decodes the raw choice codes;
* for a longitudinal project also ``<project>_Events_<date>.csv`` and
  ``<project>_InstrumentDesignations_<date>.csv`` (events and which instruments each event holds).

The token is a password to the whole project: it travels only in the POST body, is refused over
plain HTTP except to a loopback address (a local test server), and no message, exception or file
written here contains it.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import json
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

TIMEOUT = 120.0   # seconds: a large project's record export takes a while


class RedcapApiError(RuntimeError):
    """The API could not be used; the message says why and what to do (and never holds the token)."""


def read_token(path: Path) -> str:
    token = Path(path).read_text(encoding="utf-8").strip()
    if not re.fullmatch(r"[0-9A-Fa-f]{32}(?:[0-9A-Fa-f]{32})?", token):
        # REDCap tokens are 32 hex digits (64 for super tokens); say so without echoing the file
        raise RedcapApiError(f"{path} does not hold a REDCap API token (32 hexadecimal characters); copy the "
                             "token from the project's 'API' page into the file, alone on its line")
    return token


def _check_url(url: str) -> None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https":
        return
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme == "http" and loopback:
        return
    raise RedcapApiError(f"the REDCap API URL must be https:// (got {parts.scheme or 'no'} scheme for host "
                         f"{host or '?'}): the token would travel unencrypted. Use the URL shown on the project's "
                         "'API Playground' page, e.g. https://redcap.example.org/api/")


def _post(url: str, token: str, fields: dict[str, str], timeout: float) -> bytes:
    body = urllib.parse.urlencode({"token": token, **fields}).encode("ascii")
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded",
                                              "Accept": "text/csv, application/json"})
    context = ssl.create_default_context() if url.startswith("https://") else None
    what = fields.get("content", "?")
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        detail = _server_error(exc.read())
        hint = {401: "the server refused the token", 403: "the token has no API export right on this project "
                "(ask the project's administrator for 'API Export')"}.get(exc.code, "see the server's message")
        raise RedcapApiError(f"REDCap API export of {what!r} failed with HTTP {exc.code}: {hint}"
                             f"{f' ({detail})' if detail else ''}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RedcapApiError(f"cannot reach the REDCap API at {url} ({reason}); check the URL and the network"
                             ) from None


def _server_error(raw: bytes) -> str:
    """REDCap's error body (``{"error": "..."}``), cut short; never anything we sent."""
    text = raw.decode("utf-8", errors="replace").strip()
    with contextlib.suppress(ValueError, AttributeError):   # not JSON, or not an object: the text as it came
        text = str(json.loads(text).get("error", text))
    return text[:200]


def _project_name(info: dict) -> str:
    title = str(info.get("project_title") or f"project{info.get('project_id', '')}")
    return re.sub(r"[^A-Za-z0-9]+", "", title.title()) or "REDCapProject"


def download_export(url: str, token: str, folder: Path, *, timeout: float = TIMEOUT,
                    today: dt.datetime | None = None) -> Path:
    """Export the project into ``folder``; returns the records file (read it as a REDCap export)."""
    _check_url(url)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    raw_info = _post(url, token, {"content": "project", "format": "json", "returnFormat": "json"}, timeout)
    try:
        info = json.loads(raw_info)
    except ValueError:
        raise RedcapApiError(f"{url} did not answer as a REDCap API (its answer to 'project' is not JSON); check "
                             "that the URL ends in /api/") from None
    stamp = (today or dt.datetime.now()).strftime("%Y-%m-%d_%H%M")
    name = _project_name(info)
    records = _post(url, token, {"content": "record", "format": "csv", "type": "flat", "rawOrLabel": "raw",
                                 "rawOrLabelHeaders": "raw", "exportCheckboxLabel": "false",
                                 "exportDataAccessGroups": "true", "returnFormat": "json"}, timeout)
    metadata = _post(url, token, {"content": "metadata", "format": "csv", "returnFormat": "json"}, timeout)
    out = folder / f"{name}_DATA_{stamp}.csv"
    out.write_bytes(records)
    (folder / f"{name}_DataDictionary_{stamp[:10]}.csv").write_bytes(metadata)
    if str(info.get("is_longitudinal", "0")) in ("1", "True", "true"):
        for content, label in (("event", "Events"), ("formEventMapping", "InstrumentDesignations")):
            data = _post(url, token, {"content": content, "format": "csv", "returnFormat": "json"}, timeout)
            (folder / f"{name}_{label}_{stamp[:10]}.csv").write_bytes(data)
    return out
