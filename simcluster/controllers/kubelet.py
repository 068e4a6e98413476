"""What the kubelets report: pod and container status from the pod behaviour model."""

from __future__ import annotations

from typing import Any

from simcluster import pods as model
from simcluster.controllers.context import Context, condition, stable_hash
from simcluster.events import WARNING, container_events, oom_killed

Obj = dict[str, Any]


def _pod_ip(pod: Obj) -> str:
    number = int(stable_hash([pod["metadata"].get("namespace"), pod["metadata"]["name"]], 4), 36) % 65000
    return f"10.244.{number // 250}.{number % 250 + 2}"


def _terminated(reason: str, code: int, started: str, finished: str) -> Obj:
    return {"terminated": {"exitCode": code, "reason": reason, "startedAt": started, "finishedAt": finished}}


def _crash(ctx: Context, prev: Obj | None, verdict: model.Verdict, *, restart_always: bool) -> Obj:
    """A container that dies on start: back off, then restart and die again."""
    code, reason = (137, "OOMKilled") if verdict.mode == "oom" else (1, "Error")
    if not restart_always:
        return {"state": _terminated(reason, code, ctx.stamp, ctx.stamp), "restartCount": 0, "ready": False}
    if prev is not None:
        last = (prev.get("lastState") or {}).get("terminated") or {}
        restarts = int(prev.get("restartCount", 0))
        waiting = (prev.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") == "CrashLoopBackOff" and not ctx.later(
            last.get("finishedAt"), model.crash_backoff(restarts)
        ):
            return {"state": prev["state"], "lastState": prev["lastState"], "restartCount": restarts, "ready": False}
        restarts = restarts + 1 if last else restarts
    else:
        restarts = 0
    message = f"back-off {int(model.crash_backoff(restarts))}s restarting failed container"
    return {
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": message}},
        "lastState": _terminated(reason, code, ctx.stamp, ctx.stamp),
        "restartCount": restarts,
        "ready": False,
    }


def _running(ctx: Context, prev: Obj | None, pod: Obj, container: Obj, verdict: model.Verdict) -> Obj:
    state = (prev or {}).get("state") or {}
    restarts = int((prev or {}).get("restartCount", 0))
    last = (prev or {}).get("lastState") or {}
    waiting = state.get("waiting") or {}
    if waiting.get("reason") == "CrashLoopBackOff":
        finished = (last.get("terminated") or {}).get("finishedAt")
        if not ctx.later(finished, model.crash_backoff(restarts)):
            return {"state": state, "lastState": last, "restartCount": restarts, "ready": False}
        restarts += 1
    started = (state.get("running") or {}).get("startedAt") or ctx.stamp
    if verdict.mode == "leak":
        limit = model.memory_limit(container) or 0.0
        need = model.memory_need(pod) + model.leak_per_second(pod) * ctx.seconds_since(started)
        if need > limit:
            last = _terminated("OOMKilled", 137, started, ctx.stamp)
            restarts, started = restarts + 1, ctx.stamp
    out: Obj = {
        "state": {"running": {"startedAt": started}},
        "restartCount": restarts,
        "ready": verdict.mode != "unready",
    }
    if last:
        out["lastState"] = last
    return out


def _container_status(ctx: Context, pod: Obj, container: Obj, prev: Obj | None, configmaps: dict[str, Obj]) -> Obj:
    verdict = model.container_verdict(pod, container, configmaps)
    restart_always = pod["spec"].get("restartPolicy", "Always") == "Always"
    if verdict.mode == "pull":
        reason = "ImagePullBackOff" if prev else "ErrImagePull"
        body: Obj = {
            "state": {"waiting": {"reason": reason, "message": f'Back-off pulling image "{container.get("image")}"'}},
            "restartCount": int((prev or {}).get("restartCount", 0)),
            "ready": False,
        }
    elif verdict.mode in ("crash", "oom"):
        body = _crash(ctx, prev, verdict, restart_always=restart_always)
    elif not restart_always and ctx.seconds_since(pod["status"].get("startTime") or ctx.stamp) >= model.run_seconds(
        pod
    ):
        started = ((prev or {}).get("state") or {}).get("running", {}).get("startedAt", ctx.stamp)
        body = {"state": _terminated("Completed", 0, started, ctx.stamp), "restartCount": 0, "ready": False}
    else:
        body = _running(ctx, prev, pod, container, verdict)
    image = str(container.get("image", ""))
    return {
        "name": container["name"],
        "image": image,
        "imageID": "" if verdict.mode == "pull" else f"sim://{image}",
        "containerID": f"containerd://{stable_hash([pod['metadata']['uid'], container['name']], 16)}",
        "started": "running" in body["state"],
        **body,
    }


