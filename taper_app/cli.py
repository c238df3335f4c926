"""The command line (interfaces.md): a thin door onto the same services as the window.

Exit status: 0 success, 1 invalid input (message on stderr), 2 usage.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from . import __version__
from .paths import default_database

if TYPE_CHECKING:
    from .remote.client import RemoteStudy

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """Invalid input: printed on stderr, exit status 1."""


class UsageError(Exception):
    """A command used wrongly or not available: exit status 2."""


def _common(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("--db", default=default, metavar="PATH_OR_URL",
                        help="SQLite file or SQLAlchemy URL (default: $TAPER_DB, then the "
                             "per-user data file)")
    parser.add_argument("--user", default=default, metavar="NAME",
                        help="who makes the change (password from $TAPER_PASSWORD or "
                             "--password-stdin)")
    parser.add_argument("--password-stdin", action="store_true",
                        default=argparse.SUPPRESS if suppress else False,
                        help="read the password from standard input")


ROLES = ("nurse", "investigator", "monitor", "admin")


def _init_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--protocol", type=Path, metavar="FILE", help="protocol file (TOML)")
    sp.add_argument("--admin", metavar="NAME", help="the first administrator's user name")
    sp.add_argument("--full-name", metavar="TEXT", help="the administrator's printed name")
    sp.add_argument("--demo", action="store_true", dest="init_demo",
                    help="create the demo study instead (users and password in the README)")
    sp.add_argument("--as-of", metavar="DATE", help="demo data up to this date (default today)")
    sp.add_argument("--app-role", metavar="ROLE",
                    help="PostgreSQL: the application server's database role, given exactly "
                         "the privileges it needs (docs/multi-site.md)")


def _actions(sp: argparse.ArgumentParser, dest: str) -> Callable[..., argparse.ArgumentParser]:
    """A command's sub-commands (``template import``...): a function adding one."""
    sub = sp.add_subparsers(dest=dest, metavar="ACTION", required=True)

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        ap = sub.add_parser(name, help=help_text)
        _common(ap, suppress=True)
        return ap

    return action


def _template_arguments(sp: argparse.ArgumentParser) -> None:
    action = _actions(sp, "template_command")
    action("import", "add templates from a file of [[template]] tables").add_argument(
        "file", type=Path, metavar="FILE")


def _user_arguments(sp: argparse.ArgumentParser) -> None:
    action = _actions(sp, "user_command")
    up = action("add", "add a user (first password from $TAPER_NEW_PASSWORD or a prompt)")
    up.add_argument("name", metavar="NAME")
    up.add_argument("--role", required=True, choices=ROLES)
    up.add_argument("--full-name", required=True, metavar="TEXT")
    up.add_argument("--site", action="append", metavar="CODE",
                    help="a site the user works for (repeat; none: every site)")
    action("list", "list users, roles and sites")
    action("passwd", "change your own password (current one as for any change; the new one "
                     "from $TAPER_NEW_PASSWORD)")
    for name, help_text in (("reset", "an admin sets a temporary password ($TAPER_NEW_PASSWORD)"
                             " that must be changed at next sign-in"),
                            ("deactivate", "an admin deactivates a user (never deleted)")):
        up = action(name, help_text)
        up.add_argument("name", metavar="NAME")
        up.add_argument("--reason", required=True, metavar="TEXT")
    up = action("role", "an admin changes a user's role")
    up.add_argument("name", metavar="NAME")
    up.add_argument("role", choices=ROLES)
    up.add_argument("--reason", required=True, metavar="TEXT")
    up = action("sites", "an admin sets the sites a user works for (no --site: every site)")
    up.add_argument("name", metavar="NAME")
    up.add_argument("--site", action="append", metavar="CODE", help="a site (repeat)")
    up.add_argument("--reason", required=True, metavar="TEXT")


def _import_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--patients", type=Path, metavar="F")
    sp.add_argument("--doses", type=Path, metavar="F")
    sp.add_argument("--amendments", type=Path, metavar="F")


def _summary_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--subject", metavar="ID")
    sp.add_argument("--as-of", metavar="DATE", help="YYYY-MM-DD (default today)")
    sp.add_argument("--json", action="store_true", help="JSON as in interfaces.md")


def _report_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--subject", metavar="ID")
    sp.add_argument("--cohort", action="store_true")
    sp.add_argument("--out", type=Path, metavar="FILE.pdf")
    sp.add_argument("--as-of", metavar="DATE")


def _handout_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--subject", required=True, metavar="ID")
    sp.add_argument("--from", dest="first", metavar="DATE", help="first day (default today)")
    sp.add_argument("--weeks", type=int, default=4, metavar="N", help="weeks (default 4)")
    sp.add_argument("--drug", metavar="NAME",
                    help="default: the current oral record's drug, else prednisone")
    sp.add_argument("--out", required=True, type=Path, metavar="FILE.pdf")
    sp.add_argument("--csv", type=Path, metavar="FILE.csv", help="the days as CSV too")


def _export_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--format", required=True, choices=("csv", "sdtm"))
    sp.add_argument("--out", required=True, type=Path, metavar="DIR")
    sp.add_argument("--as-of", metavar="DATE", help="daily series up to this date (default today)")


def _audit_arguments(sp: argparse.ArgumentParser) -> None:
    action = _actions(sp, "audit_command")
    ap = action("verify", "check the audit trail's hash chain and that the data agree with it")
    ap.add_argument("--head", metavar="N:HASH",
                    help="also check that the trail still holds row N with this hash (as "
                         "printed on a PDF, an export or a signature); at least 16 hex digits")
    ap = action("export", "audit rows to CSV, filtered")
    ap.add_argument("--out", required=True, type=Path, metavar="FILE.csv")
    ap.add_argument("--subject", metavar="ID")
    ap.add_argument("--by", metavar="USER", help="only this user's rows")
    ap.add_argument("--entity", metavar="NAME", help="e.g. dose_record, patient, schedule, user")
    ap.add_argument("--from", dest="since", metavar="DATE", help="UTC date, inclusive")
    ap.add_argument("--to", dest="until", metavar="DATE", help="UTC date, inclusive")


