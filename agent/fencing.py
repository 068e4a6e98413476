"""The fence every write of an execution passes (a `actions.kube.WriteGuard`).

Before each try of a dry run or write: one store transaction checks that this replica still
holds the Lease and still owns the execution under its fencing token, and, for a real write,
records the write's intent (`agent.intent`) with the object as it was just before. A replica
that lost either sends nothing. After a try whose answer was lost, `landed` compares the live
object with the intent, so a retry never repeats a write that already took effect.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from actions.kube import Kube, KubeError, WriteRequest
from agent.intent import Effect, combined, fingerprint, intent_of, judge, read_path
from agent.store.executions import ExecutionRepository

log = structlog.get_logger(__name__)

Obj = dict[str, Any]


def _key(write: WriteRequest) -> tuple[str, str, str]:
    return write.method, write.path, fingerprint(write.body)


class AmbiguousWrite(KubeError):
    """A write's answer was lost and the object shows neither the write nor the state before it."""

    def __init__(self, message: str, *, intent: Obj, current: Obj | None) -> None:
        super().__init__(message)
        self.intent = intent
        self.current = current


class FenceGuard:
    """Fences the writes of one execution run by one owner under one fencing token."""

    def __init__(
        self,
        executions: ExecutionRepository,
        reader: Kube,
        *,
        execution_id: str,
        owner: str,
        fence: int,
        holds_lease: Callable[[], bool],
    ) -> None:
        self._executions = executions
        self._reader = reader
        self._execution_id = execution_id
        self._owner = owner
        self._fence = fence
        self._holds_lease = holds_lease
        self._intents: dict[tuple[str, str, str], Obj] = {}
        self.sent_writes = 0
        """Real writes this guard let through (tries included)."""

    def before_write(self, write: WriteRequest) -> None:
        """Fence check (raises FencedOut); a real write's intent is recorded in the same transaction."""
        intent = None
        if not write.dry_run:
            key = _key(write)
            intent = self._intents.get(key)
            if intent is None:
                before = self._reader.read(read_path(write.method, write.path, write.body))
                intent = intent_of(write.method, write.path, write.body, before)
                self._intents[key] = intent
        self._executions.fenced_step(
            self._execution_id, self._owner, self._fence, holds_lease=self._holds_lease, intent=intent
        )
        if intent is not None:
            self.sent_writes += 1

    def landed(self, write: WriteRequest) -> Obj | None:
        """The live object when the write already took effect; None when it is safe to send again."""
        intent = self._intents.get(_key(write))
        if intent is None:
            return None
        current = self._reader.read(intent["read"])
        effect = judge(intent, current)
        log.info("write_answer_lost", execution=self._execution_id, path=write.path, effect=effect.value)
        if effect is Effect.APPLIED:
            return current or {}
        if effect is Effect.UNKNOWN:
            raise AmbiguousWrite(
                f"{write.method} {write.path}: the answer was lost and the object shows neither the write "
                "nor the state before it",
                intent=intent,
                current=current,
            )
        return None


def judge_writes(execution_intent: Obj | None, reader: Kube) -> tuple[Effect, list[Obj]]:
    """What the cluster shows of an execution's recorded writes, with each write's intent and
    the live object (for the escalation when it cannot be told)."""
    writes = list((execution_intent or {}).get("writes") or [])
    effects: list[Effect] = []
    states: list[Obj] = []
    for intent in writes:
        try:
            current = reader.read(intent["read"])
            effect = judge(intent, current)
        except KubeError as exc:
            current, effect = {"unreadable": str(exc)}, Effect.UNKNOWN
        effects.append(effect)
        states.append({"intent": intent, "cluster": current, "effect": effect.value})
    return combined(effects), states
