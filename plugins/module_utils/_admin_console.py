# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One console connection for every admin module: its settings (``CONSOLE_ARGS``, documented once in the
``clarafl.federation.console`` doc fragment), the driver run in the admin container, and the sentences that say
what went wrong.

The engine's admin API (``dlmed.hci.client.api.AdminAPI``) only loads on CPython 3.8, so it never runs in the
module's own Python: :class:`Console` executes the plain driver (``_admin_driver.py``) with the engine's dialect
inside the admin container (a container of the Clara image with the admin kit mounted) through the Docker SDK's
``exec_run``, one login per call, and returns what it says.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import inspect
import io
import json
import re
import tarfile

from ansible_collections.clarafl.federation.plugins.module_utils import _admin_driver, _dialect_clara40
from ansible_collections.clarafl.federation.plugins.module_utils.docker_sdk import (
    APIError, DockerException, DockerUnavailable, NotFound, connect)

# One line picks the dialect of an engine release.
DIALECTS = {"clara-4.0": _dialect_clara40}
DEFAULT_KIT_DIR = "/workspace/admin"
# The login (TLS handshake plus the server's command registry) waits at least this long.
LOGIN_TIMEOUT = 10.0

# The argument spec every admin module shares (doc fragment clarafl.federation.console).
CONSOLE_ARGS = dict(
    container=dict(type="str", required=True),
    username=dict(type="str", required=True),
    kit_dir=dict(type="str", default=DEFAULT_KIT_DIR),
    server_host=dict(type="str"),
    server_port=dict(type="int"),
    server_cn=dict(type="str"),
    timeout=dict(type="float", default=60),
    upload_dir=dict(type="str"),
    docker_host=dict(type="str"),
    engine=dict(type="str", default="clara-4.0", choices=sorted(DIALECTS)),
)

# Loads the dialect and the driver from their sources (argv 1 and 2) and runs the driver on argv 3.
BOOT = ("import sys, types\n"
        "def load(name, source):\n"
        "    module = types.ModuleType(name)\n"
        "    exec(compile(source, name, 'exec'), module.__dict__)\n"
        "    return module\n"
        "load('clarafl_admin_driver', sys.argv[2]).main(load('clarafl_dialect', sys.argv[1]), sys.argv[3])\n")


class ConsoleError(Exception):
    """A problem found before or while driving the console. ``kind`` is a short word; ``details`` what is known."""

    def __init__(self, message, kind="error", **details):
        super(ConsoleError, self).__init__(message)
        self.kind = kind
        self.details = details


def check_options(params):
    """The problems of the shared options, as sentences ([] when there are none)."""
    problems = []
    if params["timeout"] <= 0:
        problems.append("timeout must be a positive number of seconds, got %s" % params["timeout"])
    if params["server_port"] is not None and not 0 < params["server_port"] < 65536:
        problems.append("server_port must be a TCP port (1-65535), got %s" % params["server_port"])
    if not params["username"].strip():
        problems.append("username must be the admin's e-mail address, got an empty string")
    return problems


def check_commands(commands, expected_sites=None, dialect=_dialect_clara40):
    """The commands, stripped, once every one is one line of a known form; ConsoleError naming the first that is
    empty, holds a line break, exists only in the interactive console, is internal, or names a site outside
    EXPECTED_SITES (when given). Nothing is sent before all are checked."""
    out = []
    expected = None if expected_sites is None else set(expected_sites)
    for index, raw in enumerate(commands or []):
        if not isinstance(raw, str) or not raw.strip():
            raise ConsoleError("commands[%d] must be an admin command, got %r" % (index, raw), kind="bad_command")
        command = raw.strip()
        if "\n" in command or "\r" in command:
            raise ConsoleError("commands[%d] %r holds a line break; give one admin command per list item"
                               % (index, command), kind="bad_command")
        command = re.sub(r"[ \t]+", " ", command)
        try:
            name = dialect.verb(command)
            sites = dialect.sites_of(command)[0]
        except ValueError as exc:
            raise ConsoleError("Admin command %r cannot be parsed: %s" % (command, exc), kind="bad_command")
        if name in dialect.CONSOLE_ONLY:
            raise ConsoleError("Admin command %r only exists in the interactive console; the module logs in and out "
                               "by itself" % command, kind="bad_command")
        if name.startswith("_"):
            raise ConsoleError("Admin command %r is internal to the admin protocol and cannot be sent" % command,
                               kind="bad_command")
        unknown = [s for s in sites if expected is not None and s not in expected]
        if unknown:
            raise ConsoleError(
                "Admin command %r names site%s %s, which %s not among the expected sites (%s); nothing was sent"
                % (command, "" if len(unknown) == 1 else "s", ", ".join("'%s'" % s for s in unknown),
                   "is" if len(unknown) == 1 else "are", ", ".join(sorted(expected)) or "none"),
                kind="unknown_site", sites=unknown, command=command)
        out.append(command)
    return out


