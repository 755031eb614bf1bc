# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine dialect of Clara Train 4.0 (``nvflare==1.0.x`` with ``clara_hci`` 4.0): everything the engine
says or understands, in one place, with the plain functions that read it.

* ``VERBS``: one row per admin command: where it acts, whether it changes anything, the line each site
  answers when it got the command, the replies that are errors, tolerated, or say that nothing was done;
* the replies: :func:`classify` (the one classifier: is this reply an error?), :func:`instances`;
* the status: :func:`parse_status` of ``check_status server`` and ``check_status client``, and the states;
* the logs: the lines that mark a training's start and each aggregated round, and which tracebacks are the
  engine's own (an admin command handler answering for a site that gave no reply, a dropped connection)
  versus the app's (through its ``custom/`` code or the engine loading the app's configs and classes).

Standard library only: the admin driver runs this file's source in the admin container (CPython 3.8)
beside the engine. Another engine release is one more file like this and a line in ``_admin_console.DIALECTS``.

The reply structure (what ``AdminAPI.do_command`` returns), as measured on the engine::

    {"time": "2026-11-27 21:29:39.318641", "status": "SUCCESS",
     "data": [{"type": "string", "data": "FL run number:1\\nFL server status: training started"},
              {"type": "table", "rows": [["CLIENT NAME", "TOKEN", ...], ["site-a", "83a1...", "", "0"]]},
              {"type": "error", "data": "There's invalid clients: nosuch"}]}