def _sign_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--subject", required=True, metavar="ID")
    sp.add_argument("--through", required=True, metavar="DATE")
    sp.add_argument("--meaning", required=True, choices=("reviewed", "approved"))


def _patient_arguments(sp: argparse.ArgumentParser) -> None:
    from .results import DISPOSITIONS

    action = _actions(sp, "patient_command")
    ap = action("end", "an investigator ends a patient's participation (domain.md §7)")
    ap.add_argument("--subject", required=True, metavar="ID")
    ap.add_argument("--date", required=True, metavar="DATE", help="the end date, YYYY-MM-DD")
    ap.add_argument("--disposition", required=True, choices=DISPOSITIONS)
    ap.add_argument("--reason", required=True, metavar="TEXT")
    ap = action("reopen", "an investigator undoes the end of a patient's participation")
    ap.add_argument("--subject", required=True, metavar="ID")
    ap.add_argument("--reason", required=True, metavar="TEXT")
    ap = action("correct", "an investigator corrects the enrollment (baseline, Day 1, "
                           "template); the schedule is generated again")
    ap.add_argument("--subject", required=True, metavar="ID")
    ap.add_argument("--baseline", metavar="MG", help="the corrected baseline, mg/day PEQ")
    ap.add_argument("--day1", metavar="DATE", help="the corrected Day 1, YYYY-MM-DD")
    ap.add_argument("--template", metavar="ID", help="the corrected schedule template")
    ap.add_argument("--reason", required=True, metavar="TEXT")
    ap = action("withdraw-amendment", "an investigator withdraws an amendment; the schedule "
                                      "resumes as if it had not been made")
    ap.add_argument("--subject", required=True, metavar="ID")
    ap.add_argument("--amendment", required=True, type=int, metavar="N",
                    help="the amendment's number")
    ap.add_argument("--reason", required=True, metavar="TEXT")


def _sdv_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--subject", required=True, metavar="ID")
    which = sp.add_mutually_exclusive_group(required=True)
    which.add_argument("--through", metavar="DATE",
                       help="every valid dose record starting on or before this date")
    which.add_argument("--record", type=int, metavar="N", help="one dose record")


def _query_arguments(sp: argparse.ArgumentParser) -> None:
    action = _actions(sp, "query_command")
    qp = action("open", "a monitor's query to the site; prints its id")
    qp.add_argument("--subject", required=True, metavar="ID")
    qp.add_argument("--record", type=int, metavar="N", help="about this dose record")
    qp.add_argument("--text", required=True, metavar="TEXT")
    qp = action("answer", "the site's answer (nurses and investigators)")
    qp.add_argument("id", type=int, metavar="ID")
    qp.add_argument("--text", required=True, metavar="TEXT")
    qp = action("close", "a monitor closes a query")
    qp.add_argument("id", type=int, metavar="ID")
    qp.add_argument("--text", metavar="TEXT")
    qp = action("list", "queries as JSON")
    qp.add_argument("--subject", metavar="ID")
    qp.add_argument("--state", choices=("open", "answered", "closed"))
    qp.add_argument("--json", action="store_true", help="JSON as in interfaces.md")


def _settings_arguments(sp: argparse.ArgumentParser) -> None:
    action = _actions(sp, "settings_command")
    action("show", "show every setting")
    ss = action("set", "change one setting")
    ss.add_argument("key")
    ss.add_argument("value")
    ss.add_argument("--reason", required=True, metavar="TEXT")


def _db_arguments(sp: argparse.ArgumentParser) -> None:
    action = _actions(sp, "db_command")
    dp = action("copy", "copy every record, the audit trail and signatures into a new, empty "
                        "database (SQLite file or PostgreSQL URL); from a database server, "
                        "an administrator's --user and password")
    dp.add_argument("--from", dest="source", required=True, metavar="PATH_OR_URL")
    dp.add_argument("--to", dest="target", required=True, metavar="PATH_OR_URL")
    gp = action("grant", "PostgreSQL, as the tables' owner: give the application server's "
                         "role exactly its privileges (no DELETE, no change to the audit "
                         "trail or signatures)")
    gp.add_argument("--role", required=True, metavar="ROLE")


def _serve_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--host", default="127.0.0.1", metavar="H",
                    help="address to listen on (default 127.0.0.1; any other needs TLS)")
    sp.add_argument("--port", type=int, required=True, metavar="P")
    sp.add_argument("--certfile", metavar="F", help="TLS certificate chain (PEM)")
    sp.add_argument("--keyfile", metavar="F", help="TLS private key (PEM)")


def _backup_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--out", required=True, type=Path, metavar="FILE")


