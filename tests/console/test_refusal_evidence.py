"""Anonymous refusals are aggregated, and the tail of a flood is still written (invariant 6)."""

from __future__ import annotations

import httpx

from tests.console.world import ConsoleWorld


def test_the_count_of_a_stopped_anonymous_flood_reaches_the_audit_after_the_periodic_sweep(
    world: ConsoleWorld,
) -> None:
    for _ in range(5):
        response = httpx.post(world.url + "/control", data={"action": "pause", "csrf": "x"}, timeout=10)
        assert response.status_code == 403
    world.tick(120)
    world.agent.refusals.flush()  # the agent's periodic job (every 10 s) writes the summary

    refused = [
        r.payload
        for r in world.agent.store.audit.records()
        if r.payload.get("endpoint") == "/console/control" and r.actor == "console:anonymous"
    ]
    assert refused[0]["event"] == "console_control_refused"
    assert sum(1 if "repeats" not in p else int(str(p["repeats"])) for p in refused) == 5
