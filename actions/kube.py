"""The Kubernetes adapter: the only module that imports `kubernetes`.

It speaks the REST API generically over the official client's transport (authentication,
TLS, kubeconfig handling) and hands back plain JSON dicts, so the rest of the product never
touches generated model classes. One retry policy covers every call: connection errors,
429 and 5xx are retried with backoff honouring Retry-After; other 4xx never are.

A `WriteGuard` (see `Kube.guarded`) is asked before every try of a write or dry run, and,
after a try whose answer was lost (connection error, timeout, 5xx), whether the write already
took effect, so a retry never repeats a write that landed.
"""

from __future__ import annotations

import builtins
import copy
import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import quote

import kubernetes.client
import kubernetes.config
import urllib3
import yaml
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

Obj = dict[str, Any]


@dataclass(frozen=True)
class Resource:
    """Where a kind lives in the REST API."""

    kind: str
    group: str
    version: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        if name:
            base += f"/{quote(name, safe='')}"
        if subresource:
            base += f"/{subresource}"
        return base


RESOURCES: dict[str, Resource] = {
    r.kind: r
    for r in (
        Resource("Namespace", "", "v1", "namespaces", False),
        Resource("Node", "", "v1", "nodes", False),
        Resource("Pod", "", "v1", "pods", True),
        Resource("Service", "", "v1", "services", True),
        Resource("ConfigMap", "", "v1", "configmaps", True),
        Resource("Event", "", "v1", "events", True),
        Resource("Deployment", "apps", "v1", "deployments", True),
        Resource("ReplicaSet", "apps", "v1", "replicasets", True),
        Resource("StatefulSet", "apps", "v1", "statefulsets", True),
        Resource("DaemonSet", "apps", "v1", "daemonsets", True),
        Resource("ControllerRevision", "apps", "v1", "controllerrevisions", True),
        Resource("PodDisruptionBudget", "policy", "v1", "poddisruptionbudgets", True),
        Resource("HorizontalPodAutoscaler", "autoscaling", "v2", "horizontalpodautoscalers", True),
        Resource("CronJob", "batch", "v1", "cronjobs", True),
        Resource("Job", "batch", "v1", "jobs", True),
        Resource("Lease", "coordination.k8s.io", "v1", "leases", True),
        Resource("Application", "argoproj.io", "v1alpha1", "applications", True),
        Resource("Kustomization", "kustomize.toolkit.fluxcd.io", "v1", "kustomizations", True),
        Resource("HelmRelease", "helm.toolkit.fluxcd.io", "v2", "helmreleases", True),
    )
}
"""The kinds Scutum reads or writes. Secrets are deliberately absent: Scutum never reads them."""


class PatchType(StrEnum):
    STRATEGIC = "application/strategic-merge-patch+json"
    MERGE = "application/merge-patch+json"
    JSON = "application/json-patch+json"


