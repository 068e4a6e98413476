"""Compact storage for the watch cache: each object kept as compressed JSON, indexed outside it.

At 10,000 Deployments the cache holds some 50,000 objects; as frozen dicts they cost ~8 KB
each. Here an object is its JSON, deflated against a preset dictionary built from the first
objects of its kind listed (objects of one kind share most of their text, so a 2 KB Pod keeps
~150 bytes), and what reads select by (namespace, name, labels, controller owner, node) is kept
beside it in plain Python, so a selected read decodes only the objects it returns. A decoded
object is frozen (`risk.frozen`), so callers get the same read-only objects as before, and the
most recently read ones are kept decoded (`RecentObjects`).

This is the only module that imports `msgspec` (an import-linter contract says so): it splits
a list's body into its items without building them and decodes an object's JSON.
"""

from __future__ import annotations

import sys
import threading
import zlib
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import msgspec

from risk.frozen import freeze

Obj = dict[str, Any]
Key = tuple[str, str]
"""(namespace or "", name)"""
Labels = tuple[str, ...]
"""An object's labels as a flat tuple: key, value, key, value, ..."""

ZDICT_BYTES = 32 * 1024
"""Cap on a kind's preset dictionary (deflate's window: a longer one would not be used)."""
_WBITS = -15
"""Raw deflate (no header or checksum per object: the cache is its only reader) over a 32 KiB window."""
_LEVEL = 3
"""Within a few percent of level 6's size here (the dictionary does most of the work), in half the time."""

_intern = sys.intern
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


class _Owner(msgspec.Struct):
    uid: str = ""
    controller: bool | None = None


class _Meta(msgspec.Struct):
    name: str = ""
    namespace: str | None = None
    labels: dict[str, str] | None = None
    ownerReferences: list[_Owner] | None = None  # noqa: N815 (the API's spelling)


class _Spec(msgspec.Struct):
    nodeName: str | None = None  # noqa: N815


class _Head(msgspec.Struct):
    """What the indexes need of an object; everything else is skipped without being built."""

    metadata: _Meta | None = None
    spec: _Spec | None = None


class _ListMeta(msgspec.Struct):
    resourceVersion: str = ""  # noqa: N815


class _ListBody(msgspec.Struct):
    metadata: _ListMeta | None = None
    items: list[msgspec.Raw] | None = None


_head_decoder = msgspec.json.Decoder(_Head)
_list_decoder = msgspec.json.Decoder(_ListBody)


@dataclass(frozen=True, slots=True)
class Head:
    """An object's index fields."""

    key: Key
    labels: Labels
    owner_uid: str
    node: str


def split_list(body: bytes) -> tuple[list[memoryview], str]:
    """A list response's items, each its own JSON (views into `body`, nothing decoded), and the
    list's resourceVersion. ValueError when the body is not a list's JSON."""
    try:
        parsed = _list_decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise ValueError(f"not a list response: {exc}") from None
    version = parsed.metadata.resourceVersion if parsed.metadata else ""
    return [memoryview(item) for item in parsed.items or ()], version


def encode(obj: Obj) -> bytes:
    """An object's JSON."""
    return _encoder.encode(obj)


def head_of(raw: bytes | memoryview) -> Head:
    """The index fields of an object's JSON; ValueError when it is not a JSON object."""
    try:
        head = _head_decoder.decode(raw)
    except msgspec.ValidationError:
        return _loose_head(raw)  # a field of an unexpected type (a label that is a number)
    except msgspec.DecodeError as exc:
        raise ValueError(f"not a JSON object: {exc}") from None
    meta = head.metadata or _Meta()
    owner = next((ref.uid for ref in meta.ownerReferences or () if ref.controller), "")
    flat: list[str] = []
    for k, v in (meta.labels or {}).items():
        flat += (_intern(k), _intern(v))
    node = (head.spec.nodeName if head.spec else None) or ""
    return Head((_intern(meta.namespace or ""), _intern(meta.name)), tuple(flat), _intern(owner) if owner else "", node)


