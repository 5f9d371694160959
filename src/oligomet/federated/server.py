"""A federated run on a real vantage6 installation, through vantage6's own user client (vantage6-client 5.x).

The federation file says where and as whom::

    server:
      url: https://hq.example.org     # vantage6 HQ
      port: 443
      api_path: /hq
      auth_url: https://auth.example.org   # its Keycloak (vantage6 5.x authenticates there)
      collaboration: 1
      organizations: [3, 4, 5]          # the central task runs at the first
      image: harbor.example.org/oligomet/algorithm:0.1
      username: analyst-svc             # a vantage6 service account
      password_file: analyst.secret     # or password_env: OLIGOMET_V6_SECRET

``run_server`` does by code what the analyst would do by hand: authenticate, open a session, create the
``central`` task with the same arguments as the mock run (protocol text, format, plan), wait, and return
its output. The network is all in this module; it is given the client class so that tests can run it
with a fake transport. The password is read when needed and never logged or put in a message.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .._file_problems import validation_problems
from .._yaml import load_yaml, pretty_loc

SECRET_KEYS = ("password_file", "password_env")


class FederationError(ValueError):
    """A federation-file problem: ``problems`` is a list of (field path, line or None, message)."""

    def __init__(self, path: str | Path, problems: list[tuple[str, int | None, str]]):
        self.path, self.problems = str(path), problems
        lines = [f"{self.path}:{line if line is not None else '?'}: {field}: {msg}" for field, line, msg in problems]
        super().__init__(f"invalid federation file ({len(problems)} problem{'s' if len(problems) != 1 else ''}):\n"
                         + "\n".join(lines))


class ServerConfig(BaseModel):
    """Where the vantage6 HQ is, which collaboration and organisations, which image, and as whom."""
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(pattern=r"^https?://[^\s/]+$", description="scheme and host, no path")
    port: int = Field(ge=1, le=65535)
    api_path: str = Field(default="", pattern=r"^(/[\w.\-/]*)?$")
    auth_url: str = Field(pattern=r"^https?://\S+$")
    collaboration: int = Field(ge=1)
    organizations: list[int] = Field(min_length=1)
    image: str = Field(min_length=1, pattern=r"^\S+$")
    username: str = Field(min_length=1)
    password_file: str | None = None
    password_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    session: int | None = Field(default=None, ge=1, description="an existing session; default: a new one")
    private_key: str | None = Field(default=None, description="for an encrypted collaboration")
    interval: float = Field(default=2.0, gt=0, description="seconds between status polls")

    @model_validator(mode="after")
    def _one_secret(self):
        if (self.password_file is None) == (self.password_env is None):
            raise ValueError("give exactly one of password_file (a file holding the secret) or password_env "
                             "(the name of an environment variable holding it)")
        if len(set(self.organizations)) != len(self.organizations):
            raise ValueError("organizations lists an organisation twice")
        return self

    @property
    def hq_url(self) -> str:
        return f"{self.url}:{self.port}{self.api_path}"

    def __repr__(self) -> str:   # the secret's location is harmless, but keep the repr short and safe
        return f"ServerConfig(hq={self.hq_url!r}, collaboration={self.collaboration}, image={self.image!r})"


class FileFederation(BaseModel):
    """A federation file: ``server:`` (this module) or ``mock:`` (``mock.py``), and ``exact_times``."""
    model_config = ConfigDict(extra="forbid", frozen=True)

    server: ServerConfig | None = None
    mock: str | list[str] | None = None
    exact_times: bool = False

    @model_validator(mode="after")
    def _one_kind(self):
        if (self.server is None) == (self.mock is None):
            raise ValueError("give exactly one of server: (a vantage6 installation) or mock: (a folder per site)")
        return self


def _unknown(loc: tuple) -> str:
    model = ServerConfig if loc[:1] == ("server",) else FileFederation
    return f"unknown key {loc[-1]!r}; allowed: {', '.join(model.model_fields)}"


def read_federation(path: str | Path) -> FileFederation:
    """Parse and validate a federation file; every problem at once, as ``file:line: field: message``."""
    path = Path(path)
    data, lines, problems = load_yaml(path.read_text(encoding="utf-8"), "federation file")
    if problems:
        raise FederationError(path, problems)
    if not isinstance(data, dict):
        raise FederationError(path, [("(top level)", 1, "a federation file is a mapping with server: or mock:")])
    try:
        fed = FileFederation.model_validate(data)
    except ValidationError as exc:
        raise FederationError(path, validation_problems(exc, lines, unknown=_unknown)) from None
    if fed.server is not None and fed.server.password_file is not None:
        secret = (path.parent / fed.server.password_file)
        if not secret.is_file():
            raise FederationError(path, [(pretty_loc(("server", "password_file")),
                                          lines.get(("server", "password_file")),
                                          f"no such file: {secret}; write the service account's secret there")])
    return fed


def _secret(cfg: ServerConfig, base: Path) -> str:
    if cfg.password_env is not None:
        value = os.environ.get(cfg.password_env)
        if not value:
            raise RuntimeError(f"the environment variable {cfg.password_env} (server.password_env) is not set")
        return value
    return (base / cfg.password_file).read_text(encoding="utf-8").strip()


def _outputs(raw) -> list[dict]:
    """Results as vantage6 5.x HQ gives them (``{"data": [{"result": "<json>"}...]}``) or already decoded."""
    if isinstance(raw, dict) and "data" in raw:
        raw = [r["result"] for r in raw["data"]]
    return [json.loads(r) if isinstance(r, (str, bytes)) else r for r in raw]


def _setup_encryption(client, cfg: ServerConfig, base: Path) -> None:
    """vantage6-client 5.0's ``setup_encryption`` needs ``whoami``, which only its interactive login fills
    (a service account's leaves it None); that login also sets the no-encryption cryptor by default, so a
    service account on an unencrypted collaboration gets the same here."""
    if cfg.private_key is None:
        if getattr(client, "cryptor", None) is None:
            from vantage6.common.encryption import DummyCryptor

            client.cryptor = DummyCryptor()
        return
    if getattr(client, "whoami", None) is None:
        raise RuntimeError("server.private_key: vantage6-client 5.0 sets up encryption only after an interactive "
                           "login, not for a service account; use an unencrypted collaboration or a newer client")
    client.setup_encryption(str(base / cfg.private_key))


def run_server(protocol: str, fmt: str, cfg: ServerConfig, plan: dict, base: str | Path = ".",
               client_class=None) -> tuple[dict, list[dict]]:
    """Run the study's ``central`` task on a vantage6 HQ; returns (its output, []): the sites' messages
    stay in each node's own message log, not with the analyst.

    ``client_class``: vantage6's ``UserClient`` (default) or a class with the same methods."""
    if client_class is None:
        from vantage6.client import UserClient as client_class
    client = client_class(hq_url=cfg.hq_url, auth_url=cfg.auth_url, log_level="WARN")   # vantage6 sets the root logger
    client.initialize_service_account(client_secret=_secret(cfg, Path(base)), username=cfg.username)
    client.authenticate_service_account()
    _setup_encryption(client, cfg, Path(base))
    client.setup_collaboration(cfg.collaboration)
    session = cfg.session or client.session.create(scope="own", name="oligomet",
                                                   collaboration=cfg.collaboration)["id"]
    task = client.task.create(organizations=cfg.organizations[:1], name="oligomet central", image=cfg.image,
                              description="oligomet federated study (central)", method="central",
                              arguments={"protocol": protocol, "fmt": fmt, "plan": plan}, session=session,
                              collaboration=cfg.collaboration, databases=[])
    if "id" not in task:
        raise RuntimeError(f"vantage6 HQ refused the task: {task.get('msg', task)}")
    outs = _outputs(client.wait_for_results(task["id"], interval=cfg.interval))
    if len(outs) != 1:
        raise RuntimeError(f"the central task returned {len(outs)} results, expected 1")
    (out,) = outs
    if "error" in out:
        raise RuntimeError(f"the federated study failed: {out['error']}")
    return out, []
