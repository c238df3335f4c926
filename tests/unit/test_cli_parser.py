"""``run`` builds only the named command's parser: it must accept, refuse and explain
exactly what the whole parser does."""

from __future__ import annotations

import contextlib
import io

import pytest

from taper_app.cli import _COMMAND_ARGUMENTS, build_parser, command_named, parser_for

ACTIONS = {"template": ["import"], "user": ["add", "list", "passwd", "reset", "deactivate",
                                           "role"],
           "audit": ["verify", "export"], "settings": ["show", "set"], "db": ["copy"]}


def _parse(parser, argv):
    """(namespace or None, exit status or None, stdout, stderr) of one parse."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            return vars(parser.parse_args(argv)), None, out.getvalue(), err.getvalue()
        except SystemExit as exc:
            return None, exc.code, out.getvalue(), err.getvalue()


def _helps():
    for command in _COMMAND_ARGUMENTS:
        yield [command, "--help"]
        for action in ACTIONS.get(command, []):
            yield [command, action, "--help"]


ARGVS = [
    *_helps(),
    ["summary", "--json", "--db", "x.sqlite", "--as-of", "2026-07-02"],
    ["--db", "x.sqlite", "summary", "--subject", "101-001"],
    ["--db=x.sqlite", "--user", "nurse", "report", "--cohort", "--out", "r.pdf"],
    ["--password-stdin", "--user", "inv", "sign", "--subject", "101-001", "--through",
     "2026-07-01", "--meaning", "reviewed"],
    ["user", "add", "amy", "--role", "nurse", "--full-name", "A N", "--site", "101"],
    ["user", "role", "amy", "monitor", "--reason", "moved"],
    ["user", "role", "amy", "pilot", "--reason", "no such role"],
    ["audit", "export", "--out", "a.csv", "--from", "2026-01-01", "--by", "amy"],
    ["export", "--format", "xml", "--out", "d"],
    ["export", "--out", "d"],
    ["summary", "--no-such-option"],
    ["summary", "--js"],  # an abbreviation argparse takes
    ["template"],
    ["db", "copy", "--from", "a.sqlite", "--to", "postgresql://h/db"],
    ["backup", "--out", "b.sqlite", "extra"],
    ["init", "--demo", "--as-of", "2026-07-02"],
    ["--demo"],
    ["-h", "summary"],          # help before a command: the whole parser's, every command
    ["--help", "user", "add"],
    ["--version", "summary"],
    ["summary", "-h", "--json"],
    [],
]


@pytest.mark.parametrize("argv", ARGVS, ids=" ".join)
def test_the_one_command_parser_does_what_the_whole_parser_does(argv, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    assert _parse(parser_for(argv), argv) == _parse(build_parser(), argv)


@pytest.mark.parametrize(("argv", "named"), [
    (["summary", "--json"], "summary"),
    (["--db", "summary", "report"], "report"),  # --db's value is not the command
    (["--db=summary", "report"], "report"),
    (["--user", "amy", "--password-stdin", "sign"], "sign"),
    (["--demo"], None),
    ([], None),
    (["--help"], None),
    (["-h", "summary"], None),
    (["--version", "summary"], None),
    (["sumary"], None),            # a typo: the whole parser lists the commands
    (["--us", "amy", "summary"], None),  # an abbreviation: the whole parser decides
    (["--demo=1", "summary"], None),
    (["-x", "summary"], None),
    (["--db"], None),
])
def test_command_named(argv, named):
    assert command_named(argv) == named


def test_the_whole_parser_lists_every_command():
    _, status, out, _ = _parse(parser_for(["--help"]), ["--help"])
    assert status == 0
    assert all(command in out for command in _COMMAND_ARGUMENTS)
    _, status, _, err = _parse(parser_for(["sumary"]), ["sumary"])
    assert status == 2 and "invalid choice: 'sumary'" in err