def _loose_head(raw: bytes | memoryview) -> Head:
    """`head_of` the slow way, for an object whose fields have unexpected types."""
    obj = _decoder.decode(raw)
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    refs = [r for r in meta.get("ownerReferences") or () if isinstance(r, dict)]
    owner = next((str(r.get("uid") or "") for r in refs if r.get("controller")), "")
    labels = meta.get("labels")
    flat = [str(part) for pair in (labels.items() if isinstance(labels, dict) else ()) for part in pair]
    spec = obj.get("spec")
    node = str((spec.get("nodeName") if isinstance(spec, dict) else None) or "")
    return Head((str(meta.get("namespace") or ""), str(meta.get("name") or "")), tuple(flat), owner, node)


def label_map(flat: Labels) -> dict[str, str]:
    """A flat label tuple as a dict."""
    return dict(zip(flat[::2], flat[1::2], strict=True))


def selects(flat: Labels, wanted: dict[str, str]) -> bool:
    """Whether labels (flat) have every key=value in `wanted`."""
    if not wanted:
        return True
    have = label_map(flat)
    return all(have.get(k) == v for k, v in wanted.items())


class Codec:
    """Compresses and restores the objects of one kind against a preset dictionary."""

    def __init__(self, kind: str, zdict: bytes = b"", *, api_version: str | None = None) -> None:
        self.kind = kind
        self.api_version = api_version
        self.zdict = zdict[-ZDICT_BYTES:]
        self._primed = (
            zlib.compressobj(_LEVEL, zlib.DEFLATED, _WBITS, 8, zlib.Z_DEFAULT_STRATEGY, self.zdict)
            if self.zdict
            else zlib.compressobj(_LEVEL, zlib.DEFLATED, _WBITS)
        )

    @classmethod
    def from_samples(cls, kind: str, samples: Iterable[bytes | memoryview], *, api_version: str | None = None) -> Codec:
        """A codec whose dictionary is the first samples' JSON, up to `ZDICT_BYTES`."""
        parts: list[bytes] = []
        size = 0
        for sample in samples:
            if size >= ZDICT_BYTES:
                break
            parts.append(bytes(sample))
            size += len(parts[-1])
        # deflate looks back from the end of the dictionary: the first sample goes last.
        return cls(kind, b"".join(reversed(parts))[-ZDICT_BYTES:], api_version=api_version)

    def pack(self, raw: bytes | memoryview) -> bytes:
        """An object's JSON, compressed."""
        compressor = self._primed.copy()  # a quarter of the cost of priming a new one
        return compressor.compress(raw) + compressor.flush()

    def json(self, blob: bytes) -> bytes:
        """The JSON a blob holds."""
        if self.zdict:
            return zlib.decompressobj(_WBITS, self.zdict).decompress(blob)
        return zlib.decompressobj(_WBITS).decompress(blob)

    def unpack(self, blob: bytes) -> Obj:
        """The read-only object a blob holds; a list's item gets the kind and apiVersion the
        list leaves out."""
        obj = _decoder.decode(self.json(blob))
        if "kind" not in obj:
            obj["kind"] = self.kind
            if self.api_version and "apiVersion" not in obj:
                obj["apiVersion"] = self.api_version
        frozen: Obj = freeze(obj)
        return frozen


@dataclass(frozen=True, slots=True)
class Entry:
    """One stored object: its blob, change number and index fields."""

    blob: bytes
    seq: int
    labels: Labels
    owner_uid: str
    node: str


