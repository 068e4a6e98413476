"""Any interleaving of decisions, approvals, expiries, runs, verifications, resolutions, pauses,
resumes and restarts keeps the incident lifecycle honest: pressure counts only incidents that are
truly open, open work always belongs to an incident in hand (so a verified incident is never
acted on again), and a restart rebuilds exactly the incidents the store holds open.

The pipeline's routing is modelled here in a few lines (what it records, in the order it records
it); the lifecycle, the store and the approval queue are the real ones."""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from agent.intake import Alert, Intake
from agent.intake.alerts import AlertSource
from agent.lifecycle import IncidentLifecycle
from agent.pipeline import alert_json
from agent.store import ExecutionState, IncidentStatus, Store
from agent.store.incident_work import OPEN_REQUEST_STATES, UNFINISHED_EXECUTION_STATES
from approvals.authz import ApproverPolicy
from approvals.model import ApprovalState, VoteChannel, VoteDecision
from approvals.queue import ApprovalQueue
from approvals.settings import ApprovalSettings
from tests.approvals.conftest import proposal, risk

S = IncidentStatus
APPROVALS = ApprovalSettings(cli_approvers=("oncall",), timeout_seconds=600.0)
OUTCOMES = st.sampled_from(["execute", "approve", "escalate"])


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class IncidentLifecycleMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp())
        self.clock = Clock()
        self.store = Store.connect(f"sqlite:///{self.dir / 'scutum.db'}", clock=self.clock)
        self.store.upgrade()
        self.queue = ApprovalQueue(
            self.store.approvals, APPROVALS, policy=ApproverPolicy(APPROVALS), audit=lambda event, details: None
        )
        self._boot()
        self.count = 0
        self.verified_once: set[str] = set()

    def _boot(self) -> None:
        self.intake = Intake()
        self.lifecycle = IncidentLifecycle(self.store, self.intake, clock=self.clock)
        self.lifecycle.rebuild()

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- the pipeline, as it records a decision ---------------------------------------

    def _route(self, incident_id: str, outcome: str) -> None:
        stored = self.store.incidents.get(incident_id)
        assert stored is not None
        if stored.status is S.HANDLING and self.lifecycle.settle(incident_id) is S.HANDLING:
            self.intake.mark_decided(incident_id)  # rejoined: its work is still in hand
            return
        self.store.incidents.transition(incident_id, S.OPEN)
        if self.store.control.get().paused:
            self.store.incidents.transition(incident_id, S.HELD)
        elif outcome == "execute":
            self.store.executions.create(
                action="scale_workload", params={}, target_kind="Deployment", target_name="web", incident_id=incident_id
            )
            self.store.incidents.transition(incident_id, S.HANDLING)
            self.lifecycle.settle(incident_id)
        elif outcome == "approve":
            self.queue.request(
                proposal(), risk(0.5), incident_id=incident_id, incident_summary="s", threshold=0.3, now=self.clock()
            )
            self.store.incidents.transition(incident_id, S.HANDLING)
        else:
            self.store.incidents.transition(incident_id, S.ESCALATED)
        self.intake.mark_decided(incident_id)

    # --- rules -------------------------------------------------------------------------

    @rule(outcome=OUTCOMES)
    def alert_fires_and_is_decided(self, outcome: str) -> None:
        self.count += 1
        alert = Alert(
            fingerprint=f"fp{self.count}",
            name="KubePodCrashLooping",
            labels={"alertname": "KubePodCrashLooping", "namespace": "shop", "pod": f"web-{self.count}"},
            annotations={},
            starts_at=self.clock(),
            ends_at=None,
            firing=True,
            suppressed=False,
            source=AlertSource.POLL,
        )
        (incident,) = self.intake.ingest([alert], now=self.clock()).new
        self.store.incidents.open(
            alert.fingerprint,
            incident_id=incident.id,
            alerts=[alert_json(alert)],
            started_at=alert.starts_at,
            group_key=incident.group_key,
        )
        self._route(incident.id, outcome)

    @precondition(lambda self: bool(self.intake.undecided()))
    @rule(outcome=OUTCOMES)
    def undecided_incidents_are_decided_on_the_next_batch(self, outcome: str) -> None:
        for incident in self.intake.undecided():
            self._route(incident.id, outcome)

    @rule(approve=st.booleans())
    def oncall_votes(self, approve: bool) -> None:
        decision = VoteDecision.APPROVE if approve else VoteDecision.REJECT
        for request in self.store.approvals.list(state=ApprovalState.PENDING)[:1]:
            self.queue.vote(request.id, "oncall", decision, channel=VoteChannel.CLI, now=self.clock())

    @rule()
    def leader_dispatches_approved_requests(self) -> None:
        for request in self.store.approvals.list(state=ApprovalState.APPROVED):
            if self.queue.mark_executing(request.id, now=self.clock()):
                self.store.executions.create(
                    action="scale_workload",
                    params={"approval": request.id},
                    target_kind="Deployment",
                    target_name="web",
                    incident_id=request.incident_id,
                )

    @rule(verified=st.booleans())
    def an_execution_ends(self, verified: bool) -> None:
        for execution in self.store.executions.pending()[:1]:
            assert self.store.executions.claim_execution(execution.id, "agent-a")
            self.store.executions.finish(execution.id, "agent-a", succeeded=verified, outcome={})
            approval = execution.params.get("approval")
            if approval:
                mark = self.queue.mark_succeeded if verified else self.queue.mark_failed
                assert mark(str(approval), now=self.clock(), result="done")
            if verified and execution.incident_id:
                self.lifecycle.verified(execution.incident_id)
                self.verified_once.add(execution.incident_id)
                after = self.store.incidents.get(execution.incident_id)
                assert after is not None and after.status is S.VERIFIED  # at once: no pressure left behind

    @rule(seconds=st.sampled_from([30.0, 700.0]))
    def time_passes_and_requests_expire(self, seconds: float) -> None:
        self.clock.now += timedelta(seconds=seconds)
        self.queue.expire_due(self.clock())

    @rule()
    def leader_settles(self) -> None:
        self.lifecycle.settle_all()
        assert self.store.history.open_incidents() == len(self._truly_open())

    def _truly_open(self) -> list[str]:
        """Undecided, or with work in hand (or just being started): what pressure may count."""
        found = []
        for incident in self.store.incidents.unresolved(limit=1000):
            work = self.store.work.of(incident.id)
            if incident.status is S.OPEN or (incident.status is S.HANDLING and (work.in_hand or not work.started)):
                found.append(incident.id)
        return found

    @rule(data=st.data())
    def alerts_of_an_incident_resolve(self, data: st.DataObject) -> None:
        incidents = self.store.incidents.unresolved(limit=100)
        if incidents:
            self.lifecycle.alerts_resolved(data.draw(st.sampled_from(incidents)).id)

    @rule(paused=st.booleans())
    def kill_switch(self, paused: bool) -> None:
        self.store.control.set(paused=paused, reason="drill", changed_by="lead", at=self.clock())
        self.lifecycle.resume_held()

    @rule()
    def restart(self) -> None:
        self._boot()
        rebuilt = {i.id for i in self.intake.open_incidents()}
        assert rebuilt == {i.id for i in self.store.incidents.unresolved(limit=1000)}

    # --- invariants --------------------------------------------------------------------

    @invariant()
    def pressure_counts_open_incidents_and_those_the_next_settle_closes(self) -> None:
        ended = [
            i
            for i in self.store.incidents.in_status(S.HANDLING)
            if self.store.work.of(i.id).settled_status() is not None
        ]  # a rejection, an expiry or a failure: closed by the leader's settle job (every 2 s)
        assert self.store.history.open_incidents() == len(self._truly_open()) + len(ended)

    @invariant()
    def open_work_belongs_to_an_incident_in_hand(self) -> None:
        holders = {r.incident_id for r in self.store.approvals.list() if r.state in OPEN_REQUEST_STATES}
        since = self.clock().replace(year=2000)
        holders |= {
            e.incident_id or "" for e in self.store.executions.recent(since) if e.state in UNFINISHED_EXECUTION_STATES
        }
        for incident_id in holders:
            stored = self.store.incidents.get(incident_id)
            assert stored is not None and stored.status is S.HANDLING, (incident_id, stored and stored.status)

    @invariant()
    def a_verified_incident_ended_with_a_verified_action(self) -> None:
        for incident in self.store.incidents.in_status(S.VERIFIED):
            assert incident.id in self.verified_once
            work = self.store.work.of(incident.id)
            assert not work.in_hand and work.executions[-1] is ExecutionState.SUCCEEDED

    @invariant()
    def after_settling_nothing_is_handled_without_work(self) -> None:
        for incident in self.store.incidents.in_status(S.HANDLING):
            work = self.store.work.of(incident.id)
            assert work.in_hand or work.settled_status() is not None


IncidentLifecycleMachine.TestCase.settings = settings(
    max_examples=25, stateful_step_count=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_incident_lifecycle_keeps_its_invariants = IncidentLifecycleMachine.TestCase
