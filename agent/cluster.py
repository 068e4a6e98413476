"""The name of the cluster an agent runs in: every store row carries it (docs/fleet.md)."""

from __future__ import annotations

import re

DEFAULT_CLUSTER = "default"
"""The cluster of a single-cluster install, and of every row a store held before the fleet."""

CLUSTER_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
"""A DNS-1123 label: lower-case letters, digits and '-', at most 63, starting and ending alphanumeric."""


def cluster_name(value: str) -> str:
    """`value` when it is a valid cluster name, else ValueError saying what a name may be."""
    if not CLUSTER_NAME.match(value):
        raise ValueError(
            f"{value!r} is not a cluster name: use at most 63 lower-case letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return value
