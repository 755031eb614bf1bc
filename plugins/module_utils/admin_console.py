# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Drive the Clara Train 4.0 (``nvflare==1.0.x``) FL admin console without a human.

The engine's admin API (``dlmed.hci.client.api.AdminAPI``) only loads on CPython 3.8, so it
never runs in the Ansible module's own Python: ``admin_driver.py`` beside this file is a small
Python 3.8 program whose source is executed with ``python3 -c`` inside a container of the Clara image (the
admin container), logs in with the admin kit's certificate, runs the commands, logs out and
prints ONE JSON document. Everything else here is plain, unit-tested functions:

* commands: :func:`split_command`, :func:`command_verb`, :func:`command_sites`,
  :func:`is_mutating`, :func:`validate_commands`;
* replies: :func:`reply_text`, :func:`classify_reply` (is this reply an error?),
  :func:`parse_instances`;
* status: :func:`parse_server_status_reply`, :func:`parse_client_status_reply`,
  :func:`parse_status` (AdminAPI replies) and :func:`parse_server_status_text`,
  :func:`parse_client_status_text`, :func:`split_console_transcript`,
  :func:`status_from_transcript` (screen text of the interactive console);
* the kit: :func:`parse_admin_endpoint` (host and port from ``startup/fl_admin.sh`` or
  ``startup/fed_admin.json``);
* the run: :func:`build_driver_args`, :func:`parse_driver_output`, :func:`failure_message`,
  :func:`run_console` (Docker SDK ``exec_run``; the client object is passed in).

The reply structure (what ``AdminAPI.do_command`` returns), as measured on the engine::

    {"time": "2026-11-27 21:29:39.318641", "status": "SUCCESS",
     "data": [{"type": "string", "data": "FL run number:1\\nFL server status: training started"},
              {"type": "table", "rows": [["CLIENT NAME", "TOKEN", ...], ["site-a", "83a1...", "", "0"]]},
              {"type": "error", "data": "There's invalid clients: nosuch"}]}

``status`` is added by the API and is ``SUCCESS`` even when the server answered with an
error item or an error sentence; replies the API makes itself carry only ``status`` (an
``APIStatus`` such as ``ERROR_COMMAND_SYNTAX``) and ``details``. Many engine errors are plain
``string`` items ("Please set a FL run number.", "MMAR folder 'x' does not exist.",
"Server training has not started."), hence the sentence classifier below.

Confirmation: the interactive console asks ``Confirm with User Name:`` for commands whose
registry entry has ``confirm: auth`` (shutdown, restart, remove_client, delete_run_number)
and ``Are you sure (Y/N):`` for ``yesno``; it then sends the very same command line. The
prompt lives only in the console (``dlmed.hci.client.lib.AdminClient``); ``AdminAPI`` sends
the command directly, so there is nothing to answer. The driver reports each command's
``confirm`` mode from the registry the server sent at login.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import inspect
import io
import json
import re
import shlex
import tarfile

from ansible_collections.clarafl.federation.plugins.module_utils import admin_driver
from ansible_collections.clarafl.federation.plugins.module_utils.federation import start_site_command

from ansible_collections.clarafl.federation.plugins.module_utils.docker_sdk import (
    APIError, DockerException, DockerUnavailable, NotFound, connect)


DEFAULT_KIT_DIR = "/workspace/admin"
DEFAULT_TIMEOUT = 60.0
# The login (TLS handshake plus the server's command registry) is not a command: a short
# per-command timeout does not cut it below this many seconds.
LOGIN_TIMEOUT = 10.0
RESULT_MARKER = "CLARAFL-ADMIN-CONSOLE-RESULT "

# --------------------------------------------------------------------------- command knowledge

# Verbs that only read. Everything else is treated as mutating (changed=true, skipped in
# check mode), including client-side file transfer commands that write into the admin kit.
READ_ONLY_VERBS = frozenset([
    "check_status", "sys_info", "taskname", "info",
    "ls", "cat", "head", "tail", "grep", "pwd", "env",
    "show_config", "show_info", "show_rights", "show_rules", "show_sites", "show_users",
    "eval_right", "eval_rule",
])
# Known mutating verbs (for reference: anything that is not read-only counts as mutating).
MUTATING_VERBS = frozenset([
    "set_run_number", "delete_run_number", "upload_folder", "download_folder", "download_text",
    "download_binary", "deploy", "start", "start_mgpu", "abort", "shutdown", "restart", "remove_client",
    "set_timeout", "validate",
])
# Shell-like commands: the first argument is the target, "server" or a client name.
SHELL_VERBS = frozenset(["ls", "cat", "head", "tail", "grep", "pwd", "env"])
# "<verb> server" / "<verb> client [names...]"
TARGET_VERBS = frozenset(["check_status", "start", "abort", "shutdown", "restart", "sys_info"])
# Verbs that act on every registered client when given "client" without names and that
# change something: with `sites`, every expected site must then be registered.
ALL_CLIENT_MUTATING_VERBS = frozenset(["start", "start_mgpu", "abort", "shutdown", "restart", "deploy"])
# Client commands whose reply has one "instance:<site> : ..." line per site it reached: a
# targeted site without its line did not get the command.
PER_SITE_REPLY_VERBS = frozenset(["deploy", "start", "start_mgpu", "abort"])
# Things only the interactive console understands; AdminAPI would answer "not found".
CONSOLE_ONLY_VERBS = frozenset(["bye", "help", "?", "lpwd", "lls", "lcd", "exit", "quit"])

# --------------------------------------------------------------------------- error classifier

# Case-insensitive regular expressions searched in each line of the reply's `string` items.
# Every sentence here was read from the engine (nvflare 1.0.2 / clara_hci 4.0) or measured.
ERROR_RULES = {
    # for every verb except the shell-like ones (whose output is file content)
    "generic": [
        r"^\s*error\b", r"\berror:",
        r"undefined server command", r"ambiguous (server|client) command", r"not found in registry",
        r"syntax error", r"unknown command\.", r"\busage:",
        r"invalid clients?\b",
        r"does not exist", r"please set a fl run number", r"please deploy",
        r"run number need to be an integer", r"run number should be >= 0", r"timeout need to be >= 0",
        r"must provide", r"can not be changed during", r"can not be deleted", r"does not support",
        r"please abort all clients", r"there are still active clients", r"please wait for started",
        r"already in training",
        r"not authorized", r"authorization error", r"not allowed", r"not authenticated",
        r"authentication error", r"permission denied",
        r"no reply from client", r"\bno replies\b", r"timed out",
        r"failed to communicate", r"communication error", r"did not respond", r"login failed",
        r"incorrect user name or certificate", r"wrong server: expecting",
        r"no such file", r"no such folder", r"not a file", r"is not a valid (folder|dir|directory|file)",
        r"cannot be applied to file", r"does not accept extra args",
        r"protocol error", r"execution exception", r"exception_occurred", r"traceback \(most recent call last\)",
    ],
    # shell-like verbs: only the engine's own complaints and the tool's stderr first words
    "shell": [
        # "Error: invalid client: ..." (a log line such as "Error processing config ..." is file content)
        r"^\s*error:", r"invalid client", r"no reply from client", r"\bno replies\b",
        r"in path name is not allowed", r"absolute path is not allowed", r"this command is not allowed",
        r"cannot be applied to file", r"does not accept extra args", r"^syntax error", r"program error",
        r"not authorized", r"authorization error",
        r"^(cat|head|tail|grep|ls|pwd|env): .*(no such file|cannot access|permission denied|is a directory"
        r"|invalid option|unrecognized option)",
    ],
    # additional, per verb
    "verb": {
        "start": [r"training has not started", r"mmar does not exist"],
        "start_mgpu": [r"training has not started", r"mmar does not exist"],
    },
    # lines that are not an error for that verb although a generic rule matches them:
    # check_status reports a site's trouble as that site's status instead of failing
    "tolerated": {
        "check_status": [r"^(instance:)?[^:]* : (exception_occurred|no replies)\s*$", r"^\s*no replies\s*$"],
    },
    # replies that mean "nothing to do" for that verb (the command is then not a change)
    "noop": {
        "abort": [r"training has not started", r"training already stopped"],
    },
    # informative lines that say nothing about the outcome (ignored by the no-op test)
    "info": [r"^trying to abort all clients before abort server"],
}


