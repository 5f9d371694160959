"""``--federated`` with a ``server:`` file: the federation file's validation, and the server path end to end
through vantage6's user-client API with a fake transport (no vantage6 server runs here): the fake answers the
central task by running the algorithm on vantage6's mock network over the synthetic sites."""
from __future__ import annotations

import inspect
import json

import pandas as pd
import pytest

from federated_sites import protocol_text
from oligomet.federated.server import FederationError, read_federation

SECRET = "s3cr3t-never-logged"

SERVER = """\
server:
  url: https://hq.example.org
  port: 443
  api_path: /hq
  auth_url: https://auth.example.org
  collaboration: 7
  organizations: [11, 12]
  image: harbor.example.org/oligomet/algorithm:0.1
  username: analyst
  password_file: analyst.secret
exact_times: true
"""


def _write(tmp_path, text, secret=True):
    if secret:
        (tmp_path / "analyst.secret").write_text(SECRET + "\n")
    f = tmp_path / "federation.yaml"
    f.write_text(text)
    return f


def test_a_server_file_is_read_with_its_hq_url(tmp_path):
    fed = read_federation(_write(tmp_path, SERVER))
    assert fed.server.hq_url == "https://hq.example.org:443/hq" and fed.server.organizations == [11, 12]
    assert fed.exact_times is True and fed.mock is None
    assert SECRET not in repr(fed)


def test_every_problem_of_a_server_file_is_named_with_its_line(tmp_path):
    text = (SERVER.replace("port: 443", "port: 70000").replace("organizations: [11, 12]", "organizations: []")
            .replace("  username: analyst\n", "  username: analyst\n  pasword: x\n"))
    with pytest.raises(FederationError) as err:
        read_federation(_write(tmp_path, text))
    msg = str(err.value)
    assert "3 problems" in msg
    assert f"{tmp_path / 'federation.yaml'}:3: server.port:" in msg
    assert ":7: server.organizations:" in msg
    assert ":10: server.pasword: unknown key 'pasword'; allowed:" in msg and "password_env" in msg


def test_a_server_file_needs_exactly_one_secret_and_the_file_must_exist(tmp_path):
    with pytest.raises(FederationError, match="exactly one of password_file"):
        read_federation(_write(tmp_path, SERVER.replace("  password_file: analyst.secret\n", "")))
    both = SERVER.replace("password_file: analyst.secret", "password_file: analyst.secret\n  password_env: V6_SECRET")
    with pytest.raises(FederationError, match="exactly one of password_file"):
        read_federation(_write(tmp_path, both))
    with pytest.raises(FederationError, match=r"federation.yaml:10: server.password_file: no such file"):
        read_federation(_write(tmp_path / "..", SERVER.replace("analyst.secret", "missing.secret")))


def test_a_federation_file_is_server_or_mock_not_both_nor_aliases(tmp_path):
    with pytest.raises(FederationError, match="exactly one of server"):
        read_federation(_write(tmp_path, SERVER + "mock: sites\n"))
    with pytest.raises(FederationError, match="alias"):
        read_federation(_write(tmp_path, "mock: &a sites\nexact_times: *a\n"))


def _fake_user_client(site_configs, seen: dict):
    """A class with the subset of vantage6 5.x ``UserClient`` that ``server.py`` calls; the central task is
    run on vantage6's mock network (one organisation per site) and answered in HQ's encoded result shape."""
    from vantage6.algorithm.mock import MockNetwork

    from oligomet.federated.mock import MODULE
    from oligomet.federated.node import CONFIG_ENV

    class Sessions:
        def create(self, scope, name=None, collaboration=None, study=None, display=False):
            seen["session"] = (scope, collaboration)
            return {"id": 99, "name": name}

    class Tasks:
        def __init__(self, parent):
            self.parent = parent

        def create(self, organizations, name, image, description, method, arguments=None, session=None,
                   collaboration=None, study=None, store=None, databases=None, action=None):
            assert self.parent.cryptor, "Encryption has not yet been setup!"   # as vantage6's own
            seen["task"] = {"organizations": organizations, "image": image, "method": method, "session": session,
                            "collaboration": collaboration, "arguments": sorted(arguments)}
            net = MockNetwork(module_name=MODULE, datasets=[{"registry": {"database": pd.DataFrame({"_": [0]})}}
                                                            for _ in site_configs])
            for node, cfg in zip(net.nodes, site_configs):
                node.env[CONFIG_ENV] = str(cfg)
            task = net.user_client.task.create(method=method, organizations=[net.organization_ids[0]],
                                               arguments=arguments, databases=[])
            seen["results"] = net.user_client.result.from_task(task["id"])
            return {"id": 5}

    class FakeUserClient:
        def __init__(self, hq_url, auth_url, auth_realm="vantage6", auth_client="public_client", log_level="info"):
            seen["hq"] = (hq_url, auth_url)
            self.session, self.task = Sessions(), Tasks(self)
            self.cryptor = self.whoami = None   # as vantage6's ClientBase; a service-account login sets neither

        def initialize_service_account(self, client_secret, username=None, client_name=None):
            seen["secret"], seen["username"] = client_secret, username

        def authenticate_service_account(self):
            seen["authenticated"] = True

        def setup_encryption(self, private_key_file):
            assert self.whoami.organization_id, "Organization unknown... Did you authenticate?"

        def setup_collaboration(self, collaboration_id):
            seen["collaboration"] = collaboration_id

        def wait_for_results(self, task_id, interval=1):
            assert task_id == 5
            return {"data": [{"id": 1, "result": json.dumps(r)} for r in seen["results"]], "links": {}}

    return FakeUserClient


