"""What the application server's database role may do on PostgreSQL, granted table by table.

The server connects with its own role (``taper_app`` in docs/multi-site.md), never the
owner's: a role that does not own the tables cannot drop or disable their triggers, and
this module gives it only what the services need:

- every table: SELECT, INSERT, UPDATE, and never DELETE or TRUNCATE (records are never
  deleted: they are voided or superseded);
- ``audit_log`` and ``signature``: SELECT and INSERT only (the trail is appended to, a
  signature is written once);
- ``audit_head``: SELECT and UPDATE (the append path moves it; migration 0010_head's
  trigger checks at commit that it is still the trail's last row);
- ``alembic_version``: SELECT (the owner migrates);
- ``user_site``: DELETE as well: it is which sites an account works for, not a record,
  and ``user sites`` (``accounts.set_user_sites``, audited with its reason) replaces it;
- the id sequences: USAGE and SELECT.

Everything else the role held on these tables is revoked first, so a set-up made from an
older guide (UPDATE on every table) is brought down to this. The triggers say the same
again for any role, the owner's included (tests/integration/test_database_grants.py).
"""

from __future__ import annotations

from sqlalchemy import Connection, text

APPEND_ONLY = frozenset({"audit_log", "signature"})
HEAD = "audit_head"
READ_ONLY = frozenset({"alembic_version"})
#: Not records but settings of an account, replaced whole by an audited service call.
REPLACEABLE = frozenset({"user_site"})


class GrantError(Exception):
    """The role cannot be the application's: unknown, the tables' owner, or a superuser."""


def privileges_of(table: str) -> str:
    """The privileges the application role has on ``table``."""
    if table in APPEND_ONLY:
        return "SELECT, INSERT"
    if table == HEAD:
        return "SELECT, UPDATE"
    if table in READ_ONLY:
        return "SELECT"
    if table in REPLACEABLE:
        return "SELECT, INSERT, UPDATE, DELETE"
    return "SELECT, INSERT, UPDATE"


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote_identifier(name)


def grant_application_role(conn: Connection, role: str) -> list[str]:
    """Give ``role`` exactly the application's privileges on the study's tables (in the
    caller's transaction, as the tables' owner); returns the tables granted."""
    if conn.dialect.name != "postgresql":
        raise GrantError("grants are for a PostgreSQL database; a SQLite file has none")
    found = conn.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = :r"),
                         {"r": role}).first()
    if found is None:
        raise GrantError(f"there is no database role {role!r}: create it first "
                         "(CREATE ROLE … LOGIN PASSWORD …)")
    if found[0]:
        raise GrantError(f"{role} is a superuser: the application's role must be an "
                         "ordinary one (a superuser passes every grant and trigger)")
    owned = conn.execute(text("SELECT tablename, tableowner FROM pg_tables "
                              "WHERE schemaname = 'public' ORDER BY tablename")).all()
    if any(owner == role for _, owner in owned):
        raise GrantError(f"{role} owns the study's tables: the application's role must be "
                         "another one (an owner can drop the triggers that guard the trail)")
    tables = [name for name, _ in owned]
    who = _quote(conn, role)
    conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {who}"))
    conn.execute(text(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {who}"))
    conn.execute(text(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {who}"))
    for table in tables:
        conn.execute(text(f"GRANT {privileges_of(table)} ON {_quote(conn, table)} TO {who}"))
    conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {who}"))
    return tables


def application_roles(conn: Connection) -> list[str]:
    """The roles other than the owner that hold privileges on the study's tables (those a
    migration's new tables are granted to as well)."""
    if conn.dialect.name != "postgresql":
        return []
    return [r[0] for r in conn.execute(text(
        "SELECT DISTINCT r.rolname FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a "
        "JOIN pg_roles r ON r.oid = a.grantee "
        "WHERE c.relname = 'patient' AND c.relnamespace = 'public'::regnamespace "
        "AND a.grantee <> c.relowner AND NOT r.rolsuper ORDER BY r.rolname"))]


def refresh_grants(conn: Connection) -> list[str]:
    """After a migration: the application roles again given exactly their privileges (new
    tables included, anything beyond them revoked); returns the roles."""
    roles = application_roles(conn)
    for role in roles:
        grant_application_role(conn, role)
    return roles