class AdminConsoleError(Exception):
    """A problem found before or while driving the console. ``kind`` is a short word."""

    def __init__(self, message, kind="error", **details):
        super(AdminConsoleError, self).__init__(message)
        self.kind = kind
        self.details = details


# --------------------------------------------------------------------------- commands

def split_command(command):
    """Split a command line the way the engine does (shell-like quoting)."""
    try:
        return shlex.split(command)
    except ValueError as exc:
        raise AdminConsoleError("Admin command %r cannot be parsed: %s" % (command, exc), kind="bad_command")


def command_verb(command_or_args):
    """The command's name without its scope (``training.start`` -> ``start``), lower case."""
    args = split_command(command_or_args) if not isinstance(command_or_args, list) else command_or_args
    if not args:
        return ""
    verb = args[0]
    if "." in verb and not verb.startswith("."):
        verb = verb.split(".", 1)[1]
    return verb.lower()


def is_mutating(command):
    """True unless the command only reads (check_status, ls, cat, info ...)."""
    return command_verb(command) not in READ_ONLY_VERBS


def command_sites(command):
    """Return (sites, all_clients): the client sites the command names, and whether it acts on
    every registered client ("start client", "deploy app client").

    "server" is never a site name here. Unknown verbs name no sites.
    """
    args = split_command(command) if not isinstance(command, list) else command
    verb = command_verb(args)
    names = []
    all_clients = False
    if verb in TARGET_VERBS:
        if len(args) >= 2 and args[1] == "client":
            names = args[2:]
            all_clients = not names
    elif verb == "start_mgpu":
        if len(args) >= 2 and args[1] == "client":
            names = args[3:]
            all_clients = not names
    elif verb == "deploy":
        if len(args) >= 3 and args[2] == "client":
            names = args[3:]
            all_clients = not names
    elif verb == "remove_client":
        names = args[1:]
    elif verb in SHELL_VERBS:
        if len(args) >= 2 and args[1] != "server":
            names = [args[1]]
    elif verb == "validate":
        names = [a for a in args[1:] if a not in ("all", "server")]
    elif verb == "eval_rule":
        names = args[1:2]
    elif verb == "eval_right":
        names = args[3:4]
    names = [n for n in names if n != "server"]
    return names, all_clients


def validate_commands(commands, expected_sites=None):
    """Check and normalize the command list before anything is sent.

    Returns the stripped commands. Raises AdminConsoleError naming the first bad command:
    empty, more than one line, console-only (``bye``, ``help``), internal (``_login``),
    unbalanced quotes, or (with ``expected_sites``) naming a site outside that list.
    """
    out = []
    expected = None if expected_sites is None else set(expected_sites)
    for index, raw in enumerate(commands or []):
        if not isinstance(raw, str):
            raise AdminConsoleError("commands[%d] must be a string, got %r" % (index, raw), kind="bad_command")
        command = raw.strip()
        if not command:
            raise AdminConsoleError("commands[%d] is empty" % index, kind="bad_command")
        if "\n" in command or "\r" in command:
            raise AdminConsoleError("commands[%d] %r holds a line break; give one admin command per list item"
                                    % (index, command), kind="bad_command")
        command = re.sub(r"[ \t]+", " ", command)
        args = split_command(command)
        verb = command_verb(args)
        if verb in CONSOLE_ONLY_VERBS:
            raise AdminConsoleError("Admin command %r only exists in the interactive console; the module logs in and "
                                    "out by itself" % command, kind="bad_command")
        if verb.startswith("_"):
            raise AdminConsoleError("Admin command %r is internal to the admin protocol and cannot be sent" % command,
                                    kind="bad_command")
        if expected is not None:
            sites, _all = command_sites(args)
            unknown = [s for s in sites if s not in expected]
            if unknown:
                raise AdminConsoleError(
                    "Admin command %r names site%s %s, which %s not among the expected sites (%s); nothing was sent"
                    % (command, "" if len(unknown) == 1 else "s", ", ".join("'%s'" % s for s in unknown),
                       "is" if len(unknown) == 1 else "are", ", ".join(sorted(expected)) or "none"),
                    kind="unknown_site", sites=unknown, command=command)
        out.append(command)
    return out


# --------------------------------------------------------------------------- replies

def _render_table(rows):
    """Render table rows the way the console does (padded cells between dashed lines)."""
    rows = [[u"%s" % c for c in row] for row in rows or []]
    if not rows:
        return ""
    ncol = max(len(r) for r in rows)
    rows = [r + [""] * (ncol - len(r)) for r in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(ncol)]
    line = "-" * (sum(widths) + 3 * ncol + 1)

    def fmt(row):
        return "| " + " | ".join(row[i].ljust(widths[i]) for i in range(ncol)) + " |"

    out = [line, fmt(rows[0]), line]
    out.extend(fmt(r) for r in rows[1:])
    out.append(line)
    return "\n".join(out)


def reply_items(reply):
    """The reply's data items (a list of dicts), or [] when it has none."""
    if not isinstance(reply, dict):
        return []
    data = reply.get("data")
    return [i for i in data if isinstance(i, dict)] if isinstance(data, list) else []


def reply_text(reply, extra_output="", extra_errors=None):
    """Human-readable text of a reply: strings, errors and console-style tables, in order.

    ``extra_output`` / ``extra_errors`` are what client-side commands (upload_folder, info)
    wrote locally instead of into the reply.
    """
    parts = []
    if extra_output:
        parts.append(extra_output.rstrip("\n"))
    for err in extra_errors or []:
        parts.append(u"%s" % err)
    if isinstance(reply, dict) and "data" not in reply and reply.get("details"):
        parts.append(u"%s" % reply["details"])
    for item in reply_items(reply):
        kind = item.get("type")
        if kind == "table":
            parts.append(_render_table(item.get("rows")))
        elif kind in ("string", "error", "success", "shutdown"):
            parts.append((u"%s" % item.get("data", "")).rstrip("\n"))
        elif kind == "dict":
            parts.append(json.dumps(item.get("data"), sort_keys=True))
    return "\n".join(p for p in parts if p != "")