#: Each command's help and the function adding its arguments, in the order of ``--help``.
_COMMAND_ARGUMENTS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "init": ("create a new database with the study and its first administrator",
             _init_arguments),
    "template": ("schedule templates", _template_arguments),
    "user": ("user accounts", _user_arguments),
    "import": ("import patients, doses and amendments (all or nothing)", _import_arguments),
    "summary": ("figures per patient", _summary_arguments),
    "report": ("PDF report for one patient or the study", _report_arguments),
    "handout": ("the patient's dosing calendar to print (PDF, and CSV)", _handout_arguments),
    "export": ("dose data for statisticians", _export_arguments),
    "audit": ("the audit trail", _audit_arguments),
    "sign": ("an investigator signs a patient's taper record up to a date", _sign_arguments),
    "patient": ("a patient's participation (end, reopen), enrollment corrections and "
                "amendment withdrawals", _patient_arguments),
    "sdv": ("a monitor marks a patient's dose records source-verified", _sdv_arguments),
    "query": ("queries to the site: open, answer, close, list", _query_arguments),
    "settings": ("administrator settings (sign-in lockout, idle lock, backups)",
                 _settings_arguments),
    "db": ("move a study between databases", _db_arguments),
    "backup": ("a consistent copy of the database while in use", _backup_arguments),
    "serve": ("run the application server on a PostgreSQL database (docs/multi-site.md)",
              _serve_arguments),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; with ``only``, that command's sub-parser alone.

    Building every command's parser costs about 10 ms (argparse looks for a translation
    catalogue on disk for each help string), on every run of every command: ``run`` builds
    only the command it is given (:func:`parser_for`). What a command accepts, its help
    and its errors are the same either way (tested).
    """
    p = argparse.ArgumentParser(
        prog="taper-app",
        description="Steroid Taper Tracker. With no command, opens the window.")
    p.add_argument("--version", action="version", version=f"taper-app {__version__}")
    p.add_argument("--demo", action="store_true",
                   help="open the window on the demo study (no server needed); it is kept "
                        "between launches in the per-user data folder")
    p.add_argument("--reset-demo", action="store_true",
                   help="with --demo: rebuild the demo study first (what was entered is lost)")
    _common(p, suppress=False)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_text, add_arguments) in _COMMAND_ARGUMENTS.items():
        if only is None or name == only:
            sp = sub.add_parser(name, help=help_text, description=help_text)
            _common(sp, suppress=True)
            add_arguments(sp)
    return p


#: The top-level options, and whether each takes a value (not --help and --version: they
#: print the whole parser's text, whatever follows them).
_TOP_OPTIONS = {"--demo": False, "--reset-demo": False, "--password-stdin": False,
                "--db": True, "--user": True}


def command_named(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names, when that is certain without parsing: the first word
    that is neither a top-level option nor its value. None for anything else (no command,
    an abbreviated or unknown option, an unknown command): the whole parser then decides."""
    tokens = iter(argv)
    for token in tokens:
        if token.startswith("-"):
            name, has_value, _ = token.partition("=")
            takes_value = _TOP_OPTIONS.get(name)
            if takes_value is None or (has_value and not takes_value):
                return None
            if takes_value and not has_value:
                next(tokens, None)
            continue
        return token if token in _COMMAND_ARGUMENTS else None
    return None


def parser_for(argv: Sequence[str]) -> argparse.ArgumentParser:
    """The parser for ``argv``: the named command's alone when it is certain (see above)."""
    return build_parser(command_named(argv))


# ---------------------------------------------------------------- helpers

def _db_location(args: argparse.Namespace) -> str:
    return str(args.db or os.environ.get("TAPER_DB") or default_database())


def _as_of(text: str | None) -> date:
    if not text:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CliError(f"--as-of: {text!r} is not a date (YYYY-MM-DD)") from None


def _password(args: argparse.Namespace, stdin: TextIO) -> str:
    if getattr(args, "password_stdin", False):
        line = stdin.readline()
        if not line:
            raise CliError("--password-stdin: no password on standard input")
        return line.rstrip("\r\n")
    password = os.environ.get("TAPER_PASSWORD")
    if password is None:
        raise CliError("no password: set TAPER_PASSWORD or use --password-stdin")
    return password


# ---------------------------------------------------------------- the application server

#: The commands that work through the application server (``--db https://HOST:PORT``).
THROUGH_THE_SERVER = frozenset({"summary", "audit", "settings", "sign", "user", "import",
                                "report", "export", "handout", "patient", "sdv", "query",
                                "template"})


def _on_server(args: argparse.Namespace) -> bool:
    from .remote import is_server_address

    return is_server_address(_db_location(args))


@contextlib.contextmanager
def _remote(args: argparse.Namespace, stdin: TextIO, password: str | None = None, *,
            changes: bool = False) -> Iterator[RemoteStudy]:
    """A session on the application server as ``--user`` (signed out at the end); without
    ``--user``, the usage message the same command gives on a database URL."""
    from .remote.client import RemoteStudy
    from .services.errors import FirstPasswordNotChanged

    if not args.user:
        raise UsageError("this command changes data: give --user NAME" if changes else
                         "on a database server, give --user NAME (and the password): "
                         "you see the patients of your sites")
    remote = RemoteStudy(_db_location(args))
    try:
        try:
            remote.sign_in(args.user, password if password is not None
                           else _password(args, stdin), first_password_refused=True)
        except FirstPasswordNotChanged as exc:
            raise CliError(f"{exc}; choose your own first: TAPER_PASSWORD=<first> "
                           f"TAPER_NEW_PASSWORD=<new> taper-app user passwd --user "
                           f"{args.user}") from exc
        yield remote
    finally:
        remote.close()