def parse_admin_endpoint(fl_admin_sh=None, fed_admin_json=None):
    """(host, port) of the admin server from the kit: Clara 4.0 kits start the console with ``startup/fl_admin.sh``
    (``--host H --port P``); NVFlare 2.x kits hold ``startup/fed_admin.json``. (None, None) when neither says."""
    host = port = None
    if fl_admin_sh:
        match = re.search(r"--host[= ]+[\"']?([^\s\"']+)", fl_admin_sh)
        host = match.group(1) if match else None
        match = re.search(r"--port[= ]+[\"']?(\d+)", fl_admin_sh)
        port = int(match.group(1)) if match else None
    if (host is None or port is None) and fed_admin_json:
        try:
            admin = json.loads(fed_admin_json).get("admin", {})
        except (ValueError, AttributeError):
            admin = {}
        if isinstance(admin, dict):
            host = host or admin.get("host") or admin.get("server_identity")
            if port is None and str(admin.get("port", "")).isdigit():
                port = int(admin["port"])
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
                handle = tar.extractfile(member)
                return handle.read(limit).decode("utf-8", "replace") if handle else None
    return None


def parse_driver_output(stdout, stderr="", exit_code=0):
    """The driver's JSON result from its stdout; ConsoleError when it did not run (no python3, killed, ...)."""
    text = stdout.decode("utf-8", "replace") if isinstance(stdout, bytes) else (stdout or "")
    err = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else (stderr or "")
    for line in reversed(text.splitlines()):
        if line.startswith(_admin_driver.MARKER):
            try:
                return json.loads(line[len(_admin_driver.MARKER):])
            except ValueError as exc:
                raise ConsoleError("The admin driver printed a result that is not JSON (%s)" % exc, kind="driver")
    tail = (err.strip() or text.strip())[-1500:]
    raise ConsoleError("The admin driver did not produce a result (exit code %s)%s" % (
        exit_code, (": " + tail) if tail else ""), kind="driver", stderr=err[-4000:], stdout=text[-4000:])


