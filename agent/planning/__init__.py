"""Planners: turn an incident into one registry action with typed params, or an escalation.

Import from the submodules (`agent.planning.base`, `.runbook`, `.targets`).
"""
