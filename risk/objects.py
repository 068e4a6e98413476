"""Kubernetes object accessors as the risk layer names them (defined in `actions.objects`)."""

from actions.objects import (
    DEPLOYMENT_REVISION,
    MIRROR_ANNOTATION,
    Obj,
    controller_owner,
    created_at,
    has_empty_dir,
    has_local_storage,
    is_finished,
    is_mirror_pod,
    labels,
    meta,
    parse_time,
    pod_volumes,
    selector_matches,
    template_references_configmap,
)

__all__ = [
    "DEPLOYMENT_REVISION",
    "MIRROR_ANNOTATION",
    "Obj",
    "controller_owner",
    "created_at",
    "has_empty_dir",
    "has_local_storage",
    "is_finished",
    "is_mirror_pod",
    "labels",
    "meta",
    "parse_time",
    "pod_volumes",
    "selector_matches",
    "template_references_configmap",
]
