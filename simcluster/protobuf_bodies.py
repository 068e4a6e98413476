"""Kubernetes protobuf request bodies, decoded into the same JSON-shaped objects the JSON path stores.

kubectl's generator commands (`create deployment`, `create configmap`, `create namespace`) send
`application/vnd.kubernetes.protobuf` and do not retry in JSON. Their body is the envelope the
API server defines: the magic bytes `k8s\\x00`, then a `runtime.Unknown` message whose fields are
typeMeta (1: apiVersion 1, kind 2), raw (2: the object's own message), contentEncoding (3) and
contentType (4). The object's message is read with the field tables below, written from the
public API definitions for exactly the kinds those commands create: apps/v1 Deployment, core/v1
ConfigMap and Namespace, with what they hold (ObjectMeta, LabelSelector, PodTemplateSpec,
PodSpec, Container, ResourceRequirements, DeploymentStrategy). Fields not in a table are skipped
by their wire type; a body that is not well formed is a 400 that says where; another kind is a 415.

How a value becomes JSON follows Go's encoding of the same struct: a plain (non-pointer) field at
its zero value is left out, as `omitempty` leaves it out; a pointer field (marked `keep_zero`) is
kept whenever it was sent, even at zero (`replicas: 0`, an empty `rollingUpdate`).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from simcluster.errors import BadRequest
from simcluster.protowire import LENGTH, VARINT, WireError, WireField, fields, signed64

Obj = dict[str, Any]

MAGIC = b"k8s\x00"
PROTOBUF = "application/vnd.kubernetes.protobuf"
MAX_DEPTH = 24
"""Messages nested deeper than any of these kinds nests are refused."""


class UnsupportedProtobufKind(Exception):
    """A well-formed envelope around a kind the simulated server has no field table for."""


@dataclass(frozen=True)
class F:
    """One field of a message: its JSON name, what it holds, and how it is written."""

    name: str
    kind: str = "string"
    """string, bytes, int, bool, time, intorstr, quantity, map, or the name of a message table."""
    repeated: bool = False
    keep_zero: bool = False
    """A pointer field in Go: sent means set, so a zero value is kept."""
    values: str = "string"
    """For a map: what its values hold (string, bytes, quantity)."""


_S = F  # a plain string field is the common case
META: dict[int, F] = {
    1: _S("name"),
    2: _S("generateName"),
    3: _S("namespace"),
    4: _S("selfLink"),
    5: _S("uid"),
    6: _S("resourceVersion"),
    7: F("generation", "int"),
    8: F("creationTimestamp", "time"),
    9: F("deletionTimestamp", "time"),
    10: F("deletionGracePeriodSeconds", "int", keep_zero=True),
    11: F("labels", "map"),
    12: F("annotations", "map"),
    13: F("ownerReferences", "OwnerReference", repeated=True),
    14: F("finalizers", repeated=True),
}
TABLES: dict[str, dict[int, F]] = {
    "ObjectMeta": META,
    "OwnerReference": {
        1: _S("kind"),
        3: _S("name"),
        4: _S("uid"),
        5: _S("apiVersion"),
        6: F("controller", "bool", keep_zero=True),
        7: F("blockOwnerDeletion", "bool", keep_zero=True),
    },
    "LabelSelector": {
        1: F("matchLabels", "map"),
        2: F("matchExpressions", "LabelSelectorRequirement", repeated=True),
    },
    "LabelSelectorRequirement": {1: _S("key"), 2: _S("operator"), 3: F("values", repeated=True)},
    "Namespace": {1: F("metadata", "ObjectMeta"), 2: F("spec", "NamespaceSpec"), 3: F("status", "NamespaceStatus")},
    "NamespaceSpec": {1: F("finalizers", repeated=True)},
    "NamespaceStatus": {1: _S("phase")},
    "ConfigMap": {
        1: F("metadata", "ObjectMeta"),
        2: F("data", "map"),
        3: F("binaryData", "map", values="bytes"),
        4: F("immutable", "bool", keep_zero=True),
    },
    "Deployment": {1: F("metadata", "ObjectMeta"), 2: F("spec", "DeploymentSpec"), 3: F("status", "DeploymentStatus")},
    "DeploymentSpec": {
        1: F("replicas", "int", keep_zero=True),
        2: F("selector", "LabelSelector", keep_zero=True),
        3: F("template", "PodTemplateSpec"),
        4: F("strategy", "DeploymentStrategy"),
        5: F("minReadySeconds", "int"),
        6: F("revisionHistoryLimit", "int", keep_zero=True),
        7: F("paused", "bool"),
        9: F("progressDeadlineSeconds", "int", keep_zero=True),
    },
    "DeploymentStrategy": {1: _S("type"), 2: F("rollingUpdate", "RollingUpdateDeployment", keep_zero=True)},
    "RollingUpdateDeployment": {
        1: F("maxUnavailable", "intorstr", keep_zero=True),
        2: F("maxSurge", "intorstr", keep_zero=True),
    },
    "DeploymentStatus": {
        1: F("observedGeneration", "int"),
        2: F("replicas", "int"),
        3: F("updatedReplicas", "int"),
        4: F("availableReplicas", "int"),
        5: F("unavailableReplicas", "int"),
        7: F("readyReplicas", "int"),
        8: F("collisionCount", "int", keep_zero=True),
    },
    "PodTemplateSpec": {1: F("metadata", "ObjectMeta"), 2: F("spec", "PodSpec")},
    "PodSpec": {
        2: F("containers", "Container", repeated=True),
        3: _S("restartPolicy"),
        4: F("terminationGracePeriodSeconds", "int", keep_zero=True),
        5: F("activeDeadlineSeconds", "int", keep_zero=True),
        6: _S("dnsPolicy"),
        7: F("nodeSelector", "map"),
        8: _S("serviceAccountName"),
        9: _S("serviceAccount"),
        10: _S("nodeName"),
        11: F("hostNetwork", "bool"),
        12: F("hostPID", "bool"),
        13: F("hostIPC", "bool"),
        16: _S("hostname"),
        17: _S("subdomain"),
        19: _S("schedulerName"),
        20: F("initContainers", "Container", repeated=True),
        21: F("automountServiceAccountToken", "bool", keep_zero=True),
        22: F("tolerations", "Toleration", repeated=True),
        24: _S("priorityClassName"),
        25: F("priority", "int", keep_zero=True),
        30: F("enableServiceLinks", "bool", keep_zero=True),
    },
    "Toleration": {
        1: _S("key"),
        2: _S("operator"),
        3: _S("value"),
        4: _S("effect"),
        5: F("tolerationSeconds", "int", keep_zero=True),
    },
    "Container": {
        1: _S("name"),
        2: _S("image"),
        3: F("command", repeated=True),
        4: F("args", repeated=True),
        5: _S("workingDir"),
        6: F("ports", "ContainerPort", repeated=True),
        7: F("env", "EnvVar", repeated=True),
        8: F("resources", "ResourceRequirements"),
        13: _S("terminationMessagePath"),
        14: _S("imagePullPolicy"),
        16: F("stdin", "bool"),
        17: F("stdinOnce", "bool"),
        18: F("tty", "bool"),
        20: _S("terminationMessagePolicy"),
    },
    "ContainerPort": {
        1: _S("name"),
        2: F("hostPort", "int"),
        3: F("containerPort", "int"),
        4: _S("protocol"),
        5: _S("hostIP"),
    },
    "EnvVar": {1: _S("name"), 2: _S("value")},
    "ResourceRequirements": {1: F("limits", "map", values="quantity"), 2: F("requests", "map", values="quantity")},
}
"""Field number -> field, per message, for the kinds below and what they contain."""

KINDS: dict[tuple[str, str], str] = {
    ("v1", "Namespace"): "Namespace",
    ("v1", "ConfigMap"): "ConfigMap",
    ("apps/v1", "Deployment"): "Deployment",
}
"""(apiVersion, kind) of the objects a protobuf body may carry -> their table."""

TYPE_META: dict[int, F] = {1: _S("apiVersion"), 2: _S("kind")}
ENVELOPE: dict[int, F] = {1: F("typeMeta", "TypeMeta"), 3: _S("contentEncoding"), 4: _S("contentType")}
"""runtime.Unknown without its raw bytes (field 2), which are read as the object they hold."""


def decode_body(body: bytes) -> Obj:
    """The object a protobuf request body carries, as the JSON path would have stored it.

    Raises BadRequest (400) when the bytes are not a well-formed envelope or object, and
    UnsupportedProtobufKind when they are, around a kind without a table."""
    if not body.startswith(MAGIC):
        raise BadRequest("a protobuf body must start with the Kubernetes magic bytes k8s\\x00")
    envelope_bytes = body[len(MAGIC) :]
    try:
        envelope = _message(envelope_bytes, ENVELOPE, "envelope", 0, {"TypeMeta": TYPE_META})
        raws = [f.value for f in fields(envelope_bytes) if f.number == 2]  # runtime.Unknown.raw
        type_meta = envelope.get("typeMeta") or {}
        api_version, kind = str(type_meta.get("apiVersion", "")), str(type_meta.get("kind", ""))
        if envelope.get("contentEncoding"):
            raise BadRequest(f"protobuf content encoding {envelope['contentEncoding']!r} is not supported")
        if envelope.get("contentType", PROTOBUF) != PROTOBUF:  # empty: the raw bytes are protobuf
            raise BadRequest(f"a protobuf envelope around {envelope['contentType']!r} is not supported")
        table = KINDS.get((api_version, kind))
        if table is None:
            raise UnsupportedProtobufKind(f"{api_version}/{kind}" if api_version or kind else "an untyped object")
        raw = raws[-1] if raws else b""
        if not isinstance(raw, bytes):
            raise WireError("envelope.raw: expected length-delimited, got a number")
        obj = _message(raw, TABLES[table], kind, 0, TABLES)
    except WireError as exc:
        raise BadRequest(f"malformed protobuf body: {exc}") from None
    return {"apiVersion": api_version, "kind": kind, **obj}


def _message(data: bytes, table: dict[int, F], path: str, depth: int, tables: dict[str, dict[int, F]]) -> Obj:
    if depth > MAX_DEPTH:
        raise WireError(f"{path}: nested deeper than {MAX_DEPTH} messages")
    out: Obj = {}
    for field in fields(data):
        spec = table.get(field.number)
        if spec is None:
            continue  # unknown to this table: skipped by its wire type (fields() already did)
        where = f"{path}.{spec.name}"
        value = _value(field, spec, where, depth, tables)
        if spec.repeated:
            out.setdefault(spec.name, []).append(value)
        elif spec.kind == "map":
            out.setdefault(spec.name, {}).update(value)
        else:
            out[spec.name] = value
    return {k: v for k, v in out.items() if _kept(table, k, v)}


def _kept(table: dict[int, F], name: str, value: Any) -> bool:
    """Go's omitempty: a plain field at its zero value is left out; a pointer field is kept."""
    spec = next(s for s in table.values() if s.name == name)
    return spec.keep_zero or spec.repeated or value not in ("", 0, False, None, {}, [])


