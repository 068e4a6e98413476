"""Protobuf request bodies: the envelope and the field tables, real kubectl bytes, unknown fields,
and hostile bytes (never anything but a clear 400 or 415)."""

from __future__ import annotations

import base64
import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simcluster.clock import ManualClock
from simcluster.errors import BadRequest
from simcluster.harness import RunningSim, running_sim
from simcluster.protobuf_bodies import MAGIC, TABLES, F, UnsupportedProtobufKind, decode_body

# What kubectl 1.37.1 sent for `create deployment web --image=nginx:1.25 --replicas=3 --port=80 -n demo`
# and `create configmap cfg --from-literal=mode=fast --from-literal=b=2 -n demo` (captured from the wire).
KUBECTL_DEPLOYMENT = bytes.fromhex(
    "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412c1010a230a0377656212001a0464656d6f22002a00320038"
    "0042005a0a0a036170701203776562128b010803120c0a0a0a0361707012037765621a710a1c0a0012001a0022002a0032003800"
    "42005a0a0a036170701203776562125112330a056e67696e78120a6e67696e783a312e32352a00320a0a001000185022002a0042"
    "006a007200800100880100900100a201001a00320042004a0052005800600068008201008a01009a0100c2010022020a00280038"
    "001a0c0800100018002000280038001a002200"
)
KUBECTL_CONFIGMAP = bytes.fromhex(
    "6b3873000a0f0a0276311209436f6e6669674d6170122f0a170a0363666712001a0464656d6f22002a0032003800420012060a01"
    "62120132120c0a046d6f64651204666173741a002200"
)


# --- a small encoder, for building bodies in tests ------------------------------------------------


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _key(number: int, wire_type: int) -> bytes:
    return _varint(number << 3 | wire_type)


def _len(number: int, payload: bytes) -> bytes:
    return _key(number, 2) + _varint(len(payload)) + payload


def _scalar(number: int, spec: F, value: Any) -> bytes:
    if spec.kind == "int":
        return _key(number, 0) + _varint(int(value))
    if spec.kind == "bool":
        return _key(number, 0) + _varint(int(bool(value)))
    if spec.kind == "quantity":
        return _len(number, _len(1, str(value).encode()))
    if spec.kind == "bytes":
        return _len(number, base64.b64decode(value))
    if spec.kind == "map":
        inner = F("value", spec.values)
        return b"".join(_len(number, _len(1, str(k).encode()) + _scalar(2, inner, v)) for k, v in dict(value).items())
    if spec.kind in TABLES:
        return _len(number, encode(value, spec.kind))
    return _len(number, str(value).encode())


def encode(obj: dict[str, Any], table: str) -> bytes:
    """The message for `obj` by the decoder's own field table (a test of the reading, not the table)."""
    out = b""
    for number, spec in sorted(TABLES[table].items()):
        if spec.name not in obj:
            continue
        values = obj[spec.name] if spec.repeated else [obj[spec.name]]
        out += b"".join(_scalar(number, spec, v) for v in values)
    return out


def envelope(api_version: str, kind: str, raw: bytes, *, extra: bytes = b"") -> bytes:
    type_meta = _len(1, api_version.encode()) + _len(2, kind.encode())
    return MAGIC + _len(1, type_meta) + _len(2, raw) + extra + _len(3, b"") + _len(4, b"")


# --- real bytes -------------------------------------------------------------------------------------


def test_kubectl_deployment_bytes_decode_to_the_object_it_sent() -> None:
    assert decode_body(KUBECTL_DEPLOYMENT) == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "demo", "labels": {"app": "web"}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}]},
            },
        },
    }


def test_kubectl_configmap_bytes_decode_to_its_data() -> None:
    decoded = decode_body(KUBECTL_CONFIGMAP)
    assert decoded["kind"] == "ConfigMap" and decoded["data"] == {"mode": "fast", "b": "2"}


# --- the field tables ---------------------------------------------------------------------------------


def test_pointer_fields_keep_their_zero_and_plain_fields_drop_it() -> None:
    spec = {"replicas": 0, "paused": False, "minReadySeconds": 0, "strategy": {"rollingUpdate": {}}}
    decoded = decode_body(envelope("apps/v1", "Deployment", encode({"spec": spec}, "Deployment")))
    assert decoded["spec"] == {"replicas": 0, "strategy": {"rollingUpdate": {}}}


