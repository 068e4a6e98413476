"""Mattermost: requests posted with buttons and updated in place; votes from buttons go through
the same queue (allowlist, two-approver band, expiry) as Slack and the CLI; forged, replayed,
expired and oversized callbacks change nothing and leave evidence."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from approvals.authz import ApproverPolicy
from approvals.mattermost import MattermostActions, MattermostChannel
from approvals.mattermost_render import code, request_post
from approvals.memory import InMemoryApprovalRepository
from approvals.model import ApprovalState, VoteChannel, VoteDecision
from approvals.queue import ApprovalQueue
from approvals.settings import ApprovalSettings, MattermostSettings, PersonIdentities
from tests.approvals.conftest import AuditLog, FakeClock, proposal, risk
from tests.approvals.mattermost_stub import MattermostStub, mattermost_stub

ALICE_MM = "a" * 26
BOB_MM = "b" * 26
MALLORY_MM = "m" * 26
SECRET = "s" * 40


class Refs:
    def __init__(self) -> None:
        self.refs: dict[tuple[str, str], str] = {}

    def get_ref(self, request_id: str, channel: str) -> str | None:
        return self.refs.get((request_id, channel))

    def set_ref(self, request_id: str, channel: str, ref: str) -> None:
        self.refs[(request_id, channel)] = ref


class MattermostWorld:
    def __init__(self, stub: MattermostStub, clock: FakeClock, audit: AuditLog) -> None:
        self.clock = clock
        self.audit = audit
        self.stub = stub
        self.settings = MattermostSettings(
            enabled=True,
            url=stub.url,
            bot_token="bot-token",
            channel_id="c" * 26,
            callback_url="http://scutum.test/mattermost/actions",
            action_secret=SECRET,
        )
        self.approvals = ApprovalSettings(
            approver_user_ids=("UALICE", "UBOB"),
            mattermost_approvers={ALICE_MM: "UALICE", BOB_MM: "UBOB"},
            two_approver_min_risk=0.8,
        )
        self.refs = Refs()
        self.channel = MattermostChannel(self.settings, refs=self.refs, audit=audit)
        self.queue = ApprovalQueue(
            InMemoryApprovalRepository(),
            self.approvals,
            policy=ApproverPolicy(self.approvals),
            audit=audit,
            notifier=self.channel,
        )
        self.actions = MattermostActions(self.settings, vote=self.queue.vote, audit=audit)

    @property
    def approved(self) -> list[str]:
        """Requests the queue holds approved (the leader's dispatch would run them)."""
        return [r.id for r in self.queue.repository.list(state=ApprovalState.APPROVED)]

    def ask(self, total: float = 0.6) -> str:
        request = self.queue.request(
            proposal(),
            risk(total),
            incident_id="inc-7",
            incident_summary="cart restarts",
            threshold=0.5,
            now=self.clock(),
        )
        return request.id

    def button(self, index: int = 0, *, post: int = -1) -> dict[str, Any]:
        attachment = self.stub.post(post)["props"]["attachments"][0]
        return dict(attachment["actions"][index]["integration"]["context"])

    def click(
        self,
        user: str,
        *,
        button: int = 0,
        post: int = -1,
        tamper: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        context = {**(context or self.button(button, post=post)), **(tamper or {})}
        body = {"user_id": user, "user_name": "someone", "post_id": "p", "channel_id": "c", "context": context}
        return self.actions.handle(json.dumps(body).encode(), self.clock())


@pytest.fixture
def mm(clock: FakeClock, audit: AuditLog) -> Iterator[MattermostWorld]:
    with mattermost_stub() as stub:
        world = MattermostWorld(stub, clock, audit)
        yield world
        world.channel.close()


def test_a_request_is_posted_with_signed_buttons_and_its_post_updated_in_place(mm: MattermostWorld) -> None:
    request_id = mm.ask()

    ((post_id, post),) = mm.stub.posts.items()
    actions = post["props"]["attachments"][0]["actions"]
    assert [a["id"] for a in actions] == ["approve", "reject"]
    assert actions[0]["integration"]["url"] == "http://scutum.test/mattermost/actions"
    assert mm.refs.get_ref(request_id, "mattermost") == post_id

    status, answer = mm.click(ALICE_MM)

    assert status == 200 and answer["ephemeral_text"].startswith("Approved")
    assert mm.approved == [request_id]
    assert len(mm.stub.posts) == 1  # updated, not posted again
    assert "actions" not in mm.stub.post()["props"]["attachments"][0]
    (vote,) = mm.queue.get(request_id).votes  # type: ignore[union-attr]
    assert (vote.approver, vote.channel) == ("UALICE", VoteChannel.MATTERMOST)


def test_a_user_not_on_the_list_is_refused_and_it_is_recorded(mm: MattermostWorld) -> None:
    request_id = mm.ask()

    status, answer = mm.click(MALLORY_MM)

    assert status == 200 and "not accepted" in answer["ephemeral_text"]
    assert mm.queue.get(request_id).state is ApprovalState.PENDING  # type: ignore[union-attr]
    assert mm.audit.of("approval_vote_refused")[0]["approver"] == f"mattermost:{MALLORY_MM}"


def test_the_same_person_on_slack_and_mattermost_is_one_approver_in_the_two_approver_band(
    mm: MattermostWorld,
) -> None:
    request_id = mm.ask(total=0.9)
    mm.queue.vote(request_id, "UALICE", VoteDecision.APPROVE, channel=VoteChannel.SLACK, now=mm.clock())

    _, answer = mm.click(ALICE_MM, post=0)
    assert "already approved" in answer["ephemeral_text"]
    assert mm.approved == []

    _, answer = mm.click(BOB_MM, post=0)
    assert answer["ephemeral_text"].startswith("Approved") and mm.approved == [request_id]


@pytest.mark.parametrize(
    "tamper",
    [
        {"vote": "approve", "token": "0" * 64},  # forged token
        {"request_id": "req-other"},  # a token of one request used for another
        {"expires": 4102444800},  # a later expiry than the one signed
    ],
)
def test_a_forged_or_altered_button_is_refused_with_401_and_recorded(
    mm: MattermostWorld, tamper: dict[str, Any]
) -> None:
    request_id = mm.ask()

    status, _ = mm.click(ALICE_MM, tamper=tamper)

    assert status == 401
    assert mm.queue.get(request_id).state is ApprovalState.PENDING  # type: ignore[union-attr]
    assert mm.audit.of("mattermost_request_rejected")[0]["reason"] == "bad button token"


def test_the_reject_button_cannot_be_turned_into_an_approval(mm: MattermostWorld) -> None:
    request_id = mm.ask()

    status, _ = mm.click(ALICE_MM, button=1, tamper={"vote": "approve"})

    assert status == 401 and mm.approved == []
    assert mm.queue.get(request_id).state is ApprovalState.PENDING  # type: ignore[union-attr]


def test_an_expired_button_changes_nothing(mm: MattermostWorld) -> None:
    request_id = mm.ask()
    mm.clock.advance(mm.approvals.timeout_seconds + 1)

    status, answer = mm.click(ALICE_MM)

    assert status == 200 and "expired" in answer["ephemeral_text"]
    assert mm.approved == [] and mm.queue.get(request_id).state is not ApprovalState.APPROVED  # type: ignore[union-attr]
    assert mm.audit.of("mattermost_vote_refused")[0]["reason"] == "expired button"


def test_a_replayed_click_after_the_decision_changes_nothing_and_is_recorded(mm: MattermostWorld) -> None:
    mm.ask()
    approve = mm.button(0)
    mm.click(ALICE_MM)

    status, answer = mm.click(ALICE_MM, context=approve)

    assert status == 200 and "Already decided" in answer["ephemeral_text"]
    assert mm.audit.of("mattermost_vote_refused")[0]["reason"] == "AlreadyDecided"


def test_unauthenticated_noise_is_aggregated_not_written_once_per_request(mm: MattermostWorld) -> None:
    for _ in range(300):
        status, _ = mm.actions.handle(b'{"user_id": "x"}', mm.clock())
        assert status == 400
    mm.clock.advance(61)
    mm.actions.handle(b"\xff\xfe not json", mm.clock())

    records = mm.audit.of("mattermost_request_rejected")
    assert len(records) == 2
    assert records[1]["refused_since_last_record"] == 299


def test_an_oversized_or_deeply_nested_callback_is_a_clear_refusal(mm: MattermostWorld) -> None:
    assert mm.actions.handle(b"{" + b" " * 70_000 + b"}", mm.clock())[0] == 413
    assert mm.actions.handle(b"[" * 60_000, mm.clock())[0] == 400


def test_a_mattermost_outage_leaves_the_request_pending_and_records_the_failure(mm: MattermostWorld) -> None:
    mm.stub.fail_next = 1

    request_id = mm.ask()

    assert mm.queue.get(request_id).state is ApprovalState.PENDING  # type: ignore[union-attr]
    assert mm.refs.get_ref(request_id, "mattermost") is None
    assert "HTTPStatusError" in mm.audit.of("mattermost_call_failed")[0]["error"]


hostile = st.text(alphabet=st.characters(codec="utf-8"), max_size=600)


@given(summary=hostile)
def test_alert_text_is_shown_as_code_so_it_cannot_mention_link_or_format(summary: str) -> None:
    rendered = code(summary)
    assert rendered.startswith("`") and rendered.endswith("`")
    assert "`" not in rendered[1:-1] and "\n" not in rendered


def test_a_mention_in_an_alert_is_inert_in_the_post(clock: FakeClock, audit: AuditLog) -> None:
    queue_world = MattermostWorld(MattermostStub(url="http://127.0.0.1:9"), clock, audit)
    request = queue_world.queue.request(
        proposal(),
        risk(0.6),
        incident_id="inc-1",
        incident_summary="@channel <!channel> [Approve here](https://evil.example/login)`",
        threshold=0.5,
        now=clock(),
    )
    text = request_post(request, callback_url="http://x", secret=SECRET)["props"]["attachments"][0]["text"]
    assert "`@channel <!channel> [Approve here](https://evil.example/login)'`" in text
    queue_world.channel.close()


def test_settings_refuse_an_enabled_channel_without_its_secrets() -> None:
    with pytest.raises(ValueError, match="action_secret"):
        MattermostSettings(
            enabled=True, url="http://m", bot_token="t", channel_id="c", callback_url="http://s", action_secret="short"
        )
    with pytest.raises(ValueError, match="bot_token"):
        MattermostSettings(enabled=True, url="http://m", channel_id="c", callback_url="http://s", action_secret=SECRET)


def test_expiry_is_bounded_by_the_request_deadline(mm: MattermostWorld) -> None:
    mm.ask()
    context = mm.stub.post()["props"]["attachments"][0]["actions"][0]["integration"]["context"]
    assert context["expires"] == int((mm.clock() + timedelta(seconds=mm.approvals.timeout_seconds)).timestamp())


@given(summary=hostile)
def test_alert_text_in_a_post_carries_no_control_or_bidi_characters(summary: str) -> None:
    """A right-to-left override or an escape sequence in an alert must not reorder or restyle
    what an approver reads next to the Approve button (pages strip them too)."""
    inner = code(summary)[1:-1]
    assert not [ch for ch in inner if unicodedata.category(ch) in ("Cc", "Cf")]


def test_a_right_to_left_override_cannot_disguise_the_target() -> None:
    assert code("web\u202eyalp-evil\x1b[8m") == "`webyalp-evil [8m`"


def test_refusals_counted_in_a_flood_that_stops_are_still_recorded(mm: MattermostWorld) -> None:
    """Invariant 6: every refusal leaves evidence, aggregated. Without a later refusal to carry
    the count, a flood's tail was kept only in memory and never written."""
    for _ in range(300):
        mm.actions.handle(b'{"user_id": "x"}', mm.clock())
    mm.actions.flush(mm.clock())  # within the window: nothing yet
    assert len(mm.audit.of("mattermost_request_rejected")) == 1

    mm.clock.advance(61)
    mm.actions.flush(mm.clock())
    records = mm.audit.of("mattermost_request_rejected")
    assert [r["refused_since_last_record"] for r in records] == [0, 299]

    mm.clock.advance(61)
    mm.actions.flush(mm.clock())
    assert len(mm.audit.of("mattermost_request_rejected")) == 2


def test_a_button_token_is_bound_to_its_request_and_its_action(mm: MattermostWorld) -> None:
    first = mm.ask()
    second = mm.ask()
    approve_first = mm.button(0, post=0)
    reject_second = mm.button(1, post=1)

    swapped_request = mm.click(ALICE_MM, context={**approve_first, "request_id": second})
    swapped_action = mm.click(ALICE_MM, context={**reject_second, "vote": "approve"})
    other_token = mm.click(ALICE_MM, context={**approve_first, "token": mm.button(0, post=1)["token"]})

    assert [s for s, _ in (swapped_request, swapped_action, other_token)] == [401, 401, 401]
    assert mm.approved == []
    assert all(mm.queue.get(r).votes == () for r in (first, second))  # type: ignore[union-attr]


def test_the_mattermost_user_in_the_callback_must_map_to_an_approver_through_people(
    clock: FakeClock, audit: AuditLog
) -> None:
    with mattermost_stub() as stub:
        world = MattermostWorld(stub, clock, audit)
        approvals = ApprovalSettings(people={"alice": PersonIdentities(mattermost=(ALICE_MM,), slack=("UALICE",))})
        queue = ApprovalQueue(
            InMemoryApprovalRepository(),
            approvals,
            policy=ApproverPolicy(approvals),
            audit=audit,
            notifier=world.channel,
        )
        world.queue = queue
        world.actions = MattermostActions(world.settings, vote=queue.vote, audit=audit)
        request_id = world.ask()

        refused = world.click(BOB_MM)  # a genuine button, clicked by a user nobody mapped
        counted = world.click(ALICE_MM)
        world.channel.close()

    assert refused[0] == 200 and "not accepted" in refused[1]["ephemeral_text"]
    (vote,) = queue.get(request_id).votes  # type: ignore[union-attr]
    assert (vote.approver, vote.channel) == ("alice", VoteChannel.MATTERMOST)
    assert counted[1]["ephemeral_text"].startswith("Approved")
    refusal = audit.of("approval_vote_refused")[0]
    assert (refusal["approver"], refusal["channel_identity"]) == (f"mattermost:{BOB_MM}", BOB_MM)