class Console(object):
    """One console connection: PARAMS are the CONSOLE_ARGS options; each call logs in once."""

    def __init__(self, params, docker_timeout=None):
        self.p = params
        self.dialect = DIALECTS[params.get("engine") or "clara-4.0"]
        self.username = params["username"].strip()
        self._docker_timeout = docker_timeout
        self._container = None
        self.server = None  # {host, port, server_cn} once known

    @property
    def where(self):
        return "%s:%s" % (self.server["host"], self.server["port"]) if self.server else self.p["container"]

    def container(self):
        """The running admin container, and where its server is (ConsoleError when it is missing or stopped)."""
        if self._container is not None:
            return self._container
        try:
            client = connect(self.p["docker_host"], self._docker_timeout or 3600)
        except DockerUnavailable as exc:
            raise ConsoleError(str(exc), kind=exc.kind)
        name = self.p["container"]
        try:
            container = client.containers.get(name)
        except NotFound:
            raise ConsoleError("The admin container '%s' does not exist: start it first (it runs the Clara image with "
                               "the admin kit mounted, e.g. by the fl_admin role)." % name, kind="container")
        except (APIError, DockerException) as exc:
            raise ConsoleError("Cannot inspect container '%s': %s" % (name, exc), kind="docker")
        if getattr(container, "status", None) != "running":
            raise ConsoleError("The admin container '%s' is not running (state: %s): start it first."
                               % (name, getattr(container, "status", None)), kind="container")
        startup = self.p["kit_dir"].rstrip("/") + "/startup/"
        try:
            script = read_container_file(container, startup + "fl_admin.sh")
            doc = None if script else read_container_file(container, startup + "fed_admin.json")
        except (APIError, DockerException, tarfile.TarError) as exc:
            raise ConsoleError("Cannot read the admin kit in container '%s' at %s: %s" % (name, self.p["kit_dir"], exc),
                               kind="kit")
        kit_host, kit_port = parse_admin_endpoint(script, doc)
        host, port = self.p["server_host"] or kit_host, self.p["server_port"] or kit_port
        if not host or not port:
            raise ConsoleError(
                "Cannot tell the admin server's address: %sstartup/fl_admin.sh (or fed_admin.json) in container '%s' "
                "%s; check kit_dir, or set server_host and server_port." % (
                    self.p["kit_dir"].rstrip("/") + "/", name,
                    "does not exist" if script is None and doc is None else "names no --host/--port"), kind="kit")
        server_cn = kit_host if self.p["server_cn"] is None else (self.p["server_cn"] or None)
        self.server = dict(host=host, port=int(port), server_cn=server_cn)
        self._container = container
        return container

    def exchange(self, commands, send=None, expected_sites=None, timeout=None):
        """The driver's raw result for COMMANDS (those SEND marks are sent; the others only checked)."""
        container = self.container()
        kit = self.p["kit_dir"].rstrip("/") or "/"
        upload = self.p["upload_dir"] or kit + "/transfer"
        args = dict(commands=list(commands), send=list(send) if send is not None else [True] * len(commands),
                    username=self.username, timeout=float(timeout or self.p["timeout"]), login_timeout=LOGIN_TIMEOUT,
                    ca_cert=kit + "/startup/rootCA.pem", client_cert=kit + "/startup/client.crt",
                    client_key=kit + "/startup/client.key", upload_dir=upload, download_dir=upload,
                    expected_sites=None if expected_sites is None else list(expected_sites), **self.server)
        argv = ["python3", "-c", BOOT, inspect.getsource(self.dialect), inspect.getsource(_admin_driver),
                json.dumps(args)]
        try:
            code, output = container.exec_run(argv, demux=True,
                                              environment={"PYTHONWARNINGS": "ignore", "PYTHONIOENCODING": "utf-8"})
        # requests' ReadTimeout and the like are not DockerException
        except Exception as exc:  # pylint: disable=broad-except
            raise ConsoleError("Running the admin driver in container '%s' failed: %s: %s"
                               % (self.p["container"], type(exc).__name__, exc), kind="docker")
        stdout, stderr = output if isinstance(output, tuple) else (output, b"")
        result = parse_driver_output(stdout or b"", stderr or b"", code)
        result["timeout_used"] = args["timeout"]
        return result

    def results(self, driver_result):
        """The module's per-command results from the driver's replies."""
        out = []
        confirm = driver_result.get("confirm") or {}
        for entry in driver_result.get("replies") or []:
            command = entry.get("command")
            item = {"command": command}
            if entry.get("skipped"):
                item.update(ok=None, skipped=True, text="", reply=None, changed=False)
                out.append(item)
                continue
            error = entry.get("error") or entry.get("exception") or ("timed out" if entry.get("timed_out") else None)
            item.update(ok=error is None, reply=entry.get("reply"),
                        text=self.dialect.reply_text(entry.get("reply"), entry.get("output"), entry.get("local_errors")))
            item["changed"] = bool(error is None and self.dialect.changes(command) and not entry.get("noop"))
            if error:
                item["error"] = error
            for key in ("seconds", "timed_out"):
                if entry.get(key) is not None:
                    item[key] = entry[key]
            if self.dialect.instances(item["text"]):
                item["instances"] = self.dialect.instances(item["text"])
            if confirm.get(self.dialect.verb(command)):
                item["confirm"] = confirm[self.dialect.verb(command)]
            out.append(item)
        return out

    def run(self, commands, expected_sites=None, check_mode=False, timeout=None):
        """Send COMMANDS on one login; in CHECK_MODE only those that read. Returns (results, driver result); raises
        ConsoleError with the failure's sentence (details: results, result) when a command or the login failed."""
        send = [not check_mode or not self.dialect.changes(c) for c in commands]
        result = self.exchange(commands, send, expected_sites, timeout)
        results = self.results(result)
        if not result.get("ok"):
            raise ConsoleError(self.failure(result, commands), kind=result.get("error_kind") or "console",
                               results=results, result=result)
        return results, result

    def status(self):
        """The federation's status (dialect.parse_status) from check_status server and client, on one login."""
        results, _result = self.run(list(self.dialect.STATUS_COMMANDS))
        return self.dialect.parse_status(results[0]["reply"], results[1]["reply"])

    def read(self, commands, errors=True):
        """{command: text} of read-only COMMANDS (logs, files): a command the engine refuses ends the login, and
        the ones before it count. With ERRORS, a reply judged an error still holds what was read (a log line that
        looks like an error is file content); without, only replies that are not errors count."""
        try:
            results, _result = self.run(commands)
        except ConsoleError as exc:
            if exc.kind not in ("reply", "exception", "timeout"):
                raise
            results = exc.details.get("results") or []
        return dict((r["command"], r.get("text") or "") for r in results
                    if r.get("ok") or (errors and r.get("reply")))

    # ------------------------------------------------------------------------------------------- messages
    def failure(self, result, commands):
        """One sentence for a driver result whose ``ok`` is false."""
        kind, where, name = result.get("error_kind"), self.where, self.p["container"]
        index = result.get("failed_index")
        if kind == "kit_missing":
            return ("The admin kit in container '%s' is incomplete: %s missing; kit_dir (%s) must be the extracted "
                    "admin startup kit (it holds startup/rootCA.pem, client.crt, client.key)."
                    % (name, ", ".join(result.get("missing", [])), self.p["kit_dir"]))
        if kind == "transfer_dir":
            return "Cannot create the transfer directory %s in container '%s': %s." % (
                result.get("path"), name, result.get("error"))
        if kind == "engine_missing":
            return ("Container '%s' cannot load the Clara admin API (dlmed.hci.client.api) with its python3 (%s): %s; "
                    "use the Clara Train image (clara_hci installed, CPython 3.8) for the admin container."
                    % (name, result.get("python", "?"), result.get("error")))
        if kind == "login":
            return self.login_failure(result)
        if kind == "unknown_command":
            bad = result.get("unknown") or []
            return ("The FL server at %s does not know the admin command%s %s; nothing was sent. Available commands "
                    "are listed by the console's '?'." % (where, "" if len(bad) == 1 else "s",
                                                          ", ".join("'%s'" % b["command"] for b in bad)))
        if kind in ("unregistered_site", "expected_site_missing"):
            first = (result.get("unregistered") or result.get("wide"))[0]
            sites = first.get("sites") or result.get("absent") or []
            return ("Admin command '%s' %s site%s %s, which %s not registered with the FL server at %s (registered: %s)"
                    "; nothing was sent.%s" % (
                        first["command"], "names" if kind == "unregistered_site" else "acts on every registered "
                        "client, but expected", "" if len(sites) == 1 else "s", ", ".join("'%s'" % s for s in sites),
                        "is" if len(sites) == 1 else "are", where, ", ".join(result.get("registered") or []) or "none",
                        "" if kind == "unregistered_site" else " Wait until every site is registered."))
        if kind == "status_failed":
            return "Reading the registered clients with 'check_status server' at %s failed: %s" % (
                where, result.get("error"))
        if kind == "timeout":
            command = commands[index] if index is not None else result.get("command")
            return ("Admin command '%s' got no reply from the FL server at %s within %g seconds (timeout); the commands "
                    "after it were not sent." % (command, where, result.get("timeout_used") or 0))
        if kind in ("reply", "exception"):
            entry = (result.get("replies") or [{}])[-1]
            text = entry.get("exception") if kind == "exception" else self.dialect.reply_text(
                entry.get("reply"), entry.get("output"), entry.get("local_errors"))
            if entry.get("error") and entry["error"] not in (text or ""):
                text = (text + "\n" + entry["error"]) if text else entry["error"]
            msg = "Admin command '%s' failed: %s" % (commands[index], (text or "no reply").strip())
            if commands[:index]:
                msg += "\n(ran before it: %s)" % "; ".join(commands[:index])
            if commands[index + 1:]:
                msg += "\n(not sent: %s)" % "; ".join(commands[index + 1:])
            return msg
        if kind == "after_shutdown":
            return ("Admin command '%s' was not sent: the FL server at %s shut down after '%s' and closed its admin "
                    "port." % (commands[index], where, commands[result.get("shutdown_index", index - 1)]))
        return "Driving the FL admin console at %s failed at stage %s: %s" % (where, result.get("stage"),
                                                                              result.get("error"))

    def login_failure(self, result):
        """One sentence for a failed login (server down, wrong port, wrong name, wrong kit)."""
        where, name = self.where, self.p["container"]
        login = result.get("login") or {}
        texts = [u"%s" % i.get("data", "") for i in self.dialect.items(result.get("login_reply") or {})]
        detail = " ".join(t for t in texts if t)
        if result.get("timed_out"):
            return ("Cannot log in to the FL admin server at %s from container '%s': no answer within the timeout; "
                    "check that the FL server is running and %s is its admin_port." % (where, name, self.server["port"]))
        if login.get("status") == "ERROR_CERT" or "REJECT" in texts:
            cn = result.get("cert_cn")
            return ("The FL admin server at %s rejected the login as '%s': the user name must be the admin's e-mail "
                    "the kit was provisioned for%s, and the server must know that admin." % (
                        where, self.username, (" (this kit's certificate is issued to '%s')" % cn) if cn else ""))
        match = re.search(r"wrong server: expecting (\S+) but connected (\S+)", detail)
        if match:
            return ("The server at %s presents a certificate for '%s', not '%s': set server_cn to the server's cn in "
                    "project.yml, or check that %s is the right server." % (where, match.group(2), match.group(1),
                                                                            where))
        if detail:
            reason, hint = os_reason(detail)
            return "Cannot connect to the FL admin server at %s from container '%s' (%s): check %s." % (
                where, name, reason, hint % {"host": self.server["host"], "port": self.server["port"]})
        if result.get("error"):
            return "Login to the FL admin server at %s failed: %s." % (where, result["error"])
        return "Login to the FL admin server at %s failed: %s." % (where, login.get("details")
                                                                   or "no details from the admin API")