def _matches(patterns, line):
    return any(re.search(p, line, re.IGNORECASE) for p in patterns)


def classify_reply(command, reply, extra_errors=None, rules=None):
    """Decide whether a reply is an error.

    Returns a dict: ``ok`` (bool), ``error`` (the offending text or None), ``noop`` (the
    command did nothing, e.g. abort when nothing runs).

    The reply is an error when the API status is not SUCCESS, when it holds an ``error``
    item, when a client-side command reported an error (``extra_errors``), or when a line
    of a ``string`` item matches the rules for the command's verb (see ERROR_RULES).
    ``None`` (no reply at all) is an error.
    """
    rules = rules or ERROR_RULES
    verb = command_verb(command) if isinstance(command, str) else command_verb(list(command))
    errors = []
    if extra_errors:
        errors.extend(u"%s" % e for e in extra_errors)
    if not isinstance(reply, dict):
        return {"ok": False, "error": "; ".join(errors) or "no reply", "noop": False}
    status = reply.get("status", "SUCCESS")
    if status != "SUCCESS":
        errors.append(u"%s" % (reply.get("details") or status))
    patterns = list(rules["shell"] if verb in SHELL_VERBS else rules["generic"])
    patterns.extend(rules.get("verb", {}).get(verb, []))
    tolerated = rules.get("tolerated", {}).get(verb, [])
    noop_patterns = rules.get("noop", {}).get(verb, [])
    info = rules.get("info", [])
    outcome_lines = 0
    noop_lines = 0
    for item in reply_items(reply):
        kind = item.get("type")
        if kind == "error":
            errors.append((u"%s" % item.get("data", "")).strip())
        elif kind in ("string", "success"):
            for line in (u"%s" % item.get("data", "")).splitlines():
                if not line.strip():
                    continue
                if tolerated and _matches(tolerated, line):
                    continue
                if _matches(patterns, line):
                    errors.append(line.strip())
                elif info and _matches(info, line):
                    continue
                else:
                    outcome_lines += 1
                    if noop_patterns and _matches(noop_patterns, line):
                        noop_lines += 1
    if errors:
        return {"ok": False, "error": "\n".join(errors), "noop": False}
    return {"ok": True, "error": None, "noop": bool(noop_lines) and noop_lines == outcome_lines}


_INSTANCE_RE = re.compile(r"^instance:(?P<name>[^:]*?)\s?: (?P<msg>.*)$")


def parse_instances(text):
    """Per-site lines of a reply ("instance:site-a : MMAR deployed."): a list of
    ``{"site": name, "message": text}`` in order. Continuation lines are appended to the
    previous site's message. Site names may be empty (the engine prints "instance: : ..."
    for shutdown)."""
    out = []
    for line in (text or "").splitlines():
        m = _INSTANCE_RE.match(line)
        if m:
            out.append({"site": m.group("name").strip(), "message": m.group("msg").rstrip()})
        elif out and line.strip():
            out[-1]["message"] += "\n" + line.rstrip()
    return out


# --------------------------------------------------------------------------- status

_KV_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z_ ]*?)\s*:\s*(.*?)\s*$")
_INT_FIELDS = {
    "run number": "run_number", "start round": "start_round", "max round": "max_round",
    "current round": "current_round", "min_num_clients": "min_num_clients", "max_num_clients": "max_num_clients",
}


def _to_int(value):
    try:
        return int(value.strip())
    except (AttributeError, ValueError):
        return None


def _parse_server_lines(lines, status):
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        low = line.lower()
        if low.startswith("fl run number has not been set"):
            status["run_number"] = None
            continue
        m = re.match(r"^fl run number\s*:\s*(\S+)", line, re.IGNORECASE)
        if m:
            status["run_number"] = _to_int(m.group(1))
            continue
        m = re.match(r"^fl server status\s*:\s*(.+)$", line, re.IGNORECASE)
        if m:
            status["server_status"] = m.group(1).strip()
            continue
        m = re.match(r"^registered clients\s*:\s*(\d+)", line, re.IGNORECASE)
        if m:
            status["registered_count"] = int(m.group(1))
            continue
        m = re.match(r"^total number of clients submitted models for current round\s*:\s*(\d+)", line, re.IGNORECASE)
        if m:
            status["submitted_models"] = int(m.group(1))
            continue
        # "run number:1<TAB>start round:0<TAB>max round:3<TAB>current round:0" and
        # "min_num_clients:1<TAB>max_num_clients:100"
        for part in line.split("\t"):
            kv = _KV_RE.match(part)
            if kv and kv.group(1).strip().lower() in _INT_FIELDS:
                value = _to_int(kv.group(2))
                if value is not None:
                    status[_INT_FIELDS[kv.group(1).strip().lower()]] = value


def _is_client_table(rows):
    try:
        return "client name" in [(u"%s" % h).strip().lower() for h in rows[0]]
    except (TypeError, IndexError, KeyError):
        return False


def _registered_from_rows(rows):
    rows = [list(r) for r in rows or [] if isinstance(r, (list, tuple))]
    if not rows:
        return []
    header = [u"%s" % h for h in rows[0]]
    norm = [h.strip().lower() for h in header]
    if "client name" not in norm:
        return []
    idx = dict((name, norm.index(name)) for name in norm)
    out = []
    for row in rows[1:]:
        cells = [(u"%s" % c).strip() for c in row] + [""] * (len(header) - len(row))
        entry = {"name": cells[idx["client name"]]}
        if "token" in idx:
            entry["token"] = cells[idx["token"]]
        if "last accepted round" in idx:
            entry["last_accepted_round"] = _to_int(cells[idx["last accepted round"]])
        if "contribution count" in idx:
            entry["contribution_count"] = _to_int(cells[idx["contribution count"]])
        out.append(entry)
    return out


def parse_server_status_reply(reply):
    """The status dict from the AdminAPI reply of ``check_status server`` (keys absent when
    the engine did not print them)."""
    status = {}
    lines = []
    for item in reply_items(reply):
        if item.get("type") == "string":
            lines.extend((u"%s" % item.get("data", "")).splitlines())
        elif item.get("type") == "table" and "registered_clients" not in status \
                and _is_client_table(item.get("rows")):
            status["registered_clients"] = _registered_from_rows(item.get("rows"))
    _parse_server_lines(lines, status)
    if "registered_count" in status and "registered_clients" not in status:
        status["registered_clients"] = []
    return status