class KindStore:
    """The objects of one kind, compressed, with their indexes. Not thread-safe: the cache
    holds its lock around every call."""

    def __init__(self, codec: Codec) -> None:
        self.codec = codec
        self.entries: dict[Key, Entry] = {}
        self.changes: dict[int, Key] = {}
        """Change number -> object, oldest change first (a dict keeps insertion order)."""
        self.by_namespace: dict[str, set[Key]] = defaultdict(set)
        self.by_owner: dict[str, set[Key]] = defaultdict(set)
        self.by_node: dict[str, set[Key]] = defaultdict(set)

    def __len__(self) -> int:
        return len(self.entries)

    def put_json(self, raw: bytes | memoryview, seq: int) -> Key:
        """Store an object's JSON as change number `seq`; returns its key."""
        head = head_of(raw)
        key = head.key
        self.remove(key)
        self.entries[key] = Entry(self.codec.pack(raw), seq, head.labels, head.owner_uid, head.node)
        self.changes[seq] = key
        self.by_namespace[key[0]].add(key)
        if head.owner_uid:
            self.by_owner[head.owner_uid].add(key)
        if head.node:
            self.by_node[head.node].add(key)
        return key

    def put(self, obj: Obj, seq: int) -> Key:
        """Store an object (a watch event's) as change number `seq`."""
        return self.put_json(encode(obj), seq)

    def remove(self, key: Key) -> None:
        """Forget an object and its index entries."""
        old = self.entries.pop(key, None)
        if old is None:
            return
        del self.changes[old.seq]
        _discard(self.by_namespace, key[0], key)
        if old.owner_uid:
            _discard(self.by_owner, old.owner_uid, key)
        if old.node:
            _discard(self.by_node, old.node, key)

    def changed_since(self, cursor: int, limit: int | None = None) -> tuple[list[tuple[Key, bytes]], int]:
        """(key, blob) of objects changed after `cursor`, oldest change first, at most `limit`,
        and the cursor after the last one returned."""
        newer: list[int] = []
        for seq in reversed(self.changes):
            if seq <= cursor:
                break
            newer.append(seq)
        newer.reverse()
        if limit is not None:
            newer = newer[:limit]
        picked = [(key, self.entries[key].blob) for key in map(self.changes.__getitem__, newer)]
        return picked, (newer[-1] if newer else cursor)

    def select(
        self,
        *,
        namespace: str | None = None,
        node: str | None = None,
        owner_uid: str | None = None,
        name: str | None = None,
        labels: dict[str, str] | None = None,
    ) -> list[tuple[Key, bytes]]:
        """(key, blob) of the objects that match, in key order, from the indexes alone."""
        keys: Iterable[Key]
        if owner_uid is not None:
            keys = self.by_owner.get(owner_uid, ())
        elif node is not None:
            keys = self.by_node.get(node, ())
        elif namespace is not None:
            keys = self.by_namespace.get(namespace, ())
        else:
            keys = self.entries
        found = []
        for key in sorted(keys):
            if (namespace is not None and key[0] != namespace) or (name is not None and key[1] != name):
                continue
            entry = self.entries[key]
            if (node is not None and entry.node != node) or (owner_uid is not None and entry.owner_uid != owner_uid):
                continue
            if labels and not selects(entry.labels, labels):
                continue
            found.append((key, entry.blob))
        return found


def _discard(index: dict[str, set[Key]], value: str, key: Key) -> None:
    keys = index.get(value)
    if keys is not None:
        keys.discard(key)
        if not keys:
            del index[value]


class RecentObjects:
    """The most recently read objects, decoded, so a hot object is not decoded at every read.

    Entries are checked against the blob they came from: one the store has since replaced is
    a miss, so nothing has to be invalidated when an object changes."""

    def __init__(self, capacity: int = 1024) -> None:
        self.capacity = capacity
        self._items: OrderedDict[tuple[str, Key], tuple[bytes, Obj]] = OrderedDict()
        self._lock = threading.Lock()
        self.decodes = 0
        """Objects decoded (misses)."""

    def __len__(self) -> int:
        return len(self._items)

    def read(self, codec: Codec, key: Key, blob: bytes, *, keep: bool = True) -> Obj:
        """The object `blob` holds: the kept one when it came from this very blob, else decoded
        (and kept, unless `keep` is false: a long walk should not push out what reads use)."""
        slot = (codec.kind, key)
        with self._lock:
            hit = self._items.get(slot)
            if hit is not None and hit[0] is blob:
                self._items.move_to_end(slot)
                return hit[1]
        obj = codec.unpack(blob)
        with self._lock:
            self.decodes += 1
            if keep:
                self._items[slot] = (blob, obj)
                self._items.move_to_end(slot)
                while len(self._items) > self.capacity:
                    self._items.popitem(last=False)
        return obj