class KubeError(Exception):
    """Any failure talking to the API server."""

    def __init__(self, message: str, *, status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class KubeConfigError(KubeError):
    """The kubeconfig or service account cannot be used; the message is one line."""


_UNUSABLE_KUBECONFIG = (
    kubernetes.config.ConfigException,
    OSError,
    ValueError,
    yaml.YAMLError,
    TypeError,
    AttributeError,
    KeyError,
)
"""What the client's loader raises on a missing file or one of the wrong shape (a list, a
number): the shape errors surface as TypeError/AttributeError/KeyError from inside it."""


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


class TransientError(KubeError):
    """Worth retrying: connection trouble, throttling (429) or a server error (5xx)."""

    def __init__(self, message: str, *, status: int | None = None, reason: str = "", retry_after: float | None = None):
        super().__init__(message, status=status, reason=reason)
        self.retry_after = retry_after


class PermanentError(KubeError):
    """Retrying will not help: bad request, forbidden, invalid."""


class NotFoundError(PermanentError):
    """The object does not exist (404)."""


class ConflictError(PermanentError):
    """A stale resourceVersion or an object that already exists (409)."""


class TooManyRequestsError(TransientError):
    """429: throttled, or an eviction a PodDisruptionBudget blocks right now."""


@dataclass(frozen=True)
class RetryPolicy:
    """The one retry policy for every API call."""

    attempts: int = 4
    """Tries per call, the first included."""
    max_delay_seconds: float = 10.0
    """Give up retrying once this much time has passed."""
    initial_backoff_seconds: float = 0.2
    """First backoff; it doubles, with jitter, up to max_backoff_seconds."""
    max_backoff_seconds: float = 3.0
    """Longest single backoff unless the server's Retry-After asks for more (capped at max_delay)."""
    request_timeout_seconds: float = 30.0
    """How long one request may take before its answer counts as lost."""


@dataclass(frozen=True)
class WriteRequest:
    """One write (or dry run) about to be sent: what a `WriteGuard` judges."""

    method: str
    path: str
    body: Any
    dry_run: bool


class WriteGuard(Protocol):
    """Asked before every try of a write; raises to stop it (a fenced-out replica)."""

    def before_write(self, write: WriteRequest) -> None:
        """Check, and record what the write intends, before it is sent."""

    def landed(self, write: WriteRequest) -> Obj | None:
        """After a try whose answer was lost: the object when the write already took effect, else None."""


@dataclass(frozen=True)
class WatchEvent:
    type: str
    object: Obj


def resource(kind: str) -> Resource:
    try:
        return RESOURCES[kind]
    except KeyError:
        raise PermanentError(f"kind {kind!r} is not one Scutum handles") from None


def _error_from_response(status: int, body: bytes, headers: Mapping[str, str]) -> KubeError:
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        payload = {}
    message = str(payload.get("message") or body[:300].decode("utf-8", "replace") or f"HTTP {status}")
    reason = str(payload.get("reason") or "")
    causes = [str(c.get("message")) for c in (payload.get("details") or {}).get("causes") or [] if c.get("message")]
    if causes:
        message = f"{message} ({'; '.join(causes)})"
    if status == 404:
        return NotFoundError(message, status=status, reason=reason)
    if status == 409:
        return ConflictError(message, status=status, reason=reason)
    if status == 429 or status >= 500:
        retry_after: float | None = None
        raw = headers.get("Retry-After") or headers.get("retry-after")
        if raw:
            try:
                retry_after = float(raw)
            except ValueError:
                retry_after = None
        cls = TooManyRequestsError if status == 429 else TransientError
        return cls(message, status=status, reason=reason, retry_after=retry_after)
    return PermanentError(message, status=status, reason=reason)


class Kube:
    """Generic, retrying access to the Kubernetes REST API, returning plain dicts.

    `requests` counts the HTTP requests sent (retries included): benchmarks read it.
    """

    def __init__(self, api_client: kubernetes.client.ApiClient, *, retry: RetryPolicy | None = None) -> None:
        self._api = api_client
        self._retry = retry or RetryPolicy()
        self._count_lock = threading.Lock()
        self._counter = [0]
        self._guard: WriteGuard | None = None

    @property
    def requests(self) -> int:
        """HTTP requests sent (retries included), by this adapter and its guarded copies."""
        return self._counter[0]

    @requests.setter
    def requests(self, value: int) -> None:
        self._counter[0] = value

    def guarded(self, guard: WriteGuard) -> Kube:
        """A copy sharing this adapter's connection whose writes all pass `guard` first."""
        clone = copy.copy(self)
        clone._guard = guard
        return clone

    # --- construction ------------------------------------------------------------------

    @classmethod
    def from_kubeconfig(cls, path: str | None = None, *, context: str | None = None, **kw: Any) -> Kube:
        """From a kubeconfig file; KubeConfigError (one line) when it is missing or unusable."""
        config = kubernetes.client.Configuration()
        try:
            kubernetes.config.load_kube_config(config_file=path, context=context, client_configuration=config)
        except _UNUSABLE_KUBECONFIG as exc:
            where = path or "the default kubeconfig"
            raise KubeConfigError(f"cannot use {where}: {_one_line(exc)}") from None
        return cls(_client(config), **kw)

    @classmethod
    def in_cluster(cls, **kw: Any) -> Kube:
        """From the pod's service account; KubeConfigError when not running in a cluster."""
        config = kubernetes.client.Configuration()
        try:
            kubernetes.config.load_incluster_config(client_configuration=config)
        except (kubernetes.config.ConfigException, OSError) as exc:
            raise KubeConfigError(f"cannot use the in-cluster service account: {_one_line(exc)}") from None
        return cls(_client(config), **kw)

    @classmethod
    def from_url(cls, url: str, *, token: str | None = None, verify_ssl: bool = True, **kw: Any) -> Kube:
        config = kubernetes.client.Configuration(host=url.rstrip("/"))
        config.verify_ssl = verify_ssl
        if token:
            config.api_key = {"authorization": f"Bearer {token}"}
        return cls(_client(config), **kw)

    @property
    def host(self) -> str:
        return str(self._api.configuration.host)

    def close(self) -> None:
        self._api.close()

    # --- transport ---------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float | tuple[float, float] | None = None,
        decode: bool = True,
    ) -> Any:
        """The answer's JSON, decoded (or its raw bytes, when not `decode`)."""
        guard = self._guard if method != "GET" else None
        write = WriteRequest(method, path, body, _is_dry(query, body)) if guard else None
        lost = [False]

        def once() -> Any:
            if guard is not None and write is not None:
                if lost[0] and not write.dry_run:
                    landed = guard.landed(write)
                    if landed is not None:
                        return landed
                guard.before_write(write)
            with self._count_lock:
                self._counter[0] += 1
            url_path = path
            if query:
                url_path += "?" + "&".join(f"{k}={quote(str(v), safe='')}" for k, v in query.items())
            headers = {"Accept": "application/json", "Content-Type": content_type}
            method_, url, headers_, body_, _ = self._api.param_serialize(
                method, url_path, header_params=headers, body=body, auth_settings=["BearerToken"]
            )
            try:
                response = self._api.call_api(
                    method_,
                    url,
                    header_params=headers_,
                    body=body_,
                    _request_timeout=timeout or self._retry.request_timeout_seconds,
                )
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                lost[0] = True
                raise TransientError(f"{method} {path}: {exc}") from exc
            data = response.read()
            if not 200 <= response.status < 300:
                lost[0] = lost[0] or response.status >= 500
                raise _error_from_response(response.status, data, response.headers)
            if not decode:
                return bytes(data)
            return json.loads(data) if data else {}

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            backoff = wait_exponential_jitter(
                multiplier=self._retry.initial_backoff_seconds,
                max=self._retry.max_backoff_seconds,
                jitter=self._retry.initial_backoff_seconds,
            )(state)
            if isinstance(exc, TransientError) and exc.retry_after is not None:
                return min(max(backoff, exc.retry_after), self._retry.max_delay_seconds)
            return backoff

        retrying = Retrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(self._retry.attempts) | stop_after_delay(self._retry.max_delay_seconds),
            wait=wait,
            reraise=True,
        )
        return retrying(once)

    # --- verbs -------------------------------------------------------------------------

    def read(self, path: str) -> Obj | None:
        """GET an API path (as a `WriteRequest` names it); None when the object does not exist."""
        try:
            result: Obj = self._send("GET", path)
        except NotFoundError:
            return None
        return result

    def get(self, kind: str, name: str, namespace: str | None = None, *, subresource: str | None = None) -> Obj:
        result: Obj = self._send("GET", resource(kind).path(namespace, name, subresource))
        return result

    def try_get(self, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        try:
            return self.get(kind, name, namespace)
        except NotFoundError:
            return None

    def list_with_version(
        self,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[list[Obj], str]:
        """Items (with kind and apiVersion filled in, as a list omits them) and the list's resourceVersion."""
        query = {}
        if label_selector:
            query["labelSelector"] = label_selector
        if field_selector:
            query["fieldSelector"] = field_selector
        res = resource(kind)
        data = self._send("GET", res.path(namespace), query=query)
        items: list[Obj] = data.get("items") or []
        for item in items:
            item.setdefault("kind", kind)
            item.setdefault("apiVersion", res.api_version)
        return items, str(data.get("metadata", {}).get("resourceVersion", ""))

    def list_json(self, kind: str, namespace: str | None = None) -> bytes:
        """A list's response body as the server sent it, undecoded: for a reader (the watch cache)
        that keeps objects as JSON and would only encode again what `list` decodes. Its items
        carry neither kind nor apiVersion."""
        body: bytes = self._send("GET", resource(kind).path(namespace), decode=False)
        return body

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> builtins.list[Obj]:
        return self.list_with_version(kind, namespace, label_selector=label_selector, field_selector=field_selector)[0]

    def create(self, kind: str, body: Obj, namespace: str | None = None, *, dry_run: bool = False) -> Obj:
        ns = namespace or body.get("metadata", {}).get("namespace")
        result: Obj = self._send("POST", resource(kind).path(ns), query=_dry(dry_run), body=body)
        return result

    def replace(self, kind: str, name: str, body: Obj, namespace: str | None = None, *, dry_run: bool = False) -> Obj:
        result: Obj = self._send("PUT", resource(kind).path(namespace, name), query=_dry(dry_run), body=body)
        return result

    def patch(
        self,
        kind: str,
        name: str,
        patch: Obj | builtins.list[Obj],
        namespace: str | None = None,
        *,
        patch_type: PatchType = PatchType.STRATEGIC,
        dry_run: bool = False,
        subresource: str | None = None,
        field_manager: str = "scutum",
    ) -> Obj:
        query = {**_dry(dry_run), "fieldManager": field_manager}
        result: Obj = self._send(
            "PATCH",
            resource(kind).path(namespace, name, subresource),
            query=query,
            body=patch,
            content_type=patch_type.value,
        )
        return result

    def delete(self, kind: str, name: str, namespace: str | None = None, *, dry_run: bool = False) -> Obj:
        body: Obj = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        if dry_run:
            body["dryRun"] = ["All"]
        result: Obj = self._send("DELETE", resource(kind).path(namespace, name), query=_dry(dry_run), body=body)
        return result

    def evict(self, name: str, namespace: str, *, dry_run: bool = False) -> None:
        """Evict a pod through the Eviction API; a PDB that forbids it raises TooManyRequestsError."""
        body: Obj = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": namespace}}
        if dry_run:
            body["deleteOptions"] = {"dryRun": ["All"]}
        self._send("POST", resource("Pod").path(namespace, name, "eviction"), body=body)

    def watch(
        self,
        kind: str,
        namespace: str | None = None,
        *,
        resource_version: str = "",
        timeout_seconds: int = 30,
    ) -> Iterator[WatchEvent]:
        """Stream changes after `resource_version` until the server closes the watch."""
        query = {"watch": "true", "timeoutSeconds": str(timeout_seconds), "allowWatchBookmarks": "true"}
        if resource_version:
            query["resourceVersion"] = resource_version
        url_path = resource(kind).path(namespace) + "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items())
        with self._count_lock:
            self._counter[0] += 1
        method_, url, headers_, _, _ = self._api.param_serialize(
            "GET", url_path, header_params={"Accept": "application/json"}, auth_settings=["BearerToken"]
        )
        try:
            response = self._api.rest_client.pool_manager.request(
                method_, url, headers=headers_, preload_content=False, timeout=timeout_seconds + 10
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise TransientError(f"watch {kind}: {exc}") from exc
        try:
            if response.status != 200:
                raise _error_from_response(response.status, response.read(), response.headers)
            buffer = b""
            for chunk in response.stream(65536):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        event = json.loads(line)
                        yield WatchEvent(str(event.get("type")), event.get("object") or {})
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise TransientError(f"watch {kind}: {exc}") from exc
        finally:
            response.release_conn()


def _client(config: kubernetes.client.Configuration) -> kubernetes.client.ApiClient:
    """An API client whose transport never retries on its own: the one retry policy is ours."""
    config.retries = False
    return kubernetes.client.ApiClient(config)


def _is_dry(query: Mapping[str, str] | None, body: Any) -> bool:
    """Whether a write is a server-side dry run (in the query, or an eviction's delete options)."""
    if (query or {}).get("dryRun") == "All":
        return True
    options = body.get("deleteOptions") if isinstance(body, dict) else None
    return isinstance(options, dict) and "All" in (options.get("dryRun") or [])


def _dry(dry_run: bool) -> dict[str, str]:
    return {"dryRun": "All"} if dry_run else {}
