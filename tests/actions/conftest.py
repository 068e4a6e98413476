"""A simulated cluster over HTTP per test, a manual clock shared with it, and a fake snapshot keeper."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

from actions.base import ActionContext, ActionLimits, Outcome, Precondition
from actions.kube import Kube, RetryPolicy
from actions.preconditions import judge
from actions.registry import get_action
from agent.evaluate import NoHistory, UnknownAlerts
from risk.model import Proposal
from risk.probes import probe
from simcluster.clock import ManualClock
from simcluster.harness import RunningSim, running_sim
from tests.actions import objects

Obj = dict[str, Any]
FAST = RetryPolicy(attempts=2, max_delay_seconds=1.0, initial_backoff_seconds=0.01, max_backoff_seconds=0.02)


class StopBeforeRealWrite(Exception):
    """Raised by DryRunOnlyKube where the real write would have gone."""


class RecordingKube(Kube):
    """A Kube that records each write as (verb, kind/name, dry_run); `dry_run_only` stops real writes."""

    dry_run_only = False
    writes: list[tuple[str, str, bool]]

    def _note(self, verb: str, what: str, dry_run: bool) -> None:
        if not hasattr(self, "writes"):
            self.writes = []
        self.writes.append((verb, what, dry_run))
        if self.dry_run_only and not dry_run:
            raise StopBeforeRealWrite(f"{verb} {what}")

    def create(self, kind: str, body: Obj, namespace: str | None = None, *, dry_run: bool = False) -> Obj:
        self._note("create", f"{kind}/{body['metadata']['name']}", dry_run)
        return super().create(kind, body, namespace, dry_run=dry_run)

    def replace(self, kind: str, name: str, body: Obj, namespace: str | None = None, *, dry_run: bool = False) -> Obj:
        self._note("replace", f"{kind}/{name}", dry_run)
        return super().replace(kind, name, body, namespace, dry_run=dry_run)

    def patch(self, kind: str, name: str, patch: Any, namespace: str | None = None, **kw: Any) -> Obj:
        self._note("patch", f"{kind}/{name}", bool(kw.get("dry_run")))
        return super().patch(kind, name, patch, namespace, **kw)

    def delete(self, kind: str, name: str, namespace: str | None = None, *, dry_run: bool = False) -> Obj:
        self._note("delete", f"{kind}/{name}", dry_run)
        return super().delete(kind, name, namespace, dry_run=dry_run)

    def evict(self, name: str, namespace: str, *, dry_run: bool = False) -> None:
        self._note("evict", f"Pod/{name}", dry_run)
        super().evict(name, namespace, dry_run=dry_run)


@dataclass
class FakeKeeper:
    """What the agent's snapshot keeper does: versions of objects with the time each was recorded."""

    clock: ManualClock
    versions: list[tuple[str, str, str, datetime, Obj]] = field(default_factory=list)

    def record(self, obj: Obj) -> None:
        meta = obj["metadata"]
        self.versions.append((obj["kind"], meta["namespace"], meta["name"], self.clock.now(), copy.deepcopy(obj)))

    def version_before(self, kind: str, namespace: str, name: str, before: datetime) -> Obj | None:
        found = [v for k, ns, n, at, v in self.versions if (k, ns, n) == (kind, namespace, name) and at < before]
        return copy.deepcopy(found[-1]) if found else None


@dataclass
class Env:
    """One test's cluster: the sim, an adapter over HTTP, the shared clock and the keeper."""

    sim: RunningSim
    kube: RecordingKube
    clock: ManualClock
    keeper: FakeKeeper
    limits: ActionLimits = field(default_factory=ActionLimits)

    def ctx(self, *, kube: Kube | None = None) -> ActionContext:
        return ActionContext(
            kube=kube or self.kube,
            clock=self.clock.now,
            snapshots=self.keeper,
            limits=self.limits,
            sleep=self.tick,
        )

    def tick(self, seconds: float = 1.0) -> None:
        self.sim.cluster.tick(seconds)

    def settle(self, passes: int = 15, seconds: float = 2.0) -> None:
        for _ in range(passes):
            self.tick(seconds)

    def create(self, body: Obj) -> Obj:
        return self.kube.create(body["kind"], body, body["metadata"].get("namespace"))

    @property
    def revision(self) -> int:
        """The store's resourceVersion: it moves on every write and only then."""
        return self.sim.cluster.store.resource_version

    def dry_run_only(self) -> RecordingKube:
        kube = RecordingKube.from_url(self.sim.url, retry=FAST)
        assert isinstance(kube, RecordingKube)
        kube.dry_run_only = True
        return kube

    def judge(self, action: str, params: dict[str, Any]) -> dict[str, Precondition]:
        """Probe the cluster as the risk layer does and judge the action's preconditions, by name."""
        impl = get_action(action)
        parsed = impl.parse(params)
        now = self.clock.now()
        proposal = Proposal(impl.name, parsed, impl.target(parsed), now)
        facts = probe(
            proposal, reader=self.kube, history=NoHistory(), alerts=UnknownAlerts(), now=now, snapshots=self.keeper
        )
        return {c.name: c for c in judge(impl, facts, parsed, self.limits).checks}

    def run(self, action: str, params: dict[str, Any]) -> tuple[Outcome, Any]:
        """Parse and execute an invocation; returns the outcome and the parsed params."""
        impl = get_action(action)
        parsed = impl.parse(params)
        return impl.execute(self.ctx(), parsed), parsed


@pytest.fixture
def env() -> Iterator[Env]:
    clock = ManualClock()
    with running_sim("bare", clock=clock) as sim:
        kube = RecordingKube.from_url(sim.url, retry=FAST)
        assert isinstance(kube, RecordingKube)
        kube.writes = []
        environment = Env(sim, kube, clock, FakeKeeper(clock))
        if kube.try_get("Namespace", objects.NS) is None:
            environment.create(objects.namespace())
        if not kube.list("Node"):
            for name in ("node-1", "node-2", "node-3"):
                kube.create("Node", objects.node(name))
        environment.tick()
        yield environment
        kube.close()