def _parse_client_lines(text):
    clients = {}
    for entry in parse_instances(text):
        msg = entry["message"]
        info = {}
        for part in msg.split("\t"):
            kv = _KV_RE.match(part)
            if not kv:
                continue
            key = kv.group(1).strip().lower()
            if key == "client name":
                info["name"] = kv.group(2)
            elif key == "token":
                info["token"] = kv.group(2)
            elif key == "status":
                info["status"] = kv.group(2)
        name = info.pop("name", None) or entry["site"]
        if "status" not in info:
            info["status"] = msg.strip()
        clients[name] = info
    # "site-x : No replies" lines without the instance prefix
    for line in (text or "").splitlines():
        m = re.match(r"^\s*([^\s:][^:]*?)\s*:\s*No replies\s*$", line)
        if m and not line.startswith("instance:"):
            clients.setdefault(m.group(1), {"status": "No replies"})
    return clients


def parse_client_status_reply(reply):
    """``{site: {token, status}}`` from the AdminAPI reply of ``check_status client``."""
    text = "\n".join((u"%s" % i.get("data", "")) for i in reply_items(reply) if i.get("type") == "string")
    return _parse_client_lines(text)


def summarize_watch(watch_replies):
    """(history, contributions) from the server status readings a watch collected: one parsed
    status per reading, and the highest contribution count seen for each site."""
    history = []
    contributions = {}
    for reading in watch_replies or []:
        status = parse_server_status_reply(reading.get("reply"))
        status["time"] = reading.get("time")
        history.append(status)
        for client in status.get("registered_clients") or []:
            count = client.get("contribution_count")
            if isinstance(count, int) and count > contributions.get(client.get("name"), 0):
                contributions[client.get("name")] = count
    return history, contributions