def os_reason(text):
    """A short reason and a hint from 'Failed to communicate with Admin Server H on P: <reason>'."""
    low = (text or "").lower()
    if "connection refused" in low:
        return "connection refused", "that the FL server is running and that %(port)s is its admin_port"
    if any(w in low for w in ("name or service not known", "temporary failure in name resolution",
                              "nodename nor servname", "no address associated")):
        return "the host name does not resolve", "the server's name (cn) in the kit or server_host, and DNS/hosts"
    if "timed out" in low:
        return "no answer, timed out", ("that %(host)s is reachable from the admin container and that a firewall "
                                        "lets port %(port)s through")
    if any(w in low for w in ("certificate verify failed", "unknown ca", "bad certificate")):
        return "TLS certificate check failed", ("that the admin kit comes from the same provisioning run as the "
                                                "server's kit (re-provisioning mints a new root CA)")
    if any(w in low for w in ("broken pipe", "connection reset", "eof occurred", "wrong version number")):
        return "the connection was dropped", "that %(port)s is the admin_port and not the fed_learn_port"
    if re.search(r"failed to communicate with admin server \S+ on \d+\s*$", low):
        # the engine's wording when the TLS connection opened but no admin reply came back
        return "the connection opened but no admin reply came back", ("that %(port)s is the admin_port and not the "
                                                                      "fed_learn_port")
    if "no route to host" in low or "network is unreachable" in low:
        return "no route to host", "the network between the admin container and %(host)s"
    match = re.search(r"on \d+: (.+)$", text or "")
    return (match.group(1).strip() if match else (text or "unknown error").strip(),
            "that the FL server is running and reachable at that address")
