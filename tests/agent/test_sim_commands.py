"""`scutum sim inject` and `scutum sim requests` against a running simulated cluster."""

from __future__ import annotations

import http.client
import json

from typer.testing import CliRunner

from agent.commands import app
from simcluster.harness import RunningSim


def _put(sim: RunningSim) -> int:
    host, port = sim.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    body = json.dumps({"metadata": {"name": "app"}, "data": {"k": "v"}})
    connection.request("POST", "/api/v1/namespaces/default/configmaps", body=body)
    status = connection.getresponse().status
    connection.close()
    return status


def test_cli_inject_and_requests(bare_sim: RunningSim) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app, ["sim", "inject", "status", "--status", "503", "--verb", "create", "--count", "1", "--url", bare_sim.url]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["status"] == 503
    assert _put(bare_sim) == 503
    result = runner.invoke(app, ["sim", "requests", "--url", bare_sim.url])
    entries = [json.loads(line) for line in result.output.splitlines()]
    assert any(e["verb"] == "create" and e["status"] == 503 for e in entries)
    result = runner.invoke(app, ["sim", "inject", "--clear", "--url", bare_sim.url])
    assert json.loads(result.output) == {"cleared": 1}