def _phase(statuses: list[Obj], restart_always: bool) -> str:
    states = [s["state"] for s in statuses]
    if not restart_always and states and all("terminated" in s for s in states):
        return "Succeeded" if all(s["terminated"]["exitCode"] == 0 for s in states) else "Failed"
    if any((s.get("waiting") or {}).get("reason") in ("ErrImagePull", "ImagePullBackOff") for s in states):
        return "Pending"
    return "Running"


def pod_status(ctx: Context, pod: Obj, configmaps: dict[str, Obj], host_ip: str) -> Obj:
    """The status a kubelet would report for a scheduled pod now."""
    old = pod.get("status") or {}
    previous = {s["name"]: s for s in old.get("containerStatuses") or []}
    statuses = [
        _container_status(ctx, pod, c, previous.get(c["name"]), configmaps) for c in pod["spec"].get("containers") or []
    ]
    restart_always = pod["spec"].get("restartPolicy", "Always") == "Always"
    phase = _phase(statuses, restart_always)
    ready = phase == "Running" and all(s["ready"] for s in statuses)
    conditions = []
    for kind, value in (
        ("PodScheduled", True),
        ("Initialized", True),
        ("ContainersReady", ready),
        ("Ready", ready),
    ):
        status = "True" if value else "False"
        prev = condition(pod, kind)
        since = prev["lastTransitionTime"] if prev and prev.get("status") == status else ctx.stamp
        conditions.append({"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": since})
    return {
        **{k: v for k, v in old.items() if k == "qosClass"},
        "phase": phase,
        "conditions": conditions,
        "hostIP": host_ip,
        "podIP": _pod_ip(pod),
        "podIPs": [{"ip": _pod_ip(pod)}],
        "startTime": old.get("startTime") or ctx.stamp,
        "containerStatuses": statuses,
    }


def _steady(pod: Obj, status: Obj) -> bool:
    """True when the status cannot change with time alone (no backoff, leak or run-to-completion)."""
    if pod["spec"].get("restartPolicy", "Always") != "Always" or model.leak_per_second(pod) > 0:
        return False
    for cs in status["containerStatuses"]:
        state = cs["state"]
        if "running" not in state and (state.get("waiting") or {}).get("reason") != "ImagePullBackOff":
            return False
    return True


def run(ctx: Context, ready_nodes: dict[str, str]) -> None:
    """Report status for every scheduled, live pod on a Ready node (`ready_nodes`: name -> IP)."""
    configmaps: dict[str, dict[str, Obj]] = {}
    versions: dict[str, int] = {}
    for cm in ctx.objects("ConfigMap"):
        namespace = cm["metadata"]["namespace"]
        configmaps.setdefault(namespace, {})[cm["metadata"]["name"]] = cm
        versions[namespace] = max(versions.get(namespace, 0), int(cm["metadata"]["resourceVersion"]))
    steady: dict[str, tuple[str, int, str]] = ctx.memo.setdefault("kubelet-steady", {})
    pods = ctx.objects("Pod")
    if len(steady) > 2 * len(pods) + 100:
        live = {p["metadata"]["uid"] for p in pods}
        steady = ctx.memo["kubelet-steady"] = {uid: key for uid, key in steady.items() if uid in live}
    for pod in pods:
        meta = pod["metadata"]
        node = pod.get("spec", {}).get("nodeName")
        if not node or node not in ready_nodes or meta.get("deletionTimestamp"):
            continue
        if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            continue
        key = (meta["resourceVersion"], versions.get(meta["namespace"], 0), node)
        if steady.get(meta["uid"]) == key:
            continue
        status = pod_status(ctx, pod, configmaps.get(meta["namespace"], {}), ready_nodes[node])
        if status == pod.get("status") and _steady(pod, status):
            steady[meta["uid"]] = key
        _report(ctx, pod, status, node)
        ctx.set_status("Pod", pod, status)


def _report(ctx: Context, pod: Obj, status: Obj, node: str) -> None:
    """The kubelet's events for what changed in the pod's containers."""
    old = (pod.get("status") or {}).get("containerStatuses") or []
    new = status.get("containerStatuses") or []
    for type_, reason, message in container_events(pod, old, new):
        ctx.event(pod, type_=type_, reason=reason, message=message, component="kubelet")
    for name in oom_killed(old, new):
        node_ref = {"kind": "Node", "metadata": {"name": node, "uid": node}}
        message = f"Memory cgroup out of memory: Killed process of container {name} in pod {pod['metadata']['name']}"
        ctx.event(node_ref, type_=WARNING, reason="OOMKilling", message=message, component="kernel-monitor")