def _open(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from .services.study import load_study
    from .storage.engine import open_database

    db = open_database(_db_location(args))
    return db, load_study(db)


def _signed_in(args: argparse.Namespace, db, stdin: TextIO):  # type: ignore[no-untyped-def]
    if not args.user:
        raise UsageError("this command changes data: give --user NAME")
    return _signed_in_with(args, db, _password(args, stdin))


def _signed_in_with(args: argparse.Namespace, db, password: str):  # type: ignore[no-untyped-def]
    from .services.context import ServiceContext
    from .services.errors import FirstPasswordNotChanged
    from .services.study import authenticate

    try:  # Part 11 §11.300: a password an administrator set is not the user's own signature
        actor = authenticate(db, args.user, password, first_password_refused=True)
    except FirstPasswordNotChanged as exc:
        raise CliError(f"{exc}; choose your own first: TAPER_PASSWORD=<first> "
                       f"TAPER_NEW_PASSWORD=<new> taper-app user passwd --user {args.user}"
                       ) from exc
    return ServiceContext(db, actor)


def _reader_sites(args: argparse.Namespace, db, stdin: TextIO  # type: ignore[no-untyped-def]
                  ) -> frozenset[str] | None:
    """The sites a reading command may show: with ``--user``, that user's sites (signed in
    as for a change). Without it, every site of a SQLite file (whoever can open the file
    can read all of it anyway); on a server, ``--user`` is required (docs/multi-site.md)."""
    _user_needed_on_a_server(args, db)
    return _signed_in(args, db, stdin).actor.sites if args.user else None


def _user_needed_on_a_server(args: argparse.Namespace, db) -> None:  # type: ignore[no-untyped-def]
    if not args.user and not db.is_sqlite:
        # On the central server the site laptops share one database role: reading every
        # site's patients must not be one command away from anyone at a laptop.
        raise UsageError("on a database server, give --user NAME (and the password): "
                         "you see the patients of your sites")


# ---------------------------------------------------------------- commands

def cmd_init(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    from .storage.engine import shown_location

    location = _db_location(args)
    if args.init_demo:
        from .services.demo import DEMO_PASSWORD, DEMO_USERS, create_demo

        demo = create_demo(location, _as_of(args.as_of))
        try:
            _grant_app_role(args, demo, out)
        finally:
            demo.dispose()
        users = ", ".join(u for u, _, _ in DEMO_USERS)
        print(f"demo study created in {shown_location(location)}; users admin, {users} "
              f"(password {DEMO_PASSWORD!r})", file=out)
        return EXIT_OK
    if not args.protocol or not args.admin:
        raise UsageError("init needs --protocol FILE and --admin NAME (or --demo)")
    from .services.study import create_study

    try:
        text = args.protocol.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{args.protocol}: cannot be read ({exc})") from None
    db = create_study(location, text, args.admin, args.full_name or args.admin,
                      _password(args, stdin), protocol_source=str(args.protocol))
    try:
        _grant_app_role(args, db, out)
    finally:
        db.dispose()
    print(f"created {shown_location(location)}", file=out)
    return EXIT_OK


def _grant_app_role(args: argparse.Namespace, db, out: TextIO) -> None:  # type: ignore[no-untyped-def]
    if args.app_role:
        _grant(db, args.app_role, out)


def _grant(db, role: str, out: TextIO) -> None:  # type: ignore[no-untyped-def]
    from .storage.grants import GrantError, grant_application_role

    if db.is_sqlite:
        raise UsageError("database roles are PostgreSQL's; a SQLite file has none")
    try:
        with db.engine.begin() as conn:
            tables = grant_application_role(conn, role)
    except GrantError as exc:
        raise CliError(str(exc)) from None
    print(f"granted {role} the application's privileges on {len(tables)} tables (no "
          "DELETE or TRUNCATE; audit trail and signatures append-only)", file=out)


def _template_text(args: argparse.Namespace) -> str:
    try:
        return str(args.file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{args.file}: cannot be read ({exc})") from None


def cmd_template(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    from .services.study import import_templates

    if _on_server(args):
        if not args.user:
            raise UsageError("this command changes data: give --user NAME")
        text = _template_text(args)
        with _remote(args, stdin, changes=True) as remote:
            ids = remote.call("template_import", text=text, source=str(args.file))
        print(f"added templates: {', '.join(ids)}", file=out)
        return EXIT_OK
    db, _ = _open(args)
    ctx = _signed_in(args, db, stdin)
    ids = import_templates(ctx, _template_text(args), str(args.file))
    print(f"added templates: {', '.join(ids)}", file=out)
    return EXIT_OK


def _new_password(prompt_for: str) -> str:
    password = os.environ.get("TAPER_NEW_PASSWORD")
    if password is None:
        if not sys.stdin.isatty():
            raise CliError("no new password: set TAPER_NEW_PASSWORD (no terminal to ask on)")
        password = getpass.getpass(f"new password for {prompt_for}: ")
        if getpass.getpass("again: ") != password:
            raise CliError("the two passwords differ")
    return password


def cmd_user(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    from .services import accounts
    from .services.study import add_user

    if _on_server(args):
        return _user_through_the_server(args, out, stdin)
    db, _ = _open(args)
    if args.user_command == "list":
        for u in accounts.list_users(db):
            state = "active" if u.active else "inactive"
            where = ", ".join(u.sites) or "every site"
            print(f"{u.username:<16} {u.role:<13} {state:<9} {u.full_name} ({where})",
                  file=out)
        return EXIT_OK
    if args.user_command == "passwd":
        if not args.user:
            raise UsageError("give --user NAME (the account whose password changes)")
        accounts.change_password(db, args.user, _password(args, stdin),
                                 _new_password(args.user))
        print(f"password changed for {args.user}", file=out)
        return EXIT_OK
    ctx = _signed_in(args, db, stdin)
    if args.user_command == "add":
        add_user(ctx, args.name, args.role, args.full_name, _new_password(args.name),
                 sites=args.site)
        where = f" for site(s) {', '.join(args.site)}" if args.site else " for every site"
        print(f"added {args.role} {args.name}{where}; they choose a new password at first "
              "sign-in", file=out)
    elif args.user_command == "reset":
        accounts.reset_password(ctx, args.name, _new_password(args.name), args.reason)
        print(f"temporary password set for {args.name}; it must be changed at sign-in",
              file=out)
    elif args.user_command == "deactivate":
        accounts.deactivate_user(ctx, args.name, args.reason)
        print(f"deactivated {args.name}", file=out)
    elif args.user_command == "role":
        accounts.change_role(ctx, args.name, args.role, args.reason)
        print(f"{args.name} is now {args.role}", file=out)
    elif args.user_command == "sites":
        accounts.set_user_sites(ctx, args.name, args.site or [], args.reason)
        print(f"{args.name} works for "
              f"{'site(s) ' + ', '.join(args.site) if args.site else 'every site'}", file=out)
    return EXIT_OK


def _user_through_the_server(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    if args.user_command == "passwd":
        from .remote.client import RemoteStudy

        if not args.user:
            raise UsageError("give --user NAME (the account whose password changes)")
        with RemoteStudy(_db_location(args)) as remote:
            remote.change_password(args.user, _password(args, stdin), _new_password(args.user))
        print(f"password changed for {args.user}", file=out)
        return EXIT_OK
    with _remote(args, stdin) as remote:
        if args.user_command == "list":
            for u in remote.call("user_list"):
                state = "active" if u.active else "inactive"
                where = ", ".join(u.sites) or "every site"
                print(f"{u.username:<16} {u.role:<13} {state:<9} {u.full_name} ({where})",
                      file=out)
        elif args.user_command == "add":
            remote.call("user_add", name=args.name, role=args.role, full_name=args.full_name,
                        password=_new_password(args.name), sites=args.site)
            where = f" for site(s) {', '.join(args.site)}" if args.site else " for every site"
            print(f"added {args.role} {args.name}{where}; they choose a new password at "
                  "first sign-in", file=out)
        elif args.user_command == "reset":
            remote.call("user_reset", name=args.name, password=_new_password(args.name),
                        reason=args.reason)
            print(f"temporary password set for {args.name}; it must be changed at sign-in",
                  file=out)
        elif args.user_command == "deactivate":
            remote.call("user_deactivate", name=args.name, reason=args.reason)
            print(f"deactivated {args.name}", file=out)
        elif args.user_command == "role":
            remote.call("user_role", name=args.name, role=args.role, reason=args.reason)
            print(f"{args.name} is now {args.role}", file=out)
        elif args.user_command == "sites":
            remote.call("user_sites", name=args.name, sites=args.site or [],
                        reason=args.reason)
            print(f"{args.name} works for "
                  f"{'site(s) ' + ', '.join(args.site) if args.site else 'every site'}",
                  file=out)
    return EXIT_OK


def _upload(path: Path | None) -> tuple[str, bytes] | None:
    """A file to send to the server: its name as given, and its bytes (read here)."""
    from .services.errors import Problem, ValidationError

    if path is None:
        return None
    try:
        return str(path), path.read_bytes()
    except OSError as exc:  # the same problem the import reports for a file it cannot read
        raise ValidationError([Problem("file", f"cannot be read ({exc.strerror or exc})", 1,
                                       str(path))]) from None


def cmd_import(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    from .services.imports import import_files

    if not (args.patients or args.doses or args.amendments):
        raise UsageError("import needs at least one of --patients, --doses, --amendments")
    if _on_server(args):
        with _remote(args, stdin, changes=True) as remote:
            result = remote.call("import_files", patients=_upload(args.patients),
                                 doses=_upload(args.doses),
                                 amendments=_upload(args.amendments))
    else:
        db, study = _open(args)
        ctx = _signed_in(args, db, stdin)
        result = import_files(ctx, study, patients=args.patients, doses=args.doses,
                              amendments=args.amendments)
    print(f"imported {result.patients} patients, {result.doses} dose records, "
          f"{result.amendments} amendments", file=out)
    return EXIT_OK


def cmd_summary(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    from .services.figures import summary, summary_json

    as_of = _as_of(args.as_of)
    if _on_server(args):
        with _remote(args, stdin) as remote:
            rows = remote.call("summary", as_of=as_of, subject_id=args.subject)
    else:
        db, study = _open(args)
        rows = summary(db, study, as_of, args.subject, _reader_sites(args, db, stdin))
    if args.json:
        out.write(summary_json(rows))  # exactly json.dump(rows, out, indent=2)
        out.write("\n")
        return EXIT_OK
    header = f"{'subject':<10} {'site':<5} {'day':>5} {'base':>6} {'actual':>7} {'sched':>7} " \
             f"{'red%':>6} {'win%':>6} {'miss':>5} {'target':<13}"
    print(header, file=out)

    def fmt(x: object) -> str:
        return "-" if x is None else f"{x:g}"

    for r in rows:
        print(f"{r['subject_id']:<10} {r['site']:<5} {r['as_of_day']:>5} "
              f"{fmt(r['baseline_mg']):>6} {fmt(r['actual_mg']):>7} {fmt(r['scheduled_mg']):>7} "
              f"{fmt(r['reduction_pct']):>6} {fmt(r['window_reduction_pct']):>6} "
              f"{r['missing_days']:>5} {r['target']['status']:<13}", file=out)
    return EXIT_OK


def cmd_export(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    if _on_server(args):
        return _export_through_the_server(args, out, stdin)
    if args.format == "sdtm":
        from .services.sdtm import export_sdtm

        db, study = _open(args)
        sites = _reader_sites(args, db, stdin)
        try:
            result = export_sdtm(db, study, args.out, sites=sites)
        except OSError as exc:
            raise CliError(f"{args.out}: cannot be written ({exc.strerror or exc})") from None
        for path in result.paths:
            print(f"wrote {path}", file=out)
        print(f"{result.cm_rows} CM records for {result.subjects} subjects; "
              f"{result.voided_rows} voided records listed apart", file=out)
        return EXIT_OK
    from .services.exports import export_csv

    db, study = _open(args)
    paths = export_csv(db, study, args.out, _as_of(args.as_of), _reader_sites(args, db, stdin))
    for path in paths:
        print(f"wrote {path}", file=out)
    return EXIT_OK


def _export_through_the_server(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    from .services.reporting import write_files

    as_of = _as_of(args.as_of) if args.format == "csv" else date.today()
    with _remote(args, stdin) as remote:
        made = remote.call("export", format=args.format, as_of=as_of)
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        write_files({args.out / name: data for name, data in made.files})
    except OSError as exc:  # write_files says which file it could not write
        raise CliError(f"{args.out}: cannot be written ({exc.strerror or exc})") from None
    for name, _ in made.files:
        print(f"wrote {args.out / name}", file=out)
    if args.format == "sdtm":
        print(f"{made.cm_rows} CM records for {made.subjects} subjects; "
              f"{made.voided_rows} voided records listed apart", file=out)
    return EXIT_OK


def cmd_report(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    from .services.reporting import cohort_report, patient_report, write_report

    if bool(args.subject) == bool(args.cohort):
        raise UsageError("report needs either --subject ID or --cohort")
    if not args.out:
        raise UsageError("report needs --out FILE.pdf")
    as_of = _as_of(args.as_of)
    if _on_server(args):
        with _remote(args, stdin) as remote:
            report = remote.call("report", subject_id=None if args.cohort else args.subject,
                                 as_of=as_of)
    else:
        db, study = _open(args)
        sites = _reader_sites(args, db, stdin)
        if args.cohort:
            report = cohort_report(db, study, as_of, sites=sites)
        else:
            report = patient_report(db, study, args.subject, as_of, sites=sites)
    written = write_report(report, args.out)
    print(f"wrote {written.path} ({written.pages} pages; data SHA-256 {written.fingerprint})",
          file=out)
    return EXIT_OK


def cmd_handout(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    from .services.calendar import print_dosing_calendar
    from .services.reporting import write_files

    first = _date_or_none(args.first, "--from")
    if _on_server(args):
        with _remote(args, stdin, changes=True) as remote:
            printout = remote.call("handout", subject_id=args.subject, first_date=first,
                                   weeks=args.weeks, drug=args.drug)
    else:
        db, _ = _open(args)
        ctx = _signed_in(args, db, stdin)  # printing a calendar is audited: who, which dates
        printout = print_dosing_calendar(ctx, args.subject, first, args.weeks, args.drug)
    files: dict[Path, bytes] = {args.out: printout.pdf}
    if args.csv:
        files[args.csv] = printout.csv.encode("utf-8")
    write_files(files)
    calendar = printout.calendar
    pages = f"{printout.pages} page{'s' if printout.pages != 1 else ''}"
    print(f"wrote {args.out} ({pages}; {calendar.first_date.isoformat()} to "
          f"{calendar.last_date.isoformat()}, {calendar.drug}; data SHA-256 "
          f"{printout.fingerprint})", file=out)
    if args.csv:
        print(f"wrote {args.csv} ({len(calendar.lines)} days)", file=out)
    asked = calendar.days_to_ask
    if asked:
        print(f"warning: on {len(asked)} day(s) no {calendar.drug} tablets make the dose "
              f"exactly, and the sheet says to ask the study nurse: "
              f"{', '.join(d.isoformat() for d in asked)}", file=out)
    return EXIT_OK


def cmd_audit(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    from .services.audit import holds_head, verify_chain
    from .services.audit_reconcile import reconcile
    from .storage.uow import UnitOfWork

    if _on_server(args):
        if args.audit_command == "export":
            from .services.audit_query import export_audit_csv

            since = _date_or_none(args.since, "--from")
            until = _date_or_none(args.until, "--to")
            with _remote(args, stdin) as remote:
                head, rows = remote.call("audit_rows", subject_id=args.subject,
                                         username=args.by, entity=args.entity, since=since,
                                         until=until)
            export_audit_csv(rows, args.out, head=head)
            print(f"wrote {len(rows)} audit rows to {args.out}", file=out)
            return EXIT_OK
        expected = _expected_head(args)
        with _remote(args, stdin) as remote:
            check, found, held = remote.call("audit_check", head=expected)
        return _print_audit_verdict(check, found, expected, held, out)
    db, _ = _open(args)
    if args.audit_command == "export":
        from .services.audit_query import (
            AuditFilter,
            export_audit_csv,
            query_audit,
            read_audit,
        )

        wanted = AuditFilter(args.subject, args.by, args.entity,
                             since=_date_or_none(args.since, "--from"),
                             until=_date_or_none(args.until, "--to"))
        from .services.audit import head_of

        _user_needed_on_a_server(args, db)
        ctx = _signed_in(args, db, stdin) if args.user else None
        head = head_of(db)  # read before the rows: the trail holds it whatever is saved next
        rows = read_audit(ctx, wanted) if ctx is not None else query_audit(db, wanted)
        export_audit_csv(rows, args.out, head=head)
        print(f"wrote {len(rows)} audit rows to {args.out}", file=out)
        return EXIT_OK
    expected_head = _expected_head(args)
    with UnitOfWork(db, write=False) as uow:
        check = verify_chain(uow.session)
        found = reconcile(uow.session) if check.ok else []
        held = (holds_head(uow.session, *expected_head) if expected_head is not None
                else True)
    return _print_audit_verdict(check, [str(d) for d in found], expected_head, held, out)


def _expected_head(args: argparse.Namespace) -> tuple[int, str] | None:
    from .services.audit import parse_head

    if not args.head:
        return None
    try:
        return parse_head(args.head)
    except ValueError as e:
        raise CliError(f"--head: {e}") from None


def _print_audit_verdict(check: Any, problems: list[str],
                         expected_head: tuple[int, str] | None, held: bool, out: TextIO) -> int:
    """What `audit verify` prints: the head, then the chain, the data and the given head."""
    print(f"head: {check.rows} {check.last_hash}", file=out)
    if not check.ok:
        raise CliError(f"audit trail BROKEN at row {check.first_bad_id}: {check.problem}")
    problems = list(problems)
    if expected_head is not None and not held:
        n, digest = expected_head
        problems.append(f"the trail no longer holds row {n} with hash {digest}: this is not "
                        "the trail that head was printed from (an older copy, or the trail "
                        "was truncated or rewritten)")
    if problems:
        for line in problems:
            print(line, file=out)
        raise CliError(f"audit trail does NOT agree: {len(problems)} problem"
                       f"{'s' if len(problems) != 1 else ''} (listed above)")
    print(f"audit trail intact: {check.rows} rows, hash chain verified, data agree with it"
          + (f", holds head {expected_head[0]}" if expected_head else ""), file=out)
    return EXIT_OK


def _date_or_none(text: str | None, option: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CliError(f"{option}: {text!r} is not a date (YYYY-MM-DD)") from None


def cmd_sign(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    from .services.signatures import sign_record

    if not _on_server(args):
        db, _ = _open(args)
    if not args.user:
        raise UsageError("signing needs --user NAME")
    password = _password(args, stdin)
    if _on_server(args):
        through = _date_or_none(args.through, "--through")
        with _remote(args, stdin, password) as remote:
            sig = remote.call("sign_record", subject_id=args.subject, through=through,
                              meaning=args.meaning, password=password, patient_version=None)
    else:
        ctx = _signed_in_with(args, db, password)
        through = _date_or_none(args.through, "--through")
        assert through is not None
        sig = sign_record(ctx, args.subject, through, args.meaning, password)
    print(f"signed {args.subject}: {sig.manifestation}; data SHA-256 {sig.data_sha256}",
          file=out)
    return EXIT_OK


def _patient_through_the_server(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    if not args.user:
        raise UsageError("this command changes data: give --user NAME")
    password = _password(args, stdin)
    end = _date_or_none(args.date, "--date") if args.patient_command == "end" else None
    with _remote(args, stdin, password, changes=True) as remote:
        if args.patient_command == "correct":
            changed = remote.call("patient_correct", subject_id=args.subject, fields={
                "baseline_mg": args.baseline, "day1_date": args.day1,
                "template_id": args.template, "reason": args.reason}, password=password,
                patient_version=None)
            print(f"corrected {args.subject}: {', '.join(changed)}", file=out)
        elif args.patient_command == "withdraw-amendment":
            schedule = remote.call("patient_withdraw_amendment", subject_id=args.subject,
                                   amendment=args.amendment, reason=args.reason,
                                   password=password, patient_version=None)
            print(f"withdrew amendment {args.amendment} of {args.subject}; schedule now: "
                  f"{schedule}", file=out)
        elif end is not None:
            remote.call("patient_end", subject_id=args.subject, end_date=end,
                        disposition=args.disposition, reason=args.reason)
            print(f"ended {args.subject}'s participation on {end.isoformat()} "
                  f"({args.disposition})", file=out)
        else:
            remote.call("patient_reopen", subject_id=args.subject, reason=args.reason)
            print(f"reopened {args.subject}'s participation", file=out)
    return EXIT_OK


def cmd_patient(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    from .services.corrections import correct_enrollment, withdraw_amendment
    from .services.participation import end_participation, reopen_participation

    if _on_server(args):
        return _patient_through_the_server(args, out, stdin)
    db, study = _open(args)
    if not args.user:
        raise UsageError("this command changes data: give --user NAME")
    password = _password(args, stdin)
    ctx = _signed_in_with(args, db, password)
    if args.patient_command == "correct":
        # The password signed the user in; it is also the correction's re-authentication.
        changed = correct_enrollment(ctx, study, args.subject, {
            "baseline_mg": args.baseline, "day1_date": args.day1,
            "template_id": args.template, "reason": args.reason}, password)
        print(f"corrected {args.subject}: {', '.join(changed)}", file=out)
    elif args.patient_command == "withdraw-amendment":
        schedule = withdraw_amendment(ctx, study, args.subject, args.amendment, args.reason,
                                      password)
        print(f"withdrew amendment {args.amendment} of {args.subject}; schedule now: "
              f"{schedule}", file=out)
    elif args.patient_command == "end":
        end = _date_or_none(args.date, "--date")
        assert end is not None
        end_participation(ctx, args.subject, end, args.disposition, args.reason)
        print(f"ended {args.subject}'s participation on {end.isoformat()} "
              f"({args.disposition})", file=out)
    else:
        reopen_participation(ctx, args.subject, args.reason)
        print(f"reopened {args.subject}'s participation", file=out)
    return EXIT_OK


def cmd_sdv(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    from .services.verification import verify_source

    through = _date_or_none(args.through, "--through")
    if _on_server(args):
        with _remote(args, stdin, changes=True) as remote:
            marked = remote.call("sdv", subject_id=args.subject, through=through,
                                 record_id=args.record)
    else:
        db, _ = _open(args)
        ctx = _signed_in(args, db, stdin)
        marked = verify_source(ctx, args.subject, through, args.record)
    which = (f"through {through.isoformat()}" if through is not None
             else f"record {args.record}")
    print(f"{args.subject}: {marked} dose record(s) marked source-verified ({which})",
          file=out)
    return EXIT_OK


def cmd_query(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    from .services import queries

    if _on_server(args):
        with _remote(args, stdin, changes=args.query_command != "list") as remote:
            if args.query_command == "list":
                print(queries.queries_json(remote.call("query_list", subject_id=args.subject,
                                                       state=args.state)), file=out)
            elif args.query_command == "open":
                print(remote.call("query_open", subject_id=args.subject, text=args.text,
                                  record_id=args.record), file=out)
            elif args.query_command == "answer":
                remote.call("query_answer", query_id=args.id, text=args.text)
                print(f"answered query {args.id}", file=out)
            else:
                remote.call("query_close", query_id=args.id, text=args.text)
                print(f"closed query {args.id}", file=out)
        return EXIT_OK
    db, _ = _open(args)
    if args.query_command == "list":
        from .services.auth import Actor
        from .services.context import ServiceContext

        _user_needed_on_a_server(args, db)
        ctx = (_signed_in(args, db, stdin) if args.user
               else ServiceContext(db, Actor("", "", "monitor")))  # a SQLite file: every site
        print(queries.queries_json(queries.list_queries(ctx, args.subject, args.state)),
              file=out)
        return EXIT_OK
    ctx = _signed_in(args, db, stdin)
    if args.query_command == "open":
        print(queries.open_query(ctx, args.subject, args.text, args.record), file=out)
    elif args.query_command == "answer":
        queries.answer_query(ctx, args.id, args.text)
        print(f"answered query {args.id}", file=out)
    else:
        queries.close_query(ctx, args.id, args.text)
        print(f"closed query {args.id}", file=out)
    return EXIT_OK


def cmd_settings(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    from .services.settings import SETTINGS, load_settings, set_setting

    if _on_server(args):
        with _remote(args, stdin) as remote:
            values = (remote.call("settings_set", key=args.key, value=args.value,
                                  reason=args.reason)
                      if args.settings_command == "set" else remote.call("settings_show"))
    else:
        db, _ = _open(args)
        if args.settings_command == "set":
            ctx = _signed_in(args, db, stdin)
            set_setting(ctx, args.key, args.value, args.reason)
        values = load_settings(db)
    for setting in SETTINGS:
        print(f"{setting.key:<24} {values[setting.key]:>6}  {setting.label}", file=out)
    return EXIT_OK


def cmd_db(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    from .storage.engine import open_database, shown_location
    from .storage.study_transfer import CopyError, copy_database

    if args.db_command == "grant":
        db = open_database(_db_location(args))
        try:
            _grant(db, args.role, out)
        finally:
            db.dispose()
        return EXIT_OK
    from .remote import is_server_address

    if is_server_address(args.source) or is_server_address(args.target):
        raise UsageError("db copy works on database files and URLs, not through the "
                         "application server; IT runs it on the server (docs/multi-site.md)")
    if "://" in args.source and not args.source.startswith("sqlite"):
        _administrator_signs_in(args, args.source, stdin)
    try:
        result = copy_database(args.source, args.target)
    except CopyError as exc:
        raise CliError(str(exc)) from None
    total = sum(result.rows.values())
    print(f"copied {total} rows ({result.rows.get('patient', 0)} patients, "
          f"{result.rows.get('audit_log', 0)} audit rows) to {shown_location(args.target)}",
          file=out)
    return EXIT_OK


def _administrator_signs_in(args: argparse.Namespace, source: str, stdin: TextIO) -> None:
    """A copy out of a database server holds every site's data: only an administrator who
    works for every site may take it, signed in on that server, and it is audited there."""
    from .services.study import record_study_copy
    from .storage.engine import open_database, shown_location

    if not args.user:
        raise UsageError("db copy from a database server needs an administrator: give "
                         "--user NAME (and the password)")
    db = open_database(source, migrate=False)
    try:
        record_study_copy(_signed_in(args, db, stdin), shown_location(args.target))
    finally:
        db.dispose()


def cmd_serve(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    from .server.app import LOOPBACK, serve
    from .storage.engine import open_database

    location = _db_location(args)
    if not location.startswith("postgresql"):
        raise UsageError("serve runs on a PostgreSQL database: give --db postgresql+psycopg://"
                         "…")
    if (args.certfile is None) != (args.keyfile is None):
        raise UsageError("give both --certfile and --keyfile")
    if args.certfile is None and args.host not in LOOPBACK:
        raise UsageError(f"plain HTTP is allowed only on a loopback address, not {args.host}:"
                         " give --certfile and --keyfile")
    db = open_database(location)
    scheme = "https" if args.certfile else "http"
    print(f"serving {db.shown_location} at {scheme}://{args.host}:{args.port}", file=out,
          flush=True)
    try:
        serve(db, args.host, args.port, args.certfile, args.keyfile)
    finally:
        db.dispose()
    return EXIT_OK


def cmd_backup(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    from .storage.engine import copy_sqlite_file

    db, _ = _open(args)
    if db.path is None:
        raise UsageError("backup copies a SQLite file; back up a PostgreSQL server with "
                         "pg_dump (see docs)")
    if args.out.exists():
        raise CliError(f"{args.out} already exists; choose a new file name")
    copy_sqlite_file(db.path, args.out)
    print(f"backed up {db.path} to {args.out}", file=out)
    return EXIT_OK


COMMANDS = {"init": cmd_init, "template": cmd_template, "user": cmd_user, "import": cmd_import,
            "summary": cmd_summary, "export": cmd_export, "report": cmd_report,
            "handout": cmd_handout,
            "audit": cmd_audit, "backup": cmd_backup, "sign": cmd_sign,
            "settings": cmd_settings, "db": cmd_db, "patient": cmd_patient,
            "serve": cmd_serve, "sdv": cmd_sdv, "query": cmd_query}


def run(argv: Sequence[str] | None = None, out: TextIO | None = None,
        err: TextIO | None = None, stdin: TextIO | None = None) -> int:
    """Run one command; returns the exit status instead of exiting (tests call this)."""
    out = out or sys.stdout
    err = err or sys.stderr
    stdin = stdin or sys.stdin
    if argv is None:
        argv = sys.argv[1:]
    parser = parser_for(argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    from .storage.file_lock import name_this_program

    # How a restore names this process if it finds the study file open here.
    name_this_program("Taper Tracker window" if args.command is None
                      else f"taper-app {args.command}")
    if args.command is None:
        return launch_gui(args, err)
    from .services.errors import ServiceError, ValidationError
    from .storage.errors import DatabaseError

    try:
        if args.command not in THROUGH_THE_SERVER and _on_server(args):
            raise UsageError(f"{args.command} is not available through the application server "
                             "yet; run it on the server (docs/multi-site.md)")
        return COMMANDS[args.command](args, out, stdin)
    except UsageError as exc:
        print(f"taper-app {args.command}: {exc}", file=err)
        return EXIT_USAGE
    except ValidationError as exc:
        for problem in exc.problems:
            print(str(problem), file=err)
        nothing = "nothing was imported" if args.command == "import" else "nothing was saved"
        print(f"taper-app {args.command}: {len(exc.problems)} problem(s); {nothing}", file=err)
        return EXIT_INVALID
    except (CliError, ServiceError, DatabaseError) as exc:
        print(f"taper-app {args.command}: {exc}", file=err)
        return EXIT_INVALID


def launch_gui(args: argparse.Namespace, err: TextIO) -> int:
    """Open the window (on the demo study with ``--demo``)."""
    location = _db_location(args)
    reset_demo: Callable[[], None] | None = None
    if args.reset_demo and not args.demo:
        print("taper-app: --reset-demo goes with --demo", file=err)
        return EXIT_USAGE
    if args.demo:
        from .services.demo import DEMO_PASSWORD, demo_database, prepare_demo
        from .storage.file_lock import StudyFileInUse

        demo = demo_database()
        try:
            built = prepare_demo(demo, date.today(), reset=args.reset_demo)
        except StudyFileInUse as exc:
            print(f"taper-app --demo: the demo study is in use, so it was not rebuilt. {exc}",
                  file=err)
            return EXIT_INVALID
        location = str(demo)

        def reset_demo() -> None:  # Study > Reset the demo study, in the window
            prepare_demo(demo, date.today(), reset=True)

        state = ("built" if built else "kept from the last launch (--reset-demo, or Study > "
                 "Reset the demo study, rebuilds it)")
        print(f"demo study {state}: {demo}; sign in as 'nurse', 'investigator', 'monitor' or "
              f"'admin' with password {DEMO_PASSWORD!r}", file=err)
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
            or os.environ.get("QT_QPA_PLATFORM") or sys.platform in ("win32", "darwin")):
        print("taper-app: no display: the window needs a desktop session (DISPLAY or "
              "WAYLAND_DISPLAY). On a server, use the command line (taper-app --help), or run "
              "under a virtual display: xvfb-run taper-app --demo", file=err)
        return EXIT_USAGE
    from .garbage_collection import startup_imports

    try:
        with startup_imports():  # the window's libraries: most of the time to the window
            from .ui.app import run_gui
    except ImportError as exc:
        print(f"taper-app: the window is not available in this build ({exc}); use the "
              "command line: taper-app --help", file=err)
        return EXIT_USAGE
    return run_gui(location, reset_demo=reset_demo)
