"""The controllers of the simulated cluster, run in a fixed order once per pass."""

from __future__ import annotations

from simcluster.controllers import batch, deployments, gitops, kubelet, nodes, services, sets
from simcluster.controllers.context import Context

__all__ = ["Context", "run_all"]


def run_all(ctx: Context) -> None:
    """One deterministic pass of every controller, in dependency order."""
    ready_nodes = nodes.sync_nodes(ctx)
    gitops.run(ctx)
    for cronjob in ctx.objects("CronJob"):
        batch.sync_cronjob(ctx, cronjob)
    for job in ctx.objects("Job"):
        batch.sync_job(ctx, job)
    services.sync_hpas(ctx)
    for deploy in ctx.objects("Deployment"):
        deployments.sync_deployment(ctx, deploy)
    for rs in ctx.objects("ReplicaSet"):
        deployments.sync_replicaset(ctx, rs)
    for sts in ctx.objects("StatefulSet"):
        sets.sync_statefulset(ctx, sts)
    node_objects = ctx.objects("Node")
    for ds in ctx.objects("DaemonSet"):
        sets.sync_daemonset(ctx, ds, node_objects)
    nodes.finish_terminating(ctx)
    nodes.lost_pods(ctx, ready_nodes)
    nodes.bind_pods(ctx)
    kubelet.run(ctx, ready_nodes)
    services.sync_endpoints(ctx)
    services.sync_pdbs(ctx)
