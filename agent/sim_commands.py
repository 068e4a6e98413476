"""`scutum sim inject` and `scutum sim requests`: API fault rules and the request log of a running
simulated cluster, through its `/sim/v1/api-faults` and `/sim/v1/requests` routes."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

KubeconfigOption = Annotated[
    Path, typer.Option("--kubeconfig", help="The simulated cluster's kubeconfig (its server URL is used).")
]
UrlOption = Annotated[str | None, typer.Option("--url", help="The simulated cluster's URL (instead of --kubeconfig).")]


def _base_url(url: str | None, kubeconfig: Path) -> str:
    if url:
        return url.rstrip("/")
    config = yaml.safe_load(kubeconfig.read_text())
    return str(config["clusters"][0]["cluster"]["server"]).rstrip("/")


def _call(method: str, url: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    if not url.startswith(("http://", "https://")):
        raise typer.BadParameter(f"not an HTTP URL: {url}")
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the scheme is checked above
        return json.loads(response.read() or b"null")


def rule_spec(
    kind: str,
    *,
    verb: str,
    resource: str,
    namespace: str,
    name: str,
    status: int,
    retry_after: float | None,
    seconds: float | None,
    apply: bool,
    count: int | None,
    duration: float | None,
    dry_run: bool | None,
) -> dict[str, Any]:
    """The JSON rule the sim route takes, with unset options left out."""
    spec: dict[str, Any] = {"kind": kind, "verb": verb, "resource": resource, "namespace": namespace, "name": name}
    spec |= {"status": status, "apply": apply}
    optional = {
        "retry_after_seconds": retry_after,
        "seconds": seconds,
        "count": count,
        "duration_seconds": duration,
        "dry_run": dry_run,
    }
    return spec | {k: v for k, v in optional.items() if v is not None}


def sim_inject(
    kind: Annotated[str, typer.Argument(help="status | latency | reset | hang | apply_then_fail")] = "status",
    *,
    verb: Annotated[str, typer.Option(help="Kubernetes verb or HTTP method (empty: any).")] = "",
    resource: Annotated[str, typer.Option(help="Plural resource, optionally /subresource (empty: any).")] = "",
    namespace: Annotated[str, typer.Option(help="Namespace (empty: any).")] = "",
    name: Annotated[str, typer.Option(help="Object name (empty: any).")] = "",
    status: Annotated[int, typer.Option(help="HTTP status answered by status faults.")] = 503,
    retry_after: Annotated[float | None, typer.Option(help="Retry-After seconds sent with the status.")] = None,
    seconds: Annotated[float | None, typer.Option(help="Latency added, or how long a hang lasts.")] = None,
    apply: Annotated[bool, typer.Option(help="Serve the request first, then fail the answer.")] = False,
    count: Annotated[int | None, typer.Option(help="Stop after this many matching requests.")] = None,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    dry_run: Annotated[bool | None, typer.Option("--dry-run/--real", help="Only dry runs / only real writes.")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Clear every API fault rule instead.")] = False,
    url: UrlOption = None,
    kubeconfig: KubeconfigOption = Path("simcluster.kubeconfig"),
) -> None:
    """Add an API fault rule to a running simulated cluster (or `--clear` them all); prints it as JSON."""
    base = _base_url(url, kubeconfig) + "/sim/v1/api-faults"
    if clear:
        typer.echo(json.dumps(_call("DELETE", base)))
        return
    spec = rule_spec(
        kind,
        verb=verb,
        resource=resource,
        namespace=namespace,
        name=name,
        status=status,
        retry_after=retry_after,
        seconds=seconds,
        apply=apply,
        count=count,
        duration=duration,
        dry_run=dry_run,
    )
    typer.echo(json.dumps(_call("POST", base, spec)))


def sim_requests(
    *,
    since: Annotated[int, typer.Option(help="Only requests after this sequence number.")] = 0,
    url: UrlOption = None,
    kubeconfig: KubeconfigOption = Path("simcluster.kubeconfig"),
) -> None:
    """Print the simulated cluster's request log as JSON lines."""
    for entry in _call("GET", f"{_base_url(url, kubeconfig)}/sim/v1/requests?since={since}"):
        typer.echo(json.dumps(entry, sort_keys=True))
