"""The rendered messages pinned by golden files in tests/approvals/snapshots/.

After an intended change to approvals/render.py, regenerate the files and review the diff:

    .venv/bin/python -m tests.approvals.render_cases
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from actions.base import ActionName
from approvals.model import ApprovalRequest, ApprovalState, Target, Vote, VoteChannel, VoteDecision
from approvals.queue import AlreadyDecided, Expired, NeedsAnotherApprover, NotFound
from approvals.render import not_allowed_reply, request_message, result_reply, vote_feedback
from tests.approvals.conftest import T0, risk

SNAPSHOTS = Path(__file__).parent / "snapshots"
MENTION = "<!subteam^SONCALL>"


def base(**update: Any) -> ApprovalRequest:
    request = ApprovalRequest(
        id="req1",
        incident_id="inc-42",
        incident_summary="KubePodCrashLooping: cart in shop restarts 14 times in 10 minutes <&>",
        action=ActionName.SCALE_WORKLOAD,
        params={"namespace": "shop", "name": "cart", "replicas": 6},
        target=Target(kind="Deployment", name="cart", namespace="shop"),
        risk=risk(0.62).as_json(),
        threshold=0.5,
        required_approvals=1,
        created_at=T0,
        deadline=T0 + timedelta(minutes=15),
    )
    return request.model_copy(update=update)


def vote(who: str, decision: VoteDecision = VoteDecision.APPROVE, channel: VoteChannel = VoteChannel.SLACK) -> Vote:
    return Vote(approver=who, decision=decision, at=T0 + timedelta(minutes=2), channel=channel)


S = ApprovalState
CASES: dict[str, Callable[[], dict[str, Any]]] = {
    "pending": lambda: request_message(base()),
    "pending_two_approvers_one_in": lambda: request_message(
        base(required_approvals=2, risk=risk(0.91).as_json(), votes=(vote("UALICE"),))
    ),
    "approved": lambda: request_message(base(state=S.APPROVED, votes=(vote("UALICE"),))),
    "rejected": lambda: request_message(base(state=S.REJECTED, votes=(vote("UBOB", VoteDecision.REJECT),))),
    "expired_escalated": lambda: request_message(base(state=S.EXPIRED), escalation_mention=MENTION),
    "executing": lambda: request_message(base(state=S.EXECUTING, votes=(vote("ops", channel=VoteChannel.CLI),))),
    "succeeded": lambda: request_message(
        base(state=S.SUCCEEDED, votes=(vote("UALICE"),), result="6 of 6 replicas ready", undo_available=True)
    ),
    "failed": lambda: request_message(
        base(state=S.FAILED, votes=(vote("UALICE"),), result="dry run refused: exceeds quota")
    ),
    "superseded": lambda: request_message(
        base(state=S.SUPERSEDED, votes=(vote("UALICE"),), result="risk rose from 0.62 to 0.81")
    ),
    "undo_requested_by": lambda: request_message(base(requested_by="UCAROL")),
    "result_with_undo": lambda: result_reply(
        base(state=S.SUCCEEDED, result="6 of 6 replicas ready", undo_available=True)
    ),
    "result_failed_no_undo": lambda: result_reply(base(state=S.FAILED, result="timed out waiting for rollout")),
    "not_allowed": lambda: not_allowed_reply("you are not on the approver list"),
    "feedback_needs_another": lambda: vote_feedback(NeedsAnotherApprover(base(), 1, 2)) or {},
    "feedback_expired": lambda: vote_feedback(Expired(base(state=S.EXPIRED))) or {},
    "feedback_already_decided": lambda: vote_feedback(AlreadyDecided(base(state=S.APPROVED))) or {},
    "feedback_not_found": lambda: vote_feedback(NotFound("req404")) or {},
}


def snapshot_path(name: str) -> Path:
    return SNAPSHOTS / f"{name}.json"


def dump(message: dict[str, Any]) -> str:
    return json.dumps(message, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def update() -> None:
    SNAPSHOTS.mkdir(exist_ok=True)
    for name, build in CASES.items():
        snapshot_path(name).write_text(dump(build()), encoding="utf-8")
    print(f"wrote {len(CASES)} snapshots to {SNAPSHOTS.name}/")


if __name__ == "__main__":
    update()