def _count(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


VALIDATING = "cross site validation"


def lagging_sites(status, sites):
    """The sites of a training that lag behind the others: not registered, not training, or with fewer
    contributions than the site that has the most (a hung start, a site that stopped answering)."""
    counts = dict((c.get("name"), _count(c.get("contribution_count"))) for c in status.get("registered_clients") or [])
    top = max([c for c in counts.values() if c is not None] or [0])
    clients = status.get("clients") or {}
    # A site that validates has trained its last round (cross-site validation follows at once): not lagging.
    return [s for s in sites
            if (clients.get(s) or {}).get("status") != VALIDATING
            and (s not in counts or counts[s] is None or counts[s] < top
                 or (clients.get(s) or {}).get("status") != "training started")]


# A site goes from its last round to its validation at once; once none validates for this long, no more will.
VALIDATION_SETTLE = 15.0


def wait(read, wait_for, timeout, sites=(), stall_timeout=0, seen_training=False, interval=2.0,
         watch_max=60.0, clock=None, sleep=None, retry_errors=False, diagnose=None, diagnose_after=20.0,
         validation=None, finished=None):
    """The one wait of the admin side: read the federation's status until WAIT_FOR holds.

    read(watch) returns (status, history, contributions) from one console session: the status at its end
    and, with watch > 0, every reading of a watch that ends early when the round or the server state changes.
    wait_for:
      * ``registered``: every site in SITES answers the server (``check_status client``);
      * ``stopped``: the training stopped after it was seen training (SEEN_TRAINING carries that over
        from an earlier wait); with STALL_TIMEOUT, the wait also ends when the round has not moved for
        that long while the server trains, naming the sites that lag behind (see lagging_sites).
    With RETRY_ERRORS, a read that raises AdminConsoleError (the server may still be starting) is read again
    until TIMEOUT; the error is raised only when no status could be read at all. Without it, it is raised at once.
    With FINISHED (``stopped`` only; the caller has just started the training), a reading of "training stopped"
    before any of "training started" asks finished(status) whether the training already ran to its last round (a
    short run can end before the first reading); if so, it counts as seen and the wait is done.
    With DIAGNOSE (``stopped`` only), a training whose round has not moved for DIAGNOSE_AFTER seconds has its
    engine logs read: diagnose(status) returns {target: [lines]} (engine_log.failure_lines), and any lines end
    the wait at once as ``failed`` with those ``failures`` (an app that cannot start is not a site that hangs).
      * ``validated``: the cross-site validation after a training: VALIDATION() reads ``validate all`` into a
        matrix (cross_validation.validation_matrix); done when the matrix is complete, or when no site of SITES
        has been validating (status "cross site validation") for VALIDATION_SETTLE seconds (a site that opted
        out, or whose validation failed, leaves its cells missing). On TIMEOUT, ``validating_sites`` names the
        sites still validating; none once the matrix is complete (the engine's remedy is ``abort client <site>``).
    Returns {done, stalled, failed, failures, timed_out, lagging_sites, missing_sites, validating_sites, matrix,
    seen_training, status, history, contributions, waited}; it never raises for a condition that does not hold in
    time.
    """
    import time  # pylint: disable=import-outside-toplevel
    clock = clock or time.time
    sleep = sleep or time.sleep
    if wait_for not in ("registered", "stopped", "validated"):
        raise ValueError("wait_for must be registered, stopped or validated, got %r" % (wait_for,))
    if wait_for == "validated" and validation is None:
        raise ValueError("wait_for validated needs validation, the reader of validate all")
    start = clock()
    deadline = start + float(timeout)
    moved = start
    last_round = None
    out = dict(done=False, stalled=False, failed=False, failures={}, timed_out=False, lagging_sites=[],
               missing_sites=list(sites), validating_sites=[], matrix=None, seen_training=bool(seen_training),
               status={}, history=[], contributions={}, waited=0.0)
    last_validating = start
    diagnosed = start
    have_status = False
    have_read = False
    while True:
        remaining = deadline - clock()
        # With a diagnosis, a watch ends in time for it (a watch ends early only when something moves).
        longest = min(watch_max, float(diagnose_after) / 2) if diagnose is not None else watch_max
        watch = min(longest, max(1.0, remaining)) if wait_for == "stopped" else 0
        try:
            status, history, contributions = read(watch)
        except AdminConsoleError:
            if not retry_errors or (clock() >= deadline and not have_status):
                raise
            if clock() >= deadline:
                out["timed_out"] = True
                return out
            sleep(min(interval, max(0.0, deadline - clock())))
            continue
        have_status = True
        out["status"] = status
        out["history"].extend(history)
        for site, count in contributions.items():
            if count > out["contributions"].get(site, 0):
                out["contributions"][site] = count
        states = [h.get("server_status") for h in history] + [status.get("server_status")]
        if "training started" in states:
            out["seen_training"] = True
        rounds = set(h.get("current_round") for h in history)
        # The first reading is the baseline, not a move: the time without a move counts from it.
        if not have_read or len(rounds) > 1 or status.get("current_round") != last_round:
            moved = clock()
        have_read = True
        last_round = status.get("current_round")
        out["waited"] = round(clock() - start, 1)
        if wait_for == "registered":
            out["missing_sites"] = [s for s in sites if not _answers(status, s)]
            out["done"] = not out["missing_sites"]
        elif wait_for == "validated":
            clients = status.get("clients") or {}
            out["validating_sites"] = [s for s in sites if (clients.get(s) or {}).get("status") == VALIDATING]
            if out["validating_sites"]:
                last_validating = clock()
            out["matrix"] = validation()
            complete = (out["matrix"] or {}).get("state") == "complete"
            if complete:
                # A site whose results are all in may still say it validates for a moment: nothing to abort.
                out["validating_sites"] = []
            out["done"] = complete or (not out["validating_sites"] and clock() - last_validating >= VALIDATION_SETTLE)
        else:
            if (not out["seen_training"] and finished is not None and status.get("server_status") == "training stopped"
                    and finished(status)):
                out["seen_training"] = True
            out["done"] = status.get("server_status") == "training stopped" and out["seen_training"]
            now = clock()
            if (not out["done"] and diagnose is not None and now - moved > float(diagnose_after)
                    and now - diagnosed > float(diagnose_after)):
                diagnosed = now
                failures = dict((target, lines) for target, lines in (diagnose(status) or {}).items() if lines)
                if failures:
                    out.update(failed=True, failures=failures)
                    return out
            if (not out["done"] and stall_timeout and status.get("server_status") == "training started"
                    and clock() - moved > float(stall_timeout)):
                out["stalled"] = True
                out["lagging_sites"] = lagging_sites(status, sites)
                return out
        if out["done"]:
            return out
        if clock() >= deadline:
            out["timed_out"] = True
            return out
        if wait_for in ("registered", "validated"):
            sleep(min(interval, max(0.0, deadline - clock())))


REJOIN_INTERVAL = 5.0
NO_ANSWER = "No replies"


def _answers(status, site):
    """The site answers the server's ``check_status client`` (it is registered and replies)."""
    info = (status.get("clients") or {}).get(site)
    return info is not None and (info.get("status") or NO_ANSWER) != NO_ANSWER


def _registered(status, site):
    return site in [c.get("name") for c in status.get("registered_clients") or []]


def rejoin(read, send, sites, mmar=None, timeout=180, check_mode=False, interval=REJOIN_INTERVAL, clock=None,
           sleep=None, gpus=None):
    """The one place that brings back sites whose containers were just restarted (a site that hung, one that died).

    For each site of SITES, as a restarted site needs:
      * the server refuses a restarted site's new registration while the old one lives (up to its heart-beat
        timeout): an old registration that no longer answers is removed (``remove_client SITE``; the engine
        answers "Server did not respond" although it removed it, so only the wait below judges);
      * then the site must answer the server (``check_status client``) within TIMEOUT seconds, counted from the
        first call, for all the sites together;
      * a site that answers while the server trains and it does not is given the training's MMAR and started
        (``deploy MMAR client SITE``, then ``start client SITE``, or ``start_mgpu client <n> SITE`` for a site that
        GPUS ({site: count}) lists on several GPUs, as the run's first start), so that it contributes again.

    read() returns the parsed status (see parse_status) of one console session and raises AdminConsoleError when
    the server cannot be read (it may still be starting: read again until TIMEOUT). send(commands) runs admin
    commands on one login and raises AdminConsoleError when one fails. MMAR is the name the training's MMAR was
    uploaded under; it is needed only when a site must join a running training.

    Returns {"rejoined": {site: [what was done, ...]}, "status": the last status, "changed": bool}. In CHECK_MODE
    the status is read once, nothing is sent and the lists say what would be done. Raises AdminConsoleError
    (kind ``rejoin``, details ``rejoined``) naming the sites that never answered, after the others were brought
    back, or naming a site whose deploy or start failed.
    """
    import time  # pylint: disable=import-outside-toplevel
    clock = clock or time.time
    sleep = sleep or time.sleep
    sites = list(dict.fromkeys(sites))
    deadline = clock() + float(timeout)
    done = dict((site, []) for site in sites)
    out = {"rejoined": done, "status": {}, "changed": False}

    def fail(message, kind="rejoin"):
        raise AdminConsoleError(message, kind=kind, rejoined=done, status=out["status"])

    def read_until(answering):
        """The status once every site of ANSWERING answers (the one wait, errors read again until the deadline)."""
        result = wait(lambda _watch: (read(), [], {}), "registered", max(0.0, deadline - clock()), sites=answering,
                      interval=interval, clock=clock, sleep=sleep, retry_errors=True)
        return result["status"]

    if not sites:
        return out
    try:
        status = read_until(())
    except AdminConsoleError as exc:
        fail("Could not read the federation's status to bring back %s within %g s: %s"
             % (", ".join(sites), float(timeout), exc), kind=exc.kind)
    out["status"] = status
    for site in sites:
        if _registered(status, site) and not _answers(status, site):
            out["changed"] = True
            if check_mode:
                done[site].append("would remove its old registration")
                continue
            try:
                send(["remove_client %s" % site])
                done[site].append("removed its old registration")
            except AdminConsoleError as exc:
                answer = re.sub(r"^Admin command '[^']*' failed: ", "", " ".join(str(exc).split()))
                if re.search(r"did not respond", answer, re.IGNORECASE):
                    # the engine's usual answer to remove_client: it removes the site all the same
                    done[site].append("removed its old registration")
                else:
                    done[site].append("asked the server to remove its old registration (it answered: %s)" % answer)

    if check_mode:
        waiting = [s for s in sites if not _answers(status, s)]
    else:
        status = read_until(sites) or status
        out["status"] = status
        waiting = [s for s in sites if not _answers(status, s)]
    for site in sites:
        if site in waiting:
            done[site].append("would wait until it answers the server" if check_mode
                              else "did not answer the server within %g s" % float(timeout))
            continue
        state = ((status.get("clients") or {}).get(site) or {}).get("status")
        done[site].append("answers the server (%s)" % state)
        if status.get("server_status") != "training started":
            continue
        if state == "training started":
            done[site].append("trains in the running training")
            continue
        if not mmar:
            fail("Site %s answers the server again, but the server is training and the site is not: it needs the "
                 "training's MMAR deployed and a start, and no MMAR name was given (set mmar)." % site)
        joined = "deployed %s to it and started it in the running training (round %s)" % (
            mmar, status.get("current_round", "?"))
        if check_mode:
            done[site].append("would have " + joined)
            out["changed"] = True
            continue
        try:
            send(["deploy %s client %s" % (mmar, site), start_site_command(site, gpus)])
        except AdminConsoleError as exc:
            try:
                now = read()
            except AdminConsoleError:
                now = {}
            if now.get("server_status") == "training started":
                fail("Site %s answers the server again, but bringing it into the running training failed: %s"
                     % (site, exc), kind=exc.kind)
            out["status"] = now or status
            done[site].append("the training ended before the site could be started in it")
            continue
        out["changed"] = True
        done[site].append(joined)
    if waiting and not check_mode:
        fail("Site%s %s did not answer the server within %g s after %s container was restarted%s: see %s log "
             "(docker logs of the site's container on its machine) and check that it reaches the server on the FL "
             "port." % ("" if len(waiting) == 1 else "s", ", ".join(waiting), float(timeout),
                        "its" if len(waiting) == 1 else "their",
                        "" if len(waiting) == len(sites) else
                        " (the other sites are back: %s)" % ", ".join(s for s in sites if s not in waiting),
                        "its" if len(waiting) == 1 else "their"))
    return out


def parse_status(server_reply=None, client_reply=None):
    """The module's ``status`` return value from the two status replies (either may be None)."""
    status = {}
    if server_reply is not None:
        status.update(parse_server_status_reply(server_reply))
    if client_reply is not None:
        status["clients"] = parse_client_status_reply(client_reply)
    return status


_CONSOLE_DONE_RE = re.compile(r"^Done \[\d+ usecs\] .*$")


def split_console_transcript(text):
    """Split a transcript of the interactive console into the output of each command (the
    console does not echo what was typed). Each block is the text after a ``> `` prompt,
    without the ``Done [...]`` trailer."""
    blocks = []
    current = None
    for line in (text or "").splitlines():
        if line.startswith("> ") or line == ">":
            if current is not None:
                blocks.append("\n".join(current).strip("\n"))
            rest = line[2:]
            # "Confirm with User Name: " precedes the answer of confirmed commands
            rest = re.sub(r"^Confirm with User Name: ", "", rest)
            current = [rest]
        elif current is not None:
            current.append(line)
    if current is not None:
        blocks.append("\n".join(current).strip("\n"))
    return [
        "\n".join(line for line in block.splitlines() if not _CONSOLE_DONE_RE.match(line)).strip("\n")
        for block in blocks
    ]


def _table_rows_from_text(lines):
    rows = []
    for line in lines:
        s = line.strip()
        if s.startswith("|") and s.endswith("|"):
            rows.append([c.strip() for c in s[1:-1].split("|")])
    return rows


def parse_server_status_text(text):
    """The status dict from the console's screen text of ``check_status server``."""
    lines = (text or "").splitlines()
    status = {}
    _parse_server_lines([ln for ln in lines if not ln.strip().startswith(("|", "-"))], status)
    rows = _table_rows_from_text(lines)
    if rows:
        status["registered_clients"] = _registered_from_rows(rows)
    elif "registered_count" in status:
        status["registered_clients"] = []
    return status


def parse_client_status_text(text):
    """``{site: {token, status}}`` from the console's screen text of ``check_status client``."""
    return _parse_client_lines(text)


def status_from_transcript(text):
    """The status dict from a whole console transcript: the last ``check_status server`` and
    the last ``check_status client`` outputs in it are recognised by their content."""
    status = {}
    server_block = client_block = None
    for block in split_console_transcript(text):
        if re.search(r"^FL server status\s*:", block, re.MULTILINE) or "FL run number" in block:
            server_block = block
        elif re.search(r"client name: .*\tstatus: ", block):
            client_block = block
    if server_block is not None:
        status.update(parse_server_status_text(server_block))
    if client_block is not None:
        status["clients"] = parse_client_status_text(client_block)
    return status


# --------------------------------------------------------------------------- the admin kit

def parse_admin_endpoint(fl_admin_sh=None, fed_admin_json=None):
    """(host, port) of the admin server from the kit: Clara Train 4.0 kits start the console
    with ``startup/fl_admin.sh`` (``--host H --port P``); NVFlare 2.x kits hold
    ``startup/fed_admin.json`` (``{"admin": {"host": .., "port": ..}}``). Either may be None.
    Returns (None, None) when neither says."""
    host = port = None
    if fl_admin_sh:
        m = re.search(r"--host[= ]+[\"']?([^\s\"']+)", fl_admin_sh)
        if m:
            host = m.group(1)
        m = re.search(r"--port[= ]+[\"']?(\d+)", fl_admin_sh)
        if m:
            port = int(m.group(1))
    if (host is None or port is None) and fed_admin_json:
        try:
            doc = json.loads(fed_admin_json)
        except ValueError:
            doc = {}
        admin = doc.get("admin", {}) if isinstance(doc, dict) else {}
        if isinstance(admin, dict):
            host = host or admin.get("host") or admin.get("server_identity")
            if port is None and admin.get("port") is not None:
                port = _to_int(u"%s" % admin.get("port"))
    return host, port


def read_container_file(container, path, limit=1024 * 1024):
    """Text of one file inside a container (Docker API archive download), or None if missing."""
    try:
        bits, _stat = container.get_archive(path)
    except NotFound:
        return None
    buf = io.BytesIO()
    for chunk in bits:
        buf.write(chunk)
        if buf.tell() > limit + 65536:
            break
    buf.seek(0)
    with tarfile.open(fileobj=buf) as tar:
        for member in tar:
            if member.isfile():
                fh = tar.extractfile(member)
                return fh.read(limit).decode("utf-8", "replace") if fh else None
    return None


# --------------------------------------------------------------------------- the driver

def build_driver_args(commands, username, host, port, kit_dir=DEFAULT_KIT_DIR, server_cn=None, upload_dir=None,
                      download_dir=None, timeout=DEFAULT_TIMEOUT, status=False, expected_sites=None,
                      run_mask=None, login_timeout=LOGIN_TIMEOUT, watch=0, watch_interval=1.0, hung_start="fail",
                      late_start_wait=None):
    """The JSON argument of the driver. ``run_mask`` (same length as commands) marks the
    commands to send; the others are only validated (check mode). The login waits for
    ``max(timeout, login_timeout)`` seconds. ``hung_start="report"``: sites that still do not
    train after a late "start client" was sent again are reported instead of failing;
    ``late_start_wait`` (seconds, default LATE_START_WAIT) is how long such a site is waited for."""
    kit_dir = kit_dir.rstrip("/") or "/"
    upload_dir = upload_dir or kit_dir + "/transfer"
    site_refs = []
    for index, command in enumerate(commands):
        sites, all_clients = command_sites(command)
        verb = command_verb(command)
        all_clients = all_clients and verb in ALL_CLIENT_MUTATING_VERBS
        if sites or all_clients:
            site_refs.append({"index": index, "sites": sites, "all_clients": all_clients,
                              "per_site_reply": verb in PER_SITE_REPLY_VERBS})
    return {
        "commands": list(commands),
        "run": list(run_mask) if run_mask is not None else [True] * len(commands),
        "verbs": [command_verb(c) for c in commands],
        "username": username,
        "host": host,
        "port": int(port),
        "server_cn": server_cn or None,
        "ca_cert": kit_dir + "/startup/rootCA.pem",
        "client_cert": kit_dir + "/startup/client.crt",
        "client_key": kit_dir + "/startup/client.key",
        "upload_dir": upload_dir,
        "download_dir": download_dir or upload_dir,
        "timeout": float(timeout),
        "login_timeout": float(login_timeout),
        "status": bool(status),
        "watch": float(watch or 0),
        "watch_interval": float(watch_interval or 1.0),
        "hung_start": hung_start,
        "late_start_wait": late_start_wait,
        "site_refs": site_refs,
        "need_registered": bool(site_refs) or bool(status) or bool(watch) or expected_sites is not None,
        "expected_sites": list(expected_sites) if expected_sites is not None else None,
        "rules": ERROR_RULES,
        "shell_verbs": sorted(SHELL_VERBS),
        "marker": RESULT_MARKER,
    }


# The program run in the admin container by `python3 -c <admin_driver.py> '<json>'`: see admin_driver.py.
LATE_START_WAIT = 20.0


def driver_source():
    """The source of the driver program (plugins/module_utils/admin_driver.py), read through its loader:
    from the module's own zipped payload on a managed host, or from the file in a checkout."""
    return inspect.getsource(admin_driver)


def parse_driver_output(stdout, stderr="", exit_code=0):
    """The driver's JSON result from its stdout. Raises AdminConsoleError when the driver did
    not run (no python3 in the container, killed, ...)."""
    text = stdout.decode("utf-8", "replace") if isinstance(stdout, bytes) else (stdout or "")
    err = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else (stderr or "")
    for line in reversed(text.splitlines()):
        if line.startswith(RESULT_MARKER):
            try:
                return json.loads(line[len(RESULT_MARKER):])
            except ValueError as exc:
                raise AdminConsoleError("The admin driver printed a result that is not JSON (%s)" % exc,
                                        kind="driver")
    tail = (err.strip() or text.strip())[-1500:]
    raise AdminConsoleError(
        "The admin driver did not produce a result (exit code %s)%s" % (exit_code, (": " + tail) if tail else ""),
        kind="driver", stderr=err[-4000:], stdout=text[-4000:])


# --------------------------------------------------------------------------- messages

def _os_reason(text):
    """A short reason and a hint from 'Failed to communicate with Admin Server H on P: <reason>'."""
    low = (text or "").lower()
    if "connection refused" in low:
        return "connection refused", "that the FL server is running and that %(port)s is its admin_port"
    if "name or service not known" in low or "temporary failure in name resolution" in low \
            or "nodename nor servname" in low or "no address associated" in low:
        return "the host name does not resolve", "the server's name (cn) in the kit or server_host, and DNS/hosts"
    if "timed out" in low:
        return "no answer, timed out", "that %(host)s is reachable from the admin container and that a firewall " \
                                       "lets port %(port)s through"
    if "certificate verify failed" in low or "unknown ca" in low or "bad certificate" in low:
        return "TLS certificate check failed", "that the admin kit comes from the same provisioning run as the " \
                                               "server's kit (re-provisioning mints a new root CA)"
    if "broken pipe" in low or "connection reset" in low or "eof occurred" in low or "wrong version number" in low:
        return "the connection was dropped", "that %(port)s is the admin_port and not the fed_learn_port"
    if re.search(r"failed to communicate with admin server \S+ on \d+\s*$", low):
        # the engine's wording when the TLS connection opened but no admin reply came back
        return "the connection opened but no admin reply came back", \
            "that %(port)s is the admin_port and not the fed_learn_port"
    if "no route to host" in low or "network is unreachable" in low:
        return "no route to host", "the network between the admin container and %(host)s"
    m = re.search(r"on \d+: (.+)$", text or "")
    return (m.group(1).strip() if m else (text or "unknown error").strip()), \
        "that the FL server is running and reachable at that address"


def login_failure_message(result, host, port, username, container):
    """One sentence for a failed login (server down, wrong port, wrong name, wrong kit)."""
    where = "%s:%s" % (host, port)
    login = result.get("login") or {}
    raw = result.get("login_reply") or {}
    texts = [u"%s" % i.get("data", "") for i in reply_items(raw)]
    detail = " ".join(t for t in texts if t)
    if result.get("timed_out"):
        return ("Cannot log in to the FL admin server at %s from container '%s': no answer within the timeout; check "
                "that the FL server is running and %s is its admin_port." % (where, container, port))
    if login.get("status") == "ERROR_CERT" or "REJECT" in texts:
        cn = result.get("cert_cn")
        return ("The FL admin server at %s rejected the login as '%s': the user name must be the admin's e-mail the "
                "kit was provisioned for%s, and the server must know that admin." % (
                    where, username, (" (this kit's certificate is issued to '%s')" % cn) if cn else ""))
    m = re.search(r"wrong server: expecting (\S+) but connected (\S+)", detail)
    if m:
        return ("The server at %s presents a certificate for '%s', not '%s': set server_cn to the server's cn in "
                "project.yml, or check that %s is the right server." % (where, m.group(2), m.group(1), where))
    if detail:
        reason, hint = _os_reason(detail)
        return ("Cannot connect to the FL admin server at %s from container '%s' (%s): check %s." % (
            where, container, reason, hint % {"host": host, "port": port}))
    if result.get("error"):
        return "Login to the FL admin server at %s failed: %s." % (where, result["error"])
    return "Login to the FL admin server at %s failed: %s." % (
        where, login.get("details") or "no details from the admin API")


def failure_message(result, commands, host, port, username, container, kit_dir):
    """The task's failure message for a driver result whose ``ok`` is false."""
    kind = result.get("error_kind")
    where = "%s:%s" % (host, port)
    if kind == "kit_missing":
        return ("The admin kit in container '%s' is incomplete: %s missing; kit_dir (%s) must be the extracted "
                "admin startup kit (it holds startup/rootCA.pem, client.crt, client.key)."
                % (container, ", ".join(result.get("missing", [])), kit_dir))
    if kind == "transfer_dir":
        return "Cannot create the transfer directory %s in container '%s': %s." % (
            result.get("path"), container, result.get("error"))
    if kind == "engine_missing":
        return ("Container '%s' cannot load the Clara admin API (dlmed.hci.client.api) with its python3 (%s): %s; "
                "use the Clara Train image (clara_hci installed, CPython 3.8) for the admin container."
                % (container, result.get("python", "?"), result.get("error")))
    if kind == "login":
        return login_failure_message(result, host, port, username, container)
    if kind == "unknown_command":
        bad = result.get("unknown") or []
        return ("The FL server at %s does not know the admin command%s %s; nothing was sent. Available commands are "
                "listed by the console's '?' (see the commands option)." % (
                    where, "" if len(bad) == 1 else "s", ", ".join("'%s'" % b["command"] for b in bad)))
    if kind == "unregistered_site":
        bad = result.get("unregistered") or []
        registered = result.get("registered") or []
        first = bad[0]
        sites = first["sites"]
        return ("Admin command '%s' names site%s %s, which %s not registered with the FL server at %s (registered: "
                "%s); nothing was sent." % (
                    first["command"], "" if len(sites) == 1 else "s", ", ".join("'%s'" % s for s in sites),
                    "is" if len(sites) == 1 else "are", where, ", ".join(registered) or "none"))
    if kind == "expected_site_missing":
        wide = result.get("wide") or []
        absent = result.get("absent") or []
        return ("Admin command '%s' acts on every registered client, but expected site%s %s %s not registered with "
                "the FL server at %s (registered: %s); nothing was sent. Wait until every site is registered." % (
                    wide[0]["command"], "" if len(absent) == 1 else "s", ", ".join("'%s'" % s for s in absent),
                    "is" if len(absent) == 1 else "are", where, ", ".join(result.get("registered") or []) or "none"))
    if kind == "status_failed":
        return "Reading the registered clients with 'check_status server' at %s failed: %s" % (
            where, result.get("error"))
    if kind == "timeout":
        index = result.get("failed_index")
        command = commands[index] if index is not None else result.get("command")
        return ("Admin command '%s' got no reply from the FL server at %s within %s seconds (timeout); the commands "
                "after it were not sent." % (command, where, _fmt_seconds(result.get("timeout_used"))))
    if kind in ("reply", "exception"):
        index = result.get("failed_index")
        entry = (result.get("results") or [{}])[-1]
        command = commands[index] if index is not None else entry.get("command")
        if kind == "exception":
            text = entry.get("exception") or "unexpected error"
        else:
            text = reply_text(entry.get("reply"), entry.get("output"), entry.get("local_errors"))
            if entry.get("error") and entry["error"] not in text:
                text = (text + "\n" + entry["error"]) if text else entry["error"]
        done = [c for i, c in enumerate(commands) if index is not None and i < index]
        rest = [c for i, c in enumerate(commands) if index is not None and i > index]
        msg = "Admin command '%s' failed: %s" % (command, text.strip())
        if entry.get("late_status"):
            msg += "\n(sites that did not answer, after waiting up to %d s and sending the command again: %s)" % (
                LATE_START_WAIT * 1.5, ", ".join("%s: %s" % kv for kv in sorted(entry["late_status"].items())))
        if done:
            msg += "\n(ran before it: %s)" % "; ".join(done)
        if rest:
            msg += "\n(not sent: %s)" % "; ".join(rest)
        return msg
    if kind == "after_shutdown":
        index = result.get("failed_index")
        return ("Admin command '%s' was not sent: the FL server at %s shut down after '%s' and closed its admin port."
                % (commands[index], where, commands[result.get("shutdown_index", index - 1)]))
    if kind == "driver":
        return "The admin driver failed in container '%s': %s" % (container, result.get("error"))
    return "Driving the FL admin console failed at stage %s: %s" % (result.get("stage"), result.get("error"))


def _fmt_seconds(value):
    if value is None:
        return "the"
    return ("%g" % value)


# --------------------------------------------------------------------------- results

def build_results(driver_result, commands):
    """The module's ``results`` list from the driver's per-command entries."""
    out = []
    for entry in driver_result.get("results") or []:
        command = entry.get("command")
        item = {"command": command}
        if entry.get("skipped"):
            item.update(ok=None, skipped=True, text="", reply=None, changed=False)
            out.append(item)
            continue
        reply = entry.get("reply")
        verdict = classify_reply(command, reply, entry.get("local_errors"))
        if not verdict["ok"] and entry.get("late_sites") and not entry.get("error"):
            # the driver forgave the sites that answered late (or reported them as hung): the command did act
            verdict = {"ok": True, "error": None, "noop": False}
        if verdict["ok"] and entry.get("error"):  # the driver's per-site check (a site did not answer)
            verdict = {"ok": False, "error": entry["error"], "noop": False}
        if entry.get("timed_out"):
            verdict = {"ok": False, "error": "timed out", "noop": False}
        if entry.get("exception"):
            verdict = {"ok": False, "error": entry["exception"], "noop": False}
        item["ok"] = verdict["ok"]
        item["text"] = reply_text(reply, entry.get("output"), entry.get("local_errors"))
        item["reply"] = reply
        item["changed"] = bool(verdict["ok"] and is_mutating(command) and not verdict["noop"])
        if verdict["error"]:
            item["error"] = verdict["error"]
        instances = parse_instances(item["text"])
        if instances:
            item["instances"] = instances
        confirm = (driver_result.get("confirm") or {}).get(command_verb(command))
        if confirm:
            item["confirm"] = confirm
        if entry.get("seconds") is not None:
            item["seconds"] = entry["seconds"]
        if entry.get("timed_out"):
            item["timed_out"] = True
        out.append(item)
    return out


def docker_client(docker_host=None, timeout=60):
    """A docker.DockerClient for docker_host (or the environment's DOCKER_HOST / local socket)."""
    try:
        return connect(docker_host, timeout)
    except DockerUnavailable as exc:
        raise AdminConsoleError(str(exc), kind=exc.kind)


def get_running_container(client, name):
    """The container object; raises AdminConsoleError when missing or not running."""
    try:
        container = client.containers.get(name)
    except NotFound:
        raise AdminConsoleError("The admin container '%s' does not exist: start it first (it runs the Clara image with "
                                "the admin kit mounted, e.g. by the fl_admin role)." % name, kind="container")
    except (APIError, DockerException) as exc:
        raise AdminConsoleError("Cannot inspect container '%s': %s" % (name, exc), kind="docker")
    state = getattr(container, "status", None)
    if state != "running":
        raise AdminConsoleError("The admin container '%s' is not running (state: %s): start it first." % (name, state),
                                kind="container")
    return container


def resolve_endpoint(container, kit_dir, server_host=None, server_port=None):
    """(host, port, kit_host): the admin server address, from the options or the kit. The kit
    is read even when both are given, because its host is the server's cn (the default name
    to check the certificate against); it may then be missing."""
    startup = kit_dir.rstrip("/") + "/startup/"
    try:
        sh = read_container_file(container, startup + "fl_admin.sh")
        js = None if sh else read_container_file(container, startup + "fed_admin.json")
    except (APIError, DockerException, tarfile.TarError) as exc:
        raise AdminConsoleError("Cannot read the admin kit in container '%s' at %s: %s" % (
            container.name, kit_dir, exc), kind="kit")
    kit_host, kit_port = parse_admin_endpoint(sh, js)
    if (not server_host and not kit_host) or (not server_port and not kit_port):
        raise AdminConsoleError(
            "Cannot tell the admin server's address: %sstartup/fl_admin.sh (or fed_admin.json) in container '%s' "
            "%s; check kit_dir, or set server_host and server_port." % (
                kit_dir.rstrip("/") + "/", container.name,
                "does not exist" if sh is None and js is None else "names no --host/--port"), kind="kit")
    return server_host or kit_host, int(server_port or kit_port), kit_host


def run_console(container, driver_args):
    """Run the driver in the container; return its parsed result (AdminConsoleError when it did not run)."""
    argv = ["python3", "-c", driver_source(), json.dumps(driver_args)]
    try:
        env = {"PYTHONWARNINGS": "ignore", "PYTHONIOENCODING": "utf-8"}
        exit_code, output = container.exec_run(argv, demux=True, environment=env)
    except (APIError, DockerException) as exc:
        raise AdminConsoleError("Running the admin driver in container '%s' failed: %s" % (container.name, exc),
                                kind="docker")
    # requests' ReadTimeout and friends are not DockerException
    except Exception as exc:  # pylint: disable=broad-except
        raise AdminConsoleError("Running the admin driver in container '%s' failed: %s: %s"
                                % (container.name, type(exc).__name__, exc), kind="docker")
    stdout, stderr = output if isinstance(output, tuple) else (output, b"")
    result = parse_driver_output(stdout or b"", stderr or b"", exit_code)
    result["timeout_used"] = driver_args.get("timeout")
    return result


def http_timeout_for(n_commands, timeout):
    """Docker API read timeout for one driver run: the login, the registration query, every
    command and the two status queries may each take the per-command timeout."""
    return int(max(float(timeout), LOGIN_TIMEOUT) * (n_commands + 4) + 30)
