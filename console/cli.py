"""The `scutum` entry point: the agent's commands, with the web console available to
`scutum run` (when `console.enabled`) and `scutum demo`."""

from __future__ import annotations

from agent import commands
from console.wiring import console_for


def main() -> None:
    """Console-script entry point `scutum`."""
    commands.main(console=console_for)
