"""The witnesses: a ConfigMap in the agent's namespace (on the simulated cluster, over HTTP) and
the log stream; and `scutum audit verify --checkpoints/--from-cluster` proving what they hold."""

from __future__ import annotations

import io
import json
from pathlib import Path

import structlog
from pydantic import SecretStr
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from actions.kube import Kube
from agent.app import build_agent
from agent.audit import AuditKind, AuditLog
from agent.checkpoints import CheckpointSigner, KeyRing, new_private_key_text, public_key_text, read_checkpoint_lines
from agent.cli import app
from agent.settings import Settings
from agent.store import AuditHead, Store
from agent.witnesses import HISTORY_KEY, LATEST_ANNOTATION, Checkpointer, ConfigMapWitness, LogWitness
from simcluster.harness import RunningSim
from tests.agent.conftest import FakeClock
from tests.agent.insider import truncate_and_rewind

runner = CliRunner()


def _kube(sim: RunningSim) -> Kube:
    kube = Kube.from_url(sim.url)
    kube.create("Namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "scutum"}})
    return kube


def test_configmap_witness_keeps_the_latest_and_a_bounded_history(bare_sim: RunningSim, clock: FakeClock) -> None:
    kube = _kube(bare_sim)
    witness = ConfigMapWitness(kube, namespace="scutum", configmap="scutum-checkpoints", keep=3)
    signer = CheckpointSigner.from_text(new_private_key_text())
    published = []
    for seq in range(1, 6):
        clock.advance(60)
        checkpoint = signer.sign(AuditHead(seq=seq, hash=f"{seq:064x}"), at=clock.now)
        witness.publish(checkpoint)
        published.append(checkpoint)

    stored = kube.get("ConfigMap", "scutum-checkpoints", "scutum")
    assert json.loads(stored["metadata"]["annotations"][LATEST_ANNOTATION])["seq"] == 5
    assert [c.seq for c in read_checkpoint_lines(stored["data"][HISTORY_KEY].splitlines())] == [3, 4, 5]
    assert {c.seq for c in witness.read()} == {3, 4, 5}
    assert all(KeyRing.of([signer.public_key]).check(c) is None for c in witness.read())


def test_log_witness_writes_one_json_line_per_checkpoint() -> None:
    out = io.StringIO()
    logger = structlog.wrap_logger(
        structlog.PrintLogger(out), processors=[structlog.processors.JSONRenderer(sort_keys=True)]
    )
    checkpoint = CheckpointSigner.from_text(new_private_key_text()).sign(
        AuditHead(seq=9, hash="aa" * 32), at=FakeClock().now
    )
    LogWitness(logger).publish(checkpoint)
    (line,) = out.getvalue().splitlines()
    assert json.loads(line)["event"] == "audit_checkpoint"
    assert read_checkpoint_lines([line]) == [checkpoint]


def _run(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_audit_verify_with_checkpoints_reports_truncation_and_rewind(tmp_path: Path, bare_sim: RunningSim) -> None:
    """End to end: the agent's checkpoints in the log file and on the cluster, an insider's edit of
    the SQLite file, and the command's exit code and report."""
    clock = FakeClock()
    url = f"sqlite:///{tmp_path / 'scutum.db'}"
    store = Store.connect(url, clock=clock)
    store.upgrade()
    log = AuditLog(store.audit, clock=clock)
    private = new_private_key_text()
    signer = CheckpointSigner.from_text(private)
    out = io.StringIO()
    logger = structlog.wrap_logger(structlog.PrintLogger(out), processors=[structlog.processors.JSONRenderer()])
    configmap = ConfigMapWitness(_kube(bare_sim), namespace="scutum", configmap="scutum-checkpoints")
    checkpointer = Checkpointer(signer, [LogWitness(logger), configmap], head=store.audit.head, clock=clock)
    for n in range(100):
        log.append(AuditKind.EXECUTION, actor="executor", payload={"n": n})
        if n % 25 == 24:
            clock.advance(60)
            checkpointer.publish()
    store.close()
    log_file = tmp_path / "agent.log"
    log_file.write_text(out.getvalue(), encoding="utf-8")
    env = {"SCUTUM_KUBE__URL": bare_sim.url, "SCUTUM_AGENT__NAMESPACE": "scutum"}
    key = public_key_text(signer.public_key)
    data_dir = str(tmp_path)

    verify = ["audit", "verify", "--data-dir", data_dir, "--json", "--public-key", key]
    code, stdout, _ = _run(*verify, "--checkpoints", str(log_file), env=env)
    assert code == 0 and json.loads(stdout)["checkpoints"]["proved"] == 4

    truncate_and_rewind(url, delete_last=30)
    code, stdout, _ = _run("audit", "verify", "--data-dir", data_dir, "--json", env=env)
    assert code == 0, "without checkpoints the truncation goes unseen"
    for source in (["--checkpoints", str(log_file)], ["--from-cluster"]):
        code, stdout, _ = _run(*verify, *source, env=env)
        findings = [(f["problem"], f["seq"]) for f in json.loads(stdout)["checkpoints"]["findings"]]
        assert code == 1
        assert findings == [("rewound", 70), ("truncated", 75), ("truncated", 100)]

    code, _, stderr = _run("audit", "verify", "--data-dir", data_dir, "--checkpoints", str(log_file), env=env)
    assert code == 1 and "unknown key" in stderr, "a checkpoint no trusted key signed proves nothing"
    env_with_key = {**env, "SCUTUM_AUDIT__SIGNING_KEY": private}
    code, _, stderr = _run("audit", "verify", "--data-dir", data_dir, "--checkpoints", str(log_file), env=env_with_key)
    assert code == 1 and "truncated" in stderr and "records 71..100" in stderr


def test_the_agent_records_its_key_and_publishes_the_head_on_shutdown(bare_sim: RunningSim, tmp_path: Path) -> None:
    kube = _kube(bare_sim)
    old, new = new_private_key_text(), new_private_key_text()
    base = Settings()
    settings = base.model_copy(
        update={
            "data_dir": tmp_path,
            "kube": base.kube.model_copy(update={"url": bare_sim.url}),
            "audit": base.audit.model_copy(
                update={"signing_key": SecretStr(new), "previous_signing_key": SecretStr(old)}
            ),
        }
    )
    agent = build_agent(settings, kube=kube, use_cache=False)
    agent.start(schedule=False)
    agent.stop()
    labels = {"witness": "configmap", "outcome": "published"}
    assert agent.metrics.registry.get_sample_value("scutum_checkpoints_total", labels) == 1

    store = Store.connect(settings.database_url())
    (key_record,) = store.audit_kinds.records_of_kind(AuditKind.CHECKPOINT_KEY)
    head = store.audit.head()
    store.close()
    signer_new, signer_old = CheckpointSigner.from_text(new), CheckpointSigner.from_text(old)
    assert key_record.payload["key_id"] == signer_new.key_id
    assert key_record.payload["endorsed_by"] == signer_old.key_id
    ring = KeyRing.of([signer_old.public_key])
    ring.extend_from_chain([key_record])
    (published,) = ConfigMapWitness(kube, namespace="scutum", configmap="scutum-checkpoints").read()
    assert (published.seq, published.hash) == (head.seq, head.hash)
    assert ring.check(published) is None, "the rotated key is trusted through the old key's endorsement"


def test_keygen_prints_a_key_pair_that_signs_and_verifies() -> None:
    code, out, _ = _run("audit", "keygen", env={})
    lines = dict(line.split(": ", 1) for line in out.splitlines())
    signer = CheckpointSigner.from_text(lines["private key (keep it in a Secret)"])
    assert code == 0 and lines["key id"] == signer.key_id
    assert lines["public key (give it to verifiers)"] == public_key_text(signer.public_key)


def test_an_exported_copy_is_checked_against_checkpoints(tmp_path: Path) -> None:
    clock = FakeClock()
    store = Store.connect(f"sqlite:///{tmp_path / 'scutum.db'}", clock=clock)
    store.upgrade()
    log = AuditLog(store.audit, clock=clock)
    private = new_private_key_text()
    signer = CheckpointSigner.from_text(private)
    for n in range(20):
        log.append(AuditKind.EXECUTION, actor="executor", payload={"n": n})
    checkpoint = signer.sign(store.audit.head(), at=clock.now)
    export = io.StringIO()
    log.export(export)
    store.close()
    lines = export.getvalue().splitlines(keepends=True)
    (tmp_path / "full.jsonl").write_text("".join(lines), encoding="utf-8")
    (tmp_path / "cut.jsonl").write_text("".join(lines[:15]), encoding="utf-8")
    (tmp_path / "checkpoints.jsonl").write_text(json.dumps(checkpoint.as_json()) + "\n", encoding="utf-8")
    env = {"SCUTUM_AUDIT__SIGNING_KEY": private}
    args = ["audit", "verify", "--checkpoints", str(tmp_path / "checkpoints.jsonl"), "--json", "--input"]

    code, out, _ = _run(*args, str(tmp_path / "full.jsonl"), env=env)
    assert code == 0 and json.loads(out)["checkpoints"]["proved"] == 1
    code, out, _ = _run(*args, str(tmp_path / "cut.jsonl"), env=env)
    assert json.loads(out)["ok"] is True, "a copy cut at its end still links"
    assert code == 1 and json.loads(out)["checkpoints"]["findings"][0]["problem"] == "truncated"


def test_two_whole_chains_swapped_between_clusters_are_caught_by_each_clusters_witness(
    tmp_path: Path, bare_sim: RunningSim
) -> None:
    """A record's hash does not cover its cluster: an insider who swaps two clusters' whole
    chains leaves two chains that each verify. Each cluster's own witness names heads the
    swapped chain does not have (docs/fleet.md, "Audit per cluster")."""
    clock = FakeClock()
    url = f"sqlite:///{tmp_path / 'scutum.db'}"
    signer = CheckpointSigner.from_text(new_private_key_text())
    kube = _kube(bare_sim)
    for cluster, records in (("alpha", 30), ("beta", 30)):
        kube.create("Namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"scutum-{cluster}"}})
        store = Store.connect(url, clock=clock, cluster=cluster)
        store.upgrade()
        log = AuditLog(store.audit, clock=clock)
        witness = ConfigMapWitness(kube, namespace=f"scutum-{cluster}", configmap="scutum-checkpoints")
        checkpointer = Checkpointer(signer, [witness], head=store.audit.head, clock=clock)
        for n in range(records):
            log.append(AuditKind.EXECUTION, actor="executor", payload={"cluster": cluster, "n": n})
        clock.advance(60)
        checkpointer.publish()
        store.close()

    engine = create_engine(url)
    with engine.begin() as conn:  # the owner of the tables relabels both chains and their heads
        for table in ("audit_records", "audit_head"):
            conn.execute(text(f"UPDATE {table} SET cluster = 'swap' WHERE cluster = 'alpha'"))
            conn.execute(text(f"UPDATE {table} SET cluster = 'alpha' WHERE cluster = 'beta'"))
            conn.execute(text(f"UPDATE {table} SET cluster = 'beta' WHERE cluster = 'swap'"))
    engine.dispose()

    key = public_key_text(signer.public_key)
    for cluster in ("alpha", "beta"):
        env = {"SCUTUM_KUBE__URL": bare_sim.url, "SCUTUM_AGENT__NAMESPACE": f"scutum-{cluster}",
               "SCUTUM_AGENT__CLUSTER": cluster}  # fmt: skip
        code, stdout, _ = _run("audit", "verify", "--data-dir", str(tmp_path), "--json", env=env)
        assert code == 0, "each swapped chain verifies on its own"
        verify = ["audit", "verify", "--data-dir", str(tmp_path), "--json", "--public-key", key, "--from-cluster"]
        code, stdout, _ = _run(*verify, env=env)
        assert code == 1, f"{cluster}'s witness must catch the swap: {stdout}"
        findings = [(f["problem"], f["seq"]) for f in json.loads(stdout)["checkpoints"]["findings"]]
        assert findings == [("forked", 30)], "the head it witnessed is not the head of the chain now under its name"
