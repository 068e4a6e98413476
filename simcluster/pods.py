"""The pod behaviour model: what a kubelet would report for a pod, computed from its spec,
the ConfigMaps it reads, its node and the time.

Any image runs healthy. A small documented set of markers (docs/simcluster.md) makes a pod
fail the way real ones do, so faults show up as real signals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simcluster.quantity import parse_quantity

Obj = dict[str, Any]

ANNOTATION_MEMORY_NEED = "sim.scutum.dev/memory-need"
ANNOTATION_LEAK_PER_MINUTE = "sim.scutum.dev/memory-leak-per-minute"
ANNOTATION_RUN_SECONDS = "sim.scutum.dev/run-seconds"
DEFAULT_MEMORY_NEED = 64 * 2**20
DEFAULT_RUN_SECONDS = 10.0
CRASH_BACKOFF_CAP = 300.0


@dataclass(frozen=True)
class Verdict:
    """How one container behaves: `ok`, `crash`, `oom`, `pull`, `unready` or `leak`."""

    mode: str
    reason: str = ""


def _image_verdict(image: str) -> Verdict | None:
    name, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "")
    lowered = image.lower()
    if tag in ("doesnotexist", "nonexistent") or "doesnotexist" in lowered:
        return Verdict("pull", "ImagePullBackOff")
    if tag == "broken" or "crashloop" in lowered:
        return Verdict("crash", "Error")
    if tag == "unready":
        return Verdict("unready")
    del name
    return None


def _env_values(container: Obj, configmaps: dict[str, Obj]) -> list[str]:
    """Every value the container reads from env, envFrom and mounted ConfigMaps."""
    values: list[str] = []
    for env in container.get("env") or []:
        if "value" in env:
            values.append(str(env["value"]))
        ref = (env.get("valueFrom") or {}).get("configMapKeyRef")
        if ref:
            values.append(str((configmaps.get(ref.get("name", "")) or {}).get("data", {}).get(ref.get("key"), "")))
    for source in container.get("envFrom") or []:
        ref = source.get("configMapRef")
        if ref:
            values.extend(str(v) for v in ((configmaps.get(ref.get("name", "")) or {}).get("data") or {}).values())
    return values


def _volume_values(pod: Obj, configmaps: dict[str, Obj]) -> list[str]:
    values: list[str] = []
    for volume in pod.get("spec", {}).get("volumes") or []:
        ref = volume.get("configMap")
        if ref:
            values.extend(str(v) for v in ((configmaps.get(ref.get("name", "")) or {}).get("data") or {}).values())
    return values


def consumed_configmaps(pod: Obj) -> set[str]:
    """Names of the ConfigMaps a pod reads through env, envFrom or volumes."""
    names: set[str] = set()
    spec = pod.get("spec", {})
    for volume in spec.get("volumes") or []:
        if volume.get("configMap"):
            names.add(volume["configMap"].get("name", ""))
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        for env in container.get("env") or []:
            ref = (env.get("valueFrom") or {}).get("configMapKeyRef")
            if ref:
                names.add(ref.get("name", ""))
        for source in container.get("envFrom") or []:
            if source.get("configMapRef"):
                names.add(source["configMapRef"].get("name", ""))
    return names


def memory_need(pod: Obj) -> float:
    """Bytes the pod's containers need to start (the memory-need annotation, default 64Mi)."""
    annotations = pod.get("metadata", {}).get("annotations") or {}
    try:
        return parse_quantity(annotations.get(ANNOTATION_MEMORY_NEED, DEFAULT_MEMORY_NEED))
    except ValueError:
        return float(DEFAULT_MEMORY_NEED)


def leak_per_second(pod: Obj) -> float:
    """Bytes per second the pod's containers leak (0 when it does not leak)."""
    annotations = pod.get("metadata", {}).get("annotations") or {}
    try:
        return parse_quantity(annotations.get(ANNOTATION_LEAK_PER_MINUTE, 0)) / 60.0
    except ValueError:
        return 0.0


def memory_limit(container: Obj) -> float | None:
    """The container's memory limit in bytes, if it has one."""
    limit = ((container.get("resources") or {}).get("limits") or {}).get("memory")
    try:
        return parse_quantity(limit) if limit is not None else None
    except ValueError:
        return None


def _bad_value(value: str) -> bool:
    return "SIM_BAD" in value or value.strip().lower() == "invalid"


def container_verdict(pod: Obj, container: Obj, configmaps: dict[str, Obj]) -> Verdict:
    """How a container behaves given its image, env, ConfigMaps and memory limit (first match wins)."""
    by_image = _image_verdict(str(container.get("image", "")))
    values = _env_values(container, configmaps) + _volume_values(pod, configmaps)
    env = {e.get("name"): str(e.get("value", "")) for e in container.get("env") or [] if "value" in e}
    fail = env.get("SIM_FAIL", "")
    limit = memory_limit(container)
    rules = (
        (by_image is not None and by_image.mode == "pull", by_image),
        (fail == "crash" or any(_bad_value(v) for v in values), Verdict("crash", "Error")),
        (by_image is not None, by_image),
        (limit is not None and limit < memory_need(pod), Verdict("oom", "OOMKilled")),
        (fail == "unready", Verdict("unready")),
        (limit is not None and leak_per_second(pod) > 0, Verdict("leak")),
    )
    return next((verdict for matched, verdict in rules if matched and verdict), Verdict("ok"))


def crash_backoff(restarts: int) -> float:
    """Seconds a crashing container waits before its next restart (10s doubling, capped at 5m)."""
    return float(min(CRASH_BACKOFF_CAP, 10.0 * 2 ** min(restarts, 10)))


def run_seconds(pod: Obj) -> float:
    """How long a run-to-completion pod (restartPolicy Never/OnFailure) runs before it succeeds."""
    annotations = pod.get("metadata", {}).get("annotations") or {}
    try:
        return float(annotations.get(ANNOTATION_RUN_SECONDS, DEFAULT_RUN_SECONDS))
    except ValueError:
        return DEFAULT_RUN_SECONDS
