"""Builds the console from a running agent's parts."""

from __future__ import annotations

from starlette.types import ASGIApp

from agent.app import Agent
from console.app import ConsoleDeps, build_console


def console_for(agent: Agent) -> ASGIApp:
    """The web console over this agent's store, audit chain, approval queue and kill switch."""
    return build_console(
        ConsoleDeps(
            settings=agent.settings,
            store=agent.store,
            audit=agent.audit,
            approvals=agent.approvals,
            kill_switch=agent.kill_switch,
            refusals=agent.refusals,
            clock=agent.clock,
        )
    )
