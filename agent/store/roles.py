"""The two PostgreSQL roles: the owner, who runs migrations, and the daemon's runtime role.

The runtime role reads and writes the working tables (incidents, approvals, executions, ...),
but on the audit tables it may only SELECT and INSERT records and SELECT the head; the head
moves only through the owner's SECURITY DEFINER functions, which refuse to move it backwards.
Not being the owner, it cannot disable the append-only trigger, alter or drop the functions,
delete or truncate records. `grant_runtime_role` runs as the owner after each migration.
"""

from __future__ import annotations

import re

from sqlalchemy import Engine, text

ROLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$")
AUDIT_TABLES = ("audit_records", "audit_head")
AUDIT_FUNCTIONS = (
    "scutum_audit_lock_head(varchar)",
    "scutum_audit_advance_head(varchar, integer, varchar)",
)
"""The owner's functions that lock and advance a cluster's audit head (migration fleet_cluster)."""


class RoleError(ValueError):
    """The runtime role cannot be granted as asked (bad name, or it is the owner itself)."""


def runtime_grants(role: str, schema: str) -> list[str]:
    """The statements that give `role` exactly the runtime privileges in `schema`."""
    if not ROLE_NAME.match(role):
        raise RoleError(f"{role!r} is not a PostgreSQL role name this tool will quote")
    who, where = f'"{role}"', f'"{schema}"'
    audit = ", ".join(AUDIT_TABLES)
    return [
        f"GRANT USAGE ON SCHEMA {where} TO {who}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {where} TO {who}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {where} TO {who}",
        f"REVOKE ALL ON {audit}, alembic_version FROM {who}",
        f"GRANT SELECT, INSERT ON audit_records TO {who}",
        f"GRANT SELECT ON audit_head, alembic_version TO {who}",
        *(f"GRANT EXECUTE ON FUNCTION {function} TO {who}" for function in AUDIT_FUNCTIONS),
    ]


def grant_runtime_role(engine: Engine, role: str) -> None:
    """As the owner: give `role` the runtime privileges on the current schema (idempotent)."""
    if engine.dialect.name != "postgresql":
        raise RoleError("separate database roles need PostgreSQL")
    with engine.begin() as conn:
        owner, schema = conn.execute(text("SELECT current_user, current_schema()")).one()
        if role == owner:
            raise RoleError(f"the runtime role must not be the owner {owner!r}: it could undo every limit")
        for statement in runtime_grants(role, str(schema)):
            conn.execute(text(statement))