def test_int_or_string_quantities_negatives_and_binary_data() -> None:
    rolling = _len(1, _key(1, 0) + _varint(0) + _key(2, 0) + _varint(2))  # maxUnavailable: 2
    rolling += _len(2, _key(1, 0) + _varint(1) + _len(3, b"30%"))  # maxSurge: "30%"
    spec = _len(4, _len(2, rolling)) + _key(6, 0) + _varint(-1)  # revisionHistoryLimit -1 (ten-byte varint)
    container = {"name": "a", "resources": {"limits": {"memory": "128Mi"}, "requests": {"cpu": "50m"}}}
    spec += _len(3, _len(2, encode({"containers": [container]}, "PodSpec")))
    decoded = decode_body(envelope("apps/v1", "Deployment", _len(2, spec)))
    assert decoded["spec"]["strategy"] == {"rollingUpdate": {"maxUnavailable": 2, "maxSurge": "30%"}}
    assert decoded["spec"]["revisionHistoryLimit"] == -1
    assert decoded["spec"]["template"]["spec"]["containers"] == [container]
    binary = _len(3, _len(1, b"blob") + _len(2, b"\x00\xff"))
    assert decode_body(envelope("v1", "ConfigMap", binary))["binaryData"] == {"blob": "AP8="}


def test_unknown_fields_of_every_wire_type_are_skipped() -> None:
    unknown = (
        _key(90, 0) + _varint(7)  # varint
        + _key(91, 1) + b"\x01" * 8  # fixed64
        + _len(92, b"\x0a\x03abc")  # length-delimited
        + _key(93, 3) + _key(1, 0) + _varint(1) + _len(2, b"x") + _key(93, 4)  # a group, with fields inside
        + _key(94, 5) + b"\x02" * 4  # fixed32
    )  # fmt: skip
    meta = encode({"name": "web", "labels": {"app": "web"}}, "ObjectMeta") + unknown
    raw = _len(1, meta) + unknown + _len(2, encode({"replicas": 2}, "DeploymentSpec") + unknown)
    decoded = decode_body(envelope("apps/v1", "Deployment", raw, extra=unknown))
    assert decoded["metadata"] == {"name": "web", "labels": {"app": "web"}}
    assert decoded["spec"] == {"replicas": 2}


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"\x0a\x02v1", "magic bytes"),
        (MAGIC + b"\x0a", "truncated"),
        (MAGIC + b"\x12\x7f" + b"\x00" * 3, "runs past the end"),
        (MAGIC + b"\x0f", "wire type 7"),
        (MAGIC + b"\xff" * 11, "longer than 10 bytes"),
        (MAGIC + b"\x1b" + b"\x08\x01", "never closed"),
        (envelope("v1", "Namespace", _len(1, _len(1, b"\xff\xfe"))), "not valid UTF-8"),
        (envelope("v1", "Namespace", _len(1, _key(1, 0) + b"\x01")), "expected length-delimited"),
        (envelope("apps/v1", "Deployment", _len(2, _len(1, b"3"))), "expected a varint"),
        (envelope("v1", "Namespace", b"\x00"), "field number 0"),
        (MAGIC + _len(1, _len(1, b"v1") + _len(2, b"Namespace")) + _len(4, b"application/json"), "envelope around"),
        (MAGIC + _len(1, _len(1, b"v1") + _len(2, b"Namespace")) + _len(3, b"gzip"), "content encoding"),
    ],
)
def test_malformed_bytes_are_a_bad_request_that_says_where(body: bytes, says: str) -> None:
    with pytest.raises(BadRequest, match=says):
        decode_body(body)


def test_deeply_nested_groups_are_refused_not_followed() -> None:
    body = MAGIC + _key(50, 3) * 200
    with pytest.raises(BadRequest, match="nested deeper"):
        decode_body(body)


def test_a_kind_without_a_table_is_unsupported_not_misread() -> None:
    with pytest.raises(UnsupportedProtobufKind, match="v1/Service"):
        decode_body(envelope("v1", "Service", b""))


# --- hostile bytes ------------------------------------------------------------------------------------


def _decodes_or_refuses(body: bytes) -> None:
    try:
        decoded = decode_body(body)
    except (BadRequest, UnsupportedProtobufKind):
        return
    json.dumps(decoded)  # whatever decodes is plain JSON data


@given(st.binary(max_size=512))
def test_random_bytes_never_raise_anything_but_a_refusal(body: bytes) -> None:
    _decodes_or_refuses(body)
    _decodes_or_refuses(MAGIC + body)