``status`` is added by the API and is ``SUCCESS`` even when the server answered with an error item or an
error sentence; replies the API makes itself carry only ``status`` (``ERROR_COMMAND_SYNTAX``, ``ERROR_RUNTIME``)
and ``details``. Many engine errors are plain ``string`` items ("Please set a FL run number.", "MMAR folder 'x'
does not exist.", "Server training has not started."), hence the sentence rules below.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import shlex

NAME = "clara-4.0"

# ------------------------------------------------------------------------------------------------ the states
TRAINING = "training started"
STOPPED = "training stopped"
NOT_STARTED = "training not started"
VALIDATING = "cross site validation"
NO_ANSWER = "No replies"
EXCEPTION = "exception_occurred"

# One line per site in the replies of client commands: "instance:site-a : MMAR deployed." (the name may be
# empty: "instance: : Shutdown the client...").
INSTANCE = re.compile(r"^instance:(?P<site>[^:]*?)\s?: (?P<message>.*)$")

# ------------------------------------------------------------------------------------------------ the verbs
# target: where the command acts, from its words -
#   "server|client": "<verb> server" or "<verb> client [sites...]" (no names: every registered client);
#   "app": "<verb> <app> server|client [sites...]" (deploy);  "gpus": "<verb> client <n> [sites...]" (start_mgpu);
#   "names": "<verb> site..." (remove_client);  "shell": "<verb> server|<site> ..." (file content follows);
#   "models": "<verb> all | <site> <site>" (validate);  None: acts on the server alone, or only in the console.
# changes: whether it changes anything (the others run in check mode too).
# answered: how a site that got the command starts its "instance:" line (a targeted site without one did not
#   get it; "No replies" from a site while the others answer is a late site).
# every: "<verb> client" with no names acts on every registered client (with expected sites: all must be there).
# errors / tolerated / noop: sentence rules of this verb, beside GENERIC_ERRORS (SHELL_ERRORS for shell verbs);
#   tolerated lines are not errors; noop lines say the command did nothing (abort when nothing runs).
_ROW = {"target": None, "changes": True, "answered": None, "every": False, "errors": (), "tolerated": (), "noop": ()}


def _row(**values):
    row = dict(_ROW)
    row.update(values)
    return row


VERBS = {
    "check_status": _row(target="server|client", changes=False,
                         tolerated=(r"^(instance:)?[^:]* : (exception_occurred|no replies)\s*$", r"^\s*no replies\s*$")),
    "sys_info": _row(target="server|client", changes=False),
    "set_run_number": _row(),
    "delete_run_number": _row(),
    "set_timeout": _row(),
    "upload_folder": _row(),
    "download_folder": _row(),
    "download_text": _row(),
    "download_binary": _row(),
    "deploy": _row(target="app", answered="MMAR deployed", every=True),
    "start": _row(target="server|client", answered="Start the client", every=True,
                  errors=(r"training has not started", r"mmar does not exist")),
    "start_mgpu": _row(target="gpus", answered="Start the client", every=True,
                       errors=(r"training has not started", r"mmar does not exist")),
    "abort": _row(target="server|client", answered="Aborted the client", every=True,
                  noop=(r"training has not started", r"training already stopped")),
    "shutdown": _row(target="server|client", every=True),
    "restart": _row(target="server|client", every=True),
    "remove_client": _row(target="names"),
    "validate": _row(target="models", changes=False),
    "ls": _row(target="shell", changes=False),
    "cat": _row(target="shell", changes=False),
    "head": _row(target="shell", changes=False),
    "tail": _row(target="shell", changes=False),
    "grep": _row(target="shell", changes=False),
    "pwd": _row(target="shell", changes=False),
    "env": _row(target="shell", changes=False),
    "info": _row(changes=False),
    "taskname": _row(changes=False),
    "show_config": _row(changes=False),
    "show_info": _row(changes=False),
    "show_rights": _row(changes=False),
    "show_rules": _row(changes=False),
    "show_sites": _row(changes=False),
    "show_users": _row(changes=False),
    "eval_right": _row(changes=False),
    "eval_rule": _row(changes=False),
}
# Only the interactive console understands these; AdminAPI answers "not found".
CONSOLE_ONLY = frozenset(["bye", "help", "?", "lpwd", "lls", "lcd", "exit", "quit"])

# Case-insensitive rules searched in each line of a reply's string items. Every sentence was read from the engine
# or measured on it.
GENERIC_ERRORS = (
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
)
# Shell-like verbs return file content: only the engine's own complaints and the tools' first words count.
SHELL_ERRORS = (
    # "Error: invalid client: ..." (a log line such as "Error processing config ..." is file content)
    r"^\s*error:", r"invalid client", r"no reply from client", r"\bno replies\b",
    r"in path name is not allowed", r"absolute path is not allowed", r"this command is not allowed",
    r"cannot be applied to file", r"does not accept extra args", r"^syntax error", r"program error",
    r"not authorized", r"authorization error",
    r"^(cat|head|tail|grep|ls|pwd|env): .*(no such file|cannot access|permission denied|is a directory"
    r"|invalid option|unrecognized option)",
)
# Lines that say nothing about the outcome.
INFO_LINES = (r"^trying to abort all clients before abort server",)
# The reply items of a server that shut down ("Bye-bye"): its admin port closes, nothing more can be sent.
SHUTDOWN_ITEM = "shutdown"
# The engine removes a site on remove_client and answers so all the same.
REMOVED_ANYWAY = r"did not respond"


def _matches(patterns, line):
    return any(re.search(p, line, re.IGNORECASE) for p in patterns)


# ------------------------------------------------------------------------------------------------ commands
def words(command):
    """A command line split as the engine splits it (shell-like quoting); ValueError on unbalanced quotes."""
    return shlex.split(command) if not isinstance(command, list) else list(command)


def verb(command):
    """The command's name without its scope (``training.start`` -> ``start``), lower case; '' for nothing."""
    args = words(command)
    if not args:
        return ""
    name = args[0]
    if "." in name and not name.startswith("."):
        name = name.split(".", 1)[1]
    return name.lower()


def row(command):
    """The verb's row (a default row, mutating, for a verb this dialect does not list)."""
    return VERBS.get(verb(command), _ROW)


def changes(command):
    """True unless the command only reads."""
    return bool(row(command)["changes"])


def sites_of(command):
    """(sites, every): the client sites the command names, and whether it acts on every registered client."""
    args = words(command)
    target = row(command)["target"]
    names, every = [], False
    if target == "server|client" and args[1:2] == ["client"]:
        names = args[2:]
    elif target == "gpus" and args[1:2] == ["client"]:
        names = args[3:]
    elif target == "app" and args[2:3] == ["client"]:
        names = args[3:]
    elif target == "names":
        names = args[1:]
    elif target == "shell" and len(args) >= 2 and args[1] != "server":
        names = args[1:2]
    elif target == "models":
        names = [a for a in args[1:] if a not in ("all", "server")]
    elif verb(args) == "eval_rule":
        names = args[1:2]
    elif verb(args) == "eval_right":
        names = args[3:4]
    if target in ("server|client", "gpus", "app") and not names:
        every = (args[1:2] == ["client"] or args[2:3] == ["client"]) and row(command)["every"]
    return [n for n in names if n != "server"], every


def site_command(action, site, gpus=None, mmar=None):
    """The command that deploys to (``deploy``), starts (``start``: ``start_mgpu client <n>`` for a site on several
    GPUs of GPUS {site: count}) or aborts (``abort``) one site."""
    if action == "deploy":
        return "deploy %s client %s" % (mmar, site)
    if action == "start":
        count = (gpus or {}).get(site)
        return "start_mgpu client %d %s" % (count, site) if count and count > 1 else "start client %s" % site
    return "%s client %s" % (action, site)


def start_commands(sites, gpus=None, every=True):
    """The commands that start the training on SITES: a site with several GPUs (GPUS {site: count}) on all of them
    with ``start_mgpu client <n> <site>``; the others together with ``start client`` (every registered site when
    none has several GPUs and SITES are EVERY site, as the runbook does; by name otherwise, so that no site is started
    twice and none that is not among SITES)."""
    counts = dict((s, int((gpus or {}).get(s) or 1)) for s in sites)
    single = [s for s in sites if counts[s] <= 1]
    multi = [s for s in sites if counts[s] > 1]
    if not multi and every:
        return ["start client"]
    return (["start client %s" % " ".join(single)] if single else []) + [site_command("start", s, counts)
                                                                         for s in multi]


# ------------------------------------------------------------------------------------------------ replies
def items(reply):
    """The reply's data items (dicts), or []."""
    data = reply.get("data") if isinstance(reply, dict) else None
    return [i for i in data if isinstance(i, dict)] if isinstance(data, list) else []


def _strings(reply):
    return "\n".join(u"%s" % i.get("data", "") for i in items(reply) if i.get("type") == "string")


def instances(text):
    """The per-site lines of a reply text: [{"site", "message"}], continuation lines appended to the last one."""
    out = []
    for line in (text or "").splitlines():
        match = INSTANCE.match(line.strip()) if line.startswith("instance:") else None
        if match:
            out.append({"site": match.group("site").strip(), "message": match.group("message").rstrip()})
        elif out and line.strip():
            out[-1]["message"] += "\n" + line.rstrip()
    return out


def classify(command, reply, local_errors=None):
    """The one classifier: {"ok", "error" (the offending text or None), "noop" (the command did nothing)}.

    An error is: no reply at all, an API status other than SUCCESS, an ``error`` item, what a client-side command
    reported locally (LOCAL_ERRORS), or a string line that matches the verb's rules (GENERIC_ERRORS or SHELL_ERRORS,
    plus the row's errors) and not its tolerated lines."""
    the_row = row(command)
    errors = [u"%s" % e for e in local_errors or []]
    if not isinstance(reply, dict):
        return {"ok": False, "error": "; ".join(errors) or "no reply", "noop": False}
    if reply.get("status", "SUCCESS") != "SUCCESS":
        errors.append(u"%s" % (reply.get("details") or reply.get("status")))
    rules = (SHELL_ERRORS if the_row["target"] == "shell" else GENERIC_ERRORS) + tuple(the_row["errors"])
    outcome = noop = 0
    for item in items(reply):
        kind = item.get("type")
        if kind == "error":
            errors.append((u"%s" % item.get("data", "")).strip())
            continue
        if kind not in ("string", "success"):
            continue
        for line in (u"%s" % item.get("data", "")).splitlines():
            if not line.strip() or _matches(the_row["tolerated"], line):
                continue
            if _matches(rules, line):
                errors.append(line.strip())
            elif not _matches(INFO_LINES, line):
                outcome += 1
                noop += 1 if _matches(the_row["noop"], line) else 0
    if errors:
        return {"ok": False, "error": "\n".join(errors), "noop": False}
    return {"ok": True, "error": None, "noop": bool(noop) and noop == outcome}


def answers(command, reply, targets):
    """{site: message} of the instance lines of a per-site reply, for the sites of TARGETS, and the sites among
    them that did not get the command: (answered, late, missing). Late sites answered "No replies" while
    others answered as the verb's row says; missing ones have no line at all."""
    expected = row(command)["answered"]
    said = dict((i["site"], i["message"]) for i in instances(_strings(reply)))
    late = [s for s in targets if said.get(s, "").strip() == NO_ANSWER]
    missing = [s for s in targets if s not in said]
    answered = dict((s, m) for s, m in said.items() if s in targets and (not expected or m.startswith(expected)))
    return answered, late, missing


def shut_down(reply):
    """The server answered with its goodbye: it closes its admin port."""
    return any(i.get("type") == SHUTDOWN_ITEM for i in items(reply))


def reply_text(reply, output="", local_errors=None):
    """Human-readable text of a reply: local output and errors, then strings, errors and tables, in order."""
    parts = [output.rstrip("\n")] if output else []
    parts.extend(u"%s" % e for e in local_errors or [])
    if isinstance(reply, dict) and "data" not in reply and reply.get("details"):
        parts.append(u"%s" % reply["details"])
    for item in items(reply):
        kind = item.get("type")
        if kind == "table":
            parts.append(_table(item.get("rows")))
        elif kind in ("string", "error", "success", SHUTDOWN_ITEM):
            parts.append((u"%s" % item.get("data", "")).rstrip("\n"))
        elif kind == "dict":
            parts.append(json.dumps(item.get("data"), sort_keys=True))
    return "\n".join(p for p in parts if p != "")


def _table(rows):
    """Table rows as the console prints them (padded cells between dashed lines)."""
    rows = [[u"%s" % c for c in r] for r in rows or [] if isinstance(r, (list, tuple))]
    if not rows:
        return ""
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    sizes = [max(len(r[i]) for r in rows) for i in range(width)]
    rule = "-" * (sum(sizes) + 3 * width + 1)
    lines = ["| " + " | ".join(r[i].ljust(sizes[i]) for i in range(width)) + " |" for r in rows]
    return "\n".join([rule, lines[0], rule] + lines[1:] + [rule])


# ------------------------------------------------------------------------------------------------ the status
# "FL run number:1", "FL run number has not been set.", "FL server status: training started", "Registered clients: 2",
# "run number:1<TAB>start round:0<TAB>max round:3<TAB>current round:0", "min_num_clients:1<TAB>max_num_clients:100",
# "Total number of clients submitted models for current round: 1"; then the table of registered clients.
_KV = re.compile(r"^\s*([A-Za-z_][A-Za-z_ ]*?)\s*:\s*(.*?)\s*$")
_INT_FIELDS = {"run number": "run_number", "start round": "start_round", "max round": "max_round",
               "current round": "current_round", "min_num_clients": "min_num_clients",
               "max_num_clients": "max_num_clients"}
_SERVER_LINES = (
    (re.compile(r"^fl run number has not been set", re.I), lambda m: ("run_number", None)),
    (re.compile(r"^fl run number\s*:\s*(\S+)", re.I), lambda m: ("run_number", _int(m.group(1)))),
    (re.compile(r"^fl server status\s*:\s*(.+)$", re.I), lambda m: ("server_status", m.group(1).strip())),
    (re.compile(r"^registered clients\s*:\s*(\d+)", re.I), lambda m: ("registered_count", int(m.group(1)))),
    (re.compile(r"^total number of clients submitted models for current round\s*:\s*(\d+)", re.I),
     lambda m: ("submitted_models", int(m.group(1)))),
)
_TABLE_COLUMNS = {"client name": "name", "token": "token", "last accepted round": "last_accepted_round",
                  "contribution count": "contribution_count"}


def _int(value):
    try:
        return int(u"%s" % value)
    except (TypeError, ValueError):
        return None


def _server_lines(lines, status):
    for raw in lines:
        line = raw.strip()
        for pattern, field in _SERVER_LINES:
            match = pattern.match(line)
            if match:
                key, value = field(match)
                status[key] = value
                break
        else:
            for part in line.split("\t"):
                kv = _KV.match(part)
                if kv and kv.group(1).strip().lower() in _INT_FIELDS and _int(kv.group(2)) is not None:
                    status[_INT_FIELDS[kv.group(1).strip().lower()]] = _int(kv.group(2))


def registered(rows):
    """The registered clients of the status table's rows: [{name, token, last_accepted_round, contribution_count}];
    None when the rows are not that table."""
    rows = [list(r) for r in rows or [] if isinstance(r, (list, tuple))]
    header = [(u"%s" % h).strip().lower() for h in (rows[0] if rows else [])]
    if "client name" not in header:
        return None
    out = []
    for values in rows[1:]:
        cells = [(u"%s" % c).strip() for c in values] + [""] * len(header)
        entry = {}
        for index, column in enumerate(header):
            key = _TABLE_COLUMNS.get(column)
            if key:
                entry[key] = cells[index] if key in ("name", "token") else _int(cells[index])
        out.append(entry)
    return out


def parse_server_status(reply):
    """The status dict of a ``check_status server`` reply (keys absent when the engine did not print them)."""
    status = {}
    for item in items(reply):
        if item.get("type") == "table" and "registered_clients" not in status:
            clients = registered(item.get("rows"))
            if clients is not None:
                status["registered_clients"] = clients
    _server_lines(_strings(reply).splitlines(), status)
    if "registered_count" in status and "registered_clients" not in status:
        status["registered_clients"] = []
    return status


def parse_client_status(reply):
    """{site: {token, status}} of a ``check_status client`` reply; a site that gave no answer has status
    "No replies", one whose agent failed "exception_occurred"."""
    text = reply if isinstance(reply, str) else _strings(reply)
    clients = {}
    for entry in instances(text):
        info = {}
        for part in entry["message"].split("\t"):
            kv = _KV.match(part)
            if kv and kv.group(1).strip().lower() in ("client name", "token", "status"):
                info[kv.group(1).strip().lower().replace("client name", "name")] = kv.group(2)
        name = info.pop("name", None) or entry["site"]
        info.setdefault("status", entry["message"].strip())
        clients[name] = info
    for line in text.splitlines():  # "site-x : No replies" without the prefix
        match = re.match(r"^\s*([^\s:][^:]*?)\s*:\s*No replies\s*$", line)
        if match and not line.startswith("instance:"):
            clients.setdefault(match.group(1), {"status": NO_ANSWER})
    return clients


def parse_status(server_reply=None, client_reply=None):
    """The federation's status from the two replies (either may be None): the server's fields, and ``clients``."""
    status = parse_server_status(server_reply) if server_reply is not None else {}
    if client_reply is not None:
        status["clients"] = parse_client_status(client_reply)
    return status


STATUS_COMMANDS = ("check_status server", "check_status client")

# ------------------------------------------------------------------------------------------------ the logs
LOG_FILE = "log.txt"
# Lines the engine writes when a training (or its start) begins, on the server and on a site.
START_MARKERS = ("Starting client training", "Create initial model message", "Server training has been started",
                 "deployed FL server trainer")
# The server's line per aggregated round (0-based engine round), and its line when a training starts.
ROUND_LINE = "Aggregation time for the round"
STARTED_LINE = "Server training has been started"
# The server's line per update a site submitted: "received <project>_<the site's token>_<round> (638 Bytes, ...)".
RECEIVED_LINE = "INFO - received"
RECEIVED = re.compile(r"received \S*?(?P<token>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})_"
                      r"(?P<round>\d+) \(")
# A site's line when the server took it ("Successfully registered client:org2 for <project>. Got token:..."), and
# the server's answer to a site whose earlier registration it still holds (until its heartbeat timeout).
REGISTERED_LINE = "Successfully registered client"
ALREADY_REGISTERED = "Client ID already registered"
# "2026-11-30 08:38:34,857 - root - WARNING - "
LOG_PREFIX = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ - \S+ - [A-Z]+ - ")
# The engine reporting an app's failure: "FL server execution exception: <the app's error>".
ENGINE_SAYS = re.compile(r"(?:FL (?:client|server) )?execution exception: .+", re.IGNORECASE)
# A site started with start_mgpu runs ``python -m torch.distributed.launch``; an image without torch says only:
# "/usr/local/bin/python: Error while finding module specification for 'torch.distributed.launch' (...)".
LAUNCH_FAILED = re.compile(r"Error while finding module specification for '[^']+' \(.+\)")
TRACEBACK = "Traceback (most recent call last)"
# "ValueError: ...", "dlmed.common.excepts.ConfigError: ...", "KeyError: 'heart_beat_timeout'"; not warnings.
EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt)(?::\s.*)?$")
FRAME = re.compile(r'^File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>\S+)$')
# A frame of the app's own code: File ".../run_2/mmar_server/custom/x.py", line 9, in f
APP_FRAME = re.compile(r"/custom/(?P<name>[^\"]+)$")
# Frames of the engine loading and running an app: its configs, its classes, its persistor, its trainer.
APP_LOADING_FRAMES = (
    r"/fed/app/fl_conf\.py$", r"/dlmed/utils/(wfconf|json_scanner|class_utils|clara_conf)\.py$",
    r"/fed/app/client/admin_process_train\.py$", r"/fed/app/server/", r"/fed/server/server_model_manager\.py$",
    r"/fed/server/sai\.py$", r"/fed/client/fed_client", r"/fed/client/client_model_manager\.py$",
    r"/nvflare/apis/", r"/nvflare/workflows/",
)
# Frames of the engine's own admin and command handling: a traceback through them is the engine answering for a
# site that gave no reply (AttributeError: 'NoneType' object has no attribute 'body'), not the app failing.
ENGINE_OWN_FRAMES = (
    r"/dlmed/hci/", r"/fed/server/(shell_cmd|training_cmd|admin|cmd_utils|info_coll_cmd)\.py$",
    r"/fed/client/admin", r"/fed/client/(shell|training)_cmd", r"/grpc/",
)
# Engine lines about a dropped connection or a site that did not answer: a site to bring back, never the app.
ENGINE_COMPLAINTS = (r"grpc communication error", r"StatusCode\.UNAVAILABLE", r"Connection reset by peer",
                     r"no attribute 'body'", r"did not respond", r"No replies")