def test_the_fake_client_has_vantage6_user_client_signatures():
    """The fake must not drift from the real client: same names, same parameters."""
    from vantage6.client import UserClient

    from vantage6.client.subclients.session import SessionSubClient

    fake = _fake_user_client([], {})
    for name in ("__init__", "initialize_service_account", "authenticate_service_account", "setup_encryption",
                 "setup_collaboration", "wait_for_results"):
        assert list(inspect.signature(getattr(fake, name)).parameters) == \
            list(inspect.signature(getattr(UserClient, name)).parameters), name
    client = fake(hq_url="h", auth_url="a")
    real = UserClient(hq_url="h", auth_url="a", log_level="ERROR")   # no network until a request
    assert (client.cryptor, client.whoami) == (real.cryptor, real.whoami) == (None, None)
    for sub, real in ((client.task, UserClient.Task), (client.session, SessionSubClient)):
        assert list(inspect.signature(sub.create).parameters) == \
            list(inspect.signature(real.create).parameters)[1:], real


def test_the_server_path_writes_the_same_report_as_the_mock_run(exact_sites, tmp_path, monkeypatch, capsys,
                                                                caplog):
    import vantage6.client

    from oligomet.federated.cli import run_federated

    proto = tmp_path / "study.yaml"
    proto.write_text(protocol_text(), encoding="utf-8")
    mock_file = tmp_path / "mock.yaml"
    mock_file.write_text(f"mock: {exact_sites[0].parents[1]}\nexact_times: true\n")
    msg_mock, res_mock, out_mock = run_federated(proto, mock_file, tmp_path / "mock")

    seen: dict = {}
    monkeypatch.setattr(vantage6.client, "UserClient", _fake_user_client(exact_sites, seen))
    server = tmp_path / "v6"
    server.mkdir()
    msg_srv, res_srv, out_srv = run_federated(proto, _write(server, SERVER), tmp_path / "server")

    assert seen["hq"] == ("https://hq.example.org:443/hq", "https://auth.example.org")
    assert seen["secret"] == SECRET and seen["username"] == "analyst" and seen["authenticated"]
    assert seen["collaboration"] == 7 and seen["session"] == ("own", 7)
    assert seen["task"] == {"organizations": [11], "image": "harbor.example.org/oligomet/algorithm:0.1",
                            "method": "central", "session": 99, "collaboration": 7,
                            "arguments": ["fmt", "plan", "protocol"]}
    assert out_srv == out_mock and msg_srv.split(";")[0] == msg_mock.split(";")[0]
    assert len(out_srv["sites"]) == 7
    fed_srv, fed_mock = tmp_path / "server" / "federated", tmp_path / "mock" / "federated"
    assert sorted(p.name for p in fed_srv.iterdir()) == sorted(p.name for p in fed_mock.iterdir())
    for f in fed_mock.iterdir():   # every table, the central output and the methods: the same bytes
        assert (fed_srv / f.name).read_bytes() == f.read_bytes(), f.name
    for name in ("flow", "km_medians", "logrank", "cox"):
        assert len(pd.read_csv(fed_srv / f"{name}.csv")) > 0, name
    a = json.loads((tmp_path / "server" / "results.json").read_text())
    b = json.loads((tmp_path / "mock" / "results.json").read_text())
    assert {k: v for k, v in a.items() if k != "provenance"} == {k: v for k, v in b.items() if k != "provenance"}
    printed = capsys.readouterr()
    assert SECRET not in printed.out + printed.err + caplog.text
    assert not any(SECRET in p.read_text(errors="ignore") for p in (tmp_path / "server").rglob("*") if p.is_file())


def test_a_secret_from_the_environment_and_a_private_key_a_service_account_cannot_use(tmp_path, monkeypatch):
    from oligomet.federated.server import run_server

    text = SERVER.replace("password_file: analyst.secret", "password_env: V6_TEST_SECRET\n  private_key: me.pem")
    cfg = read_federation(_write(tmp_path, text, secret=False)).server
    seen: dict = {}
    monkeypatch.delenv("V6_TEST_SECRET", raising=False)
    with pytest.raises(RuntimeError, match="V6_TEST_SECRET .* is not set"):
        run_server("", "yaml", cfg, {}, base=tmp_path, client_class=_fake_user_client([], seen))
    monkeypatch.setenv("V6_TEST_SECRET", SECRET)
    with pytest.raises(RuntimeError, match="server.private_key: .* not for a service account"):
        run_server("", "yaml", cfg, {}, base=tmp_path, client_class=_fake_user_client([], seen))
    assert seen["secret"] == SECRET and "task" not in seen