@given(st.sampled_from([KUBECTL_DEPLOYMENT, KUBECTL_CONFIGMAP]), st.data())
def test_corrupted_kubectl_bodies_never_raise_anything_but_a_refusal(body: bytes, data: st.DataObject) -> None:
    at = data.draw(st.integers(min_value=len(MAGIC), max_value=len(body) - 1))
    mutation = data.draw(st.sampled_from(["flip", "truncate", "insert"]))
    if mutation == "flip":
        body = body[:at] + bytes([body[at] ^ data.draw(st.integers(1, 255))]) + body[at + 1 :]
    elif mutation == "truncate":
        body = body[:at]
    else:
        body = body[:at] + data.draw(st.binary(min_size=1, max_size=8)) + body[at:]
    _decodes_or_refuses(body)


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSim]:
    with running_sim("bare", clock=ManualClock()) as running:
        yield running


def _post(sim: RunningSim, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
    url = urlsplit(sim.url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
    try:
        headers = {"Content-Type": "application/vnd.kubernetes.protobuf", "Accept": "application/json"}
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


PATHS = ["/api/v1/namespaces", "/api/v1/namespaces/default/configmaps", "/apis/apps/v1/namespaces/default/deployments"]


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(st.sampled_from(PATHS), st.binary(max_size=300), st.booleans())
def test_random_protobuf_posts_are_never_a_server_error(sim: RunningSim, path: str, body: bytes, magic: bool) -> None:
    status, answer = _post(sim, path, (MAGIC if magic else b"") + body)
    assert status < 500, answer
    if status >= 400:
        assert answer["kind"] == "Status" and answer["message"]


name = st.from_regex(r"[a-z][a-z0-9-]{0,20}[a-z0-9]", fullmatch=True)
text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    name,
    st.dictionaries(st.from_regex(r"[a-z]{1,10}", fullmatch=True), text, max_size=4),
    st.integers(min_value=-(2**31), max_value=2**31 - 1),
    text,
)
def test_generated_deployments_are_created_or_refused_never_a_server_error(
    sim: RunningSim, deploy_name: str, labels: dict[str, str], replicas: int, image: str
) -> None:
    template = {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "main", "image": image}]}}
    spec = {"replicas": replicas, "selector": {"matchLabels": labels}, "template": template}
    raw = encode({"metadata": {"name": deploy_name}, "spec": spec}, "Deployment")
    status, answer = _post(sim, "/apis/apps/v1/namespaces/default/deployments", envelope("apps/v1", "Deployment", raw))
    assert status < 500, answer
    if status == 201:
        assert answer["spec"]["replicas"] == replicas and answer["metadata"]["name"] == deploy_name


# --- round trip over the tables ---------------------------------------------------------------------

KINDS_BY_TABLE = {"Deployment": "apps/v1", "ConfigMap": "v1", "Namespace": "v1"}
SKIPPED_KINDS = ("time", "intorstr")
"""Fields the test encoder does not write (their own tests above cover them)."""
nonempty_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)


def _values(spec: F, depth: int) -> st.SearchStrategy[Any]:
    match spec.kind:
        case "string":
            return nonempty_text
        case "int":
            return st.integers(-(2**63), 2**63 - 1).filter(bool)
        case "bool":
            return st.just(True)
        case "map":
            values = {
                "quantity": st.from_regex(r"[0-9]{1,4}(Mi|m)?", fullmatch=True),
                "bytes": st.binary(max_size=8).map(lambda b: base64.b64encode(b).decode()),
            }
            return st.dictionaries(nonempty_text, values.get(spec.values, nonempty_text), min_size=1, max_size=3)
    return messages(spec.kind, depth + 1)


def messages(table: str, depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    """Objects the table can carry, every field at a non-zero value (so nothing is dropped)."""
    specs = [s for s in TABLES[table].values() if s.kind not in SKIPPED_KINDS and (depth < 4 or s.kind not in TABLES)]
    if not specs:
        return st.just({})

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        chosen = draw(st.lists(st.sampled_from(specs), min_size=1, max_size=4, unique_by=lambda s: s.name))
        out: dict[str, Any] = {}
        for spec in chosen:
            strategy = _values(spec, depth)
            out[spec.name] = draw(st.lists(strategy, min_size=1, max_size=2) if spec.repeated else strategy)
        return out

    return build().filter(bool)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(KINDS_BY_TABLE)), st.data())
def test_what_the_tables_can_carry_decodes_to_what_was_encoded(table: str, data: st.DataObject) -> None:
    obj = data.draw(messages(table))
    api_version = KINDS_BY_TABLE[table]
    decoded = decode_body(envelope(api_version, table, encode(obj, table)))
    assert decoded == {"apiVersion": api_version, "kind": table, **obj}