def _expect(field: WireField, wire_type: int, where: str) -> None:
    if field.wire_type != wire_type:
        names = {VARINT: "a varint", LENGTH: "length-delimited"}
        raise WireError(f"{where}: expected {names[wire_type]}, got wire type {field.wire_type}")


def _text(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise WireError(f"{where}: not valid UTF-8") from None


def _value(field: WireField, spec: F, where: str, depth: int, tables: dict[str, dict[int, F]]) -> Any:
    if spec.kind in ("int", "bool"):
        _expect(field, VARINT, where)
        assert isinstance(field.value, int)
        return signed64(field.value) if spec.kind == "int" else field.value != 0
    _expect(field, LENGTH, where)
    assert isinstance(field.value, bytes)
    if spec.kind == "string":
        return _text(field.value, where)
    if spec.kind == "bytes":
        return base64.b64encode(field.value).decode("ascii")
    return _nested(field.value, spec, where, depth + 1, tables)


_INLINE: dict[str, dict[int, F]] = {
    "time": {1: F("seconds", "int"), 2: F("nanos", "int")},
    "intorstr": {1: F("type", "int"), 2: F("intVal", "int"), 3: _S("strVal")},
    "quantity": {1: _S("string")},
}
"""Small messages that stand for one JSON value: metav1.Time, intstr.IntOrString, resource.Quantity."""


def _nested(raw: bytes, spec: F, where: str, depth: int, tables: dict[str, dict[int, F]]) -> Any:
    if spec.kind == "map":
        entry = _message(raw, {1: _S("key"), 2: F("value", spec.values)}, where, depth, tables)
        return {entry.get("key", ""): entry.get("value", "0" if spec.values == "quantity" else "")}
    parts = _message(raw, _INLINE.get(spec.kind) or tables[spec.kind], where, depth, tables)
    match spec.kind:
        case "time":
            return _time(parts)
        case "intorstr":
            return parts.get("strVal", "") if parts.get("type") == 1 else parts.get("intVal", 0)
        case "quantity":
            return parts.get("string", "")
    return parts


def _time(parts: Obj) -> str | None:
    seconds = int(parts.get("seconds", 0))
    if seconds == 0 and not parts.get("nanos"):
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        raise WireError(f"time of {seconds} seconds is out of range") from None
