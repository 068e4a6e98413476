"""Any interleaving of requests, votes, expiries, dispatches, re-validations (supersessions) and
restarts keeps the approval queue's invariants: a request runs at most once, never both runs and
is rejected, and every state change is one the transition table allows."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from approvals.authz import ApproverPolicy
from approvals.memory import InMemoryApprovalRepository
from approvals.model import ApprovalState, VoteChannel, VoteDecision
from approvals.queue import TRANSITIONS, ApprovalQueue, Approved, Rejected
from approvals.settings import ApprovalSettings
from tests.approvals.conftest import AuditLog, FakeClock, proposal, risk

S = ApprovalState
SETTINGS = ApprovalSettings(
    approver_user_ids=("UALICE", "UBOB"),
    cli_approvers=("oncall-cli",),
    two_approver_min_risk=0.8,
    timeout_seconds=600.0,
)
VOTERS = st.sampled_from([("UALICE", VoteChannel.SLACK), ("UBOB", VoteChannel.SLACK), ("oncall-cli", VoteChannel.CLI)])


def reachable(start: ApprovalState) -> set[ApprovalState]:
    """Every state the table allows from `start` in any number of moves (itself included)."""
    seen, frontier = {start}, [start]
    while frontier:
        for nxt in TRANSITIONS[frontier.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    return seen


class ApprovalQueueMachine(RuleBasedStateMachine):
    """A queue over one repository; "restart" builds a new queue over the same rows."""

    requests = Bundle("requests")

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.repo = InMemoryApprovalRepository()
        self.audit = AuditLog()
        self.count = 0
        self.queue = self._queue()
        self.runs: dict[str, int] = {}
        """How many times each request was claimed to execute."""
        self.rejected: set[str] = set()
        self.approved: set[str] = set()
        """Requests a vote approved (the only way into APPROVED)."""
        self.seen: dict[str, ApprovalState] = {}

    def _queue(self) -> ApprovalQueue:
        def new_id() -> str:
            self.count += 1
            return f"req{self.count}"

        return ApprovalQueue(self.repo, SETTINGS, policy=ApproverPolicy(SETTINGS), audit=self.audit, new_id=new_id)

    @rule(target=requests, total=st.floats(min_value=0.3, max_value=0.95))
    def ask(self, total: float) -> str:
        request = self.queue.request(
            proposal(), risk(total), incident_id="inc-1", incident_summary="s", threshold=0.3, now=self.clock()
        )
        return request.id

    @rule(request_id=requests, voter=VOTERS, approve=st.booleans())
    def vote(self, request_id: str, voter: tuple[str, VoteChannel], approve: bool) -> None:
        decision = VoteDecision.APPROVE if approve else VoteDecision.REJECT
        result = self.queue.vote(request_id, voter[0], decision, channel=voter[1], now=self.clock())
        if isinstance(result, Rejected):
            self.rejected.add(request_id)
        if isinstance(result, Approved):
            assert result.request.state is S.APPROVED
            self.approved.add(request_id)

    @rule(seconds=st.sampled_from([1.0, 300.0, 700.0]))
    def time_passes_and_requests_expire(self, seconds: float) -> None:
        self.clock.advance(seconds)
        for expired in self.queue.expire_due(self.clock()):
            assert expired.state is S.EXPIRED

    @rule(ending=st.sampled_from(["succeeded", "failed", "superseded"]))
    def leader_dispatches_approved_requests(self, ending: str) -> None:
        for request in self.repo.list(state=S.APPROVED):
            if not self.queue.mark_executing(request.id, now=self.clock()):
                continue
            self.runs[request.id] = self.runs.get(request.id, 0) + 1
            now = self.clock()
            if ending == "succeeded":
                assert self.queue.mark_succeeded(request.id, now=now, result="ok")
            elif ending == "failed":
                assert self.queue.mark_failed(request.id, now=now, result="verify failed")
            else:
                fresh = self.queue.reask(request.id, risk(0.9), now=now, reason="risk rose")
                assert fresh is not None and fresh.state is S.PENDING

    @rule(request_id=requests)
    def a_second_replica_tries_the_same_claim(self, request_id: str) -> None:
        if self.queue.mark_executing(request_id, now=self.clock()):
            self.runs[request_id] = self.runs.get(request_id, 0) + 1

    @rule()
    def restart(self) -> None:
        self.queue = self._queue()

    @invariant()
    def each_request_runs_at_most_once_only_when_approved_and_never_after_a_rejection(self) -> None:
        assert all(n == 1 for n in self.runs.values())
        assert set(self.runs) <= self.approved
        assert not (self.rejected & set(self.runs))

    @invariant()
    def states_only_move_along_the_table(self) -> None:
        for request in self.repo.list():
            before = self.seen.get(request.id, S.PENDING)
            assert request.state in reachable(before), f"{request.id}: {before} -> {request.state}"
            self.seen[request.id] = request.state
            if request.id in self.runs:
                assert request.state in {S.EXECUTING, S.SUCCEEDED, S.FAILED, S.SUPERSEDED}
            if request.state is S.REJECTED:
                assert request.id not in self.runs


ApprovalQueueMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_approval_queue_keeps_its_invariants = ApprovalQueueMachine.TestCase
