"""Evaluate a rendered ValidatingAdmissionPolicy as the API server does, for tests: match the
request against the resource rules and match conditions, compute the variables in order, and
return the messages of the validations that fail."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import cel

Obj = dict[str, Any]


@dataclass(frozen=True)
class Request:
    """The parts of an AdmissionRequest the policies read."""

    username: str
    namespace: str
    resource: str
    operation: str = "UPDATE"
    group: str = ""
    name: str = ""
    subresource: str = ""
    object: Obj | None = None
    old_object: Obj | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_cel(self) -> Obj:
        return {
            "userInfo": {"username": self.username},
            "namespace": self.namespace,
            "name": self.name,
            "operation": self.operation,
            "resource": {"group": self.group, "version": "v1", "resource": self.resource},
            "subResource": self.subresource,
        }


def _matches(policy: Obj, request: Request) -> bool:
    full = f"{request.resource}/{request.subresource}" if request.subresource else request.resource
    for rule in policy["spec"]["matchConstraints"]["resourceRules"]:
        groups, resources, operations = rule["apiGroups"], rule["resources"], rule["operations"]
        if not ({"*", request.group} & set(groups)) or request.operation not in operations:
            continue
        if request.subresource and ("*/*" in resources or full in resources):
            return True
        if not request.subresource and ("*" in resources or request.resource in resources):
            return True
    return False


def denials(policy: Obj, request: Request) -> list[str]:
    """The messages of the failed validations; empty when the request is admitted or not matched."""
    if not _matches(policy, request):
        return []
    context: Obj = {
        "request": request.as_cel(),
        "object": copy.deepcopy(request.object),
        "oldObject": copy.deepcopy(request.old_object),
    }
    spec = policy["spec"]
    for condition in spec.get("matchConditions", []):
        if cel.evaluate(condition["expression"], context) is not True:
            return []
    variables: Obj = {}
    for variable in spec.get("variables", []):
        variables[variable["name"]] = cel.evaluate(variable["expression"], {**context, "variables": variables})
    context["variables"] = variables
    failed = []
    for validation in spec["validations"]:
        if cel.evaluate(validation["expression"], context) is not True:
            message = validation.get("message")
            if message is None:
                message = cel.evaluate(validation["messageExpression"], context)
            failed.append(str(message))
    return failed
