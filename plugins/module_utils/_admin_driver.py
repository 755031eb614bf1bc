# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The admin console driver: the plain program that runs beside the engine, in the admin container.

``_admin_console.Console`` runs it there with ``python3 -c BOOT DIALECT DRIVER ARGS`` (CPython 3.8, the standard
library and the engine's ``dlmed`` package): BOOT loads the dialect's source and this file's source as modules and
calls :func:`main` with the dialect. It logs in with the admin kit's certificate through the engine's ``AdminAPI``,
checks the commands before sending any (verbs the server knows, sites it has registered), sends them in order,
stops at the first error as the dialect classifies it, logs out and prints exactly one line, the result marker and
the JSON result, on the real stdout (anything the engine prints goes to stderr). No waits, no retries: what to do
about a reply is for the caller to decide. It never lets an exception escape.

Only the standard library is imported at the top: the engine is imported where it is used, so that unit tests load
this file without it (:func:`run` takes the API object).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import json
import os
import sys
import threading
import time
import traceback

MARKER = "CLARAFL-ADMIN-CONSOLE-RESULT "


def call(fn, timeout):
    """{"value": fn()} or {"exception", "trace"}, or {"timed_out": True} after TIMEOUT seconds."""
    box = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:  # pylint: disable=broad-except
            box["exception"] = "%s: %s" % (type(exc).__name__, exc)
            box["trace"] = traceback.format_exc()[-3000:]

    worker = threading.Thread(target=target)
    worker.daemon = True
    worker.start()
    worker.join(timeout)
    return {"timed_out": True} if worker.is_alive() else box


def cert_cn(path):
    """The common name of the admin kit's certificate (named when a login is refused), or None."""
    try:
        from cryptography import x509  # pylint: disable=import-outside-toplevel
        from cryptography.x509.oid import NameOID  # pylint: disable=import-outside-toplevel
        with open(path, "rb") as fh:
            cert = x509.load_pem_x509_certificate(fh.read())
        attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return attrs[0].value if attrs else None
    except Exception:  # pylint: disable=broad-except
        return None


def connect(args, result):
    """The logged-in AdminAPI, or None with result's stage and error_kind set."""
    missing = [p for p in (args["ca_cert"], args["client_cert"], args["client_key"]) if not os.path.isfile(p)]
    if missing:
        result.update(stage="kit", error_kind="kit_missing", missing=missing)
        return None
    result["cert_cn"] = cert_cn(args["client_cert"])
    for key in ("upload_dir", "download_dir"):
        try:
            if not os.path.isdir(args[key]):
                os.makedirs(args[key])
        except OSError as exc:
            result.update(stage="kit", error_kind="transfer_dir", path=args[key], error=str(exc))
            return None
    try:
        from dlmed.hci.client.api import AdminAPI  # pylint: disable=import-outside-toplevel
    except Exception as exc:  # pylint: disable=broad-except
        result.update(stage="import", error_kind="engine_missing", error="%s: %s" % (type(exc).__name__, exc),
                      python=sys.version.split()[0])
        return None
    return AdminAPI(host=args["host"], port=args["port"], ca_cert=args["ca_cert"], client_cert=args["client_cert"],
                    client_key=args["client_key"], upload_dir=args["upload_dir"], download_dir=args["download_dir"],
                    server_cn=args["server_cn"])


def run(api, args, result, dialect):
    """Log in, check, send ARGS["commands"] in order (those ARGS["send"] marks), stop at the first error, log out."""
    timeout = float(args["timeout"])
    local_errors = []
    api.iobuffer = io.StringIO()
    api.write_error = lambda msg: local_errors.append(u"%s" % msg)
    out = call(lambda: api.login(args["username"]), max(timeout, float(args.get("login_timeout") or 0)))
    if out.get("timed_out") or "exception" in out:
        result.update(stage="login", error_kind="login", timed_out=bool(out.get("timed_out")),
                      error=out.get("exception"), trace=out.get("trace"))
        return
    result["login"] = out.get("value")
    if not isinstance(result["login"], dict) or result["login"].get("status") != "SUCCESS":
        result.update(stage="login", error_kind="login", login_reply=api.command_result)
        return
    try:
        send(api, args, result, dialect, local_errors, timeout)
    finally:
        if not result.get("abandon"):
            call(api.logout, min(timeout, 10))


def _known(api):
    """{verb: confirm mode} of every command the server registered at login."""
    known = {}
    for reg in (api.server_cmd_reg, api.client_cmd_reg):
        for name, entries in getattr(reg, "cmd_map", {}).items():
            for entry in entries:
                known.setdefault(name.lower(), getattr(entry, "confirm", None))
    return known


def send(api, args, result, dialect, local_errors, timeout):
    commands = args["commands"]
    known = _known(api)
    result["confirm"] = dict((dialect.verb(c), known.get(dialect.verb(c))) for c in commands)
    unknown = [{"index": i, "command": c} for i, c in enumerate(commands)
               if dialect.verb(c) not in known and c.split(" ", 1)[0].lower() not in known]
    if unknown:
        result.update(stage="validate", error_kind="unknown_command", unknown=unknown)
        return
    named = [(i, c) + tuple(dialect.sites_of(c)) for i, c in enumerate(commands)]
    if any(sites or every for _i, _c, sites, every in named) or args.get("expected_sites") is not None:
        out = call(lambda: api.do_command(dialect.STATUS_COMMANDS[0]), timeout)
        if out.get("timed_out"):
            result.update(stage="registered", error_kind="timeout", command=dialect.STATUS_COMMANDS[0], abandon=True)
            return
        clients = dialect.parse_server_status(out.get("value")).get("registered_clients")
        if clients is None:
            result.update(stage="registered", error_kind="status_failed", command=dialect.STATUS_COMMANDS[0],
                          error=out.get("exception") or json.dumps(out.get("value"), default=str)[:2000])
            return
        result["registered"] = [c.get("name") for c in clients]
        bad = [{"index": i, "command": c, "sites": [s for s in sites if s not in result["registered"]]}
               for i, c, sites, _every in named if any(s not in result["registered"] for s in sites)]
        if bad:
            result.update(stage="validate", error_kind="unregistered_site", unregistered=bad)
            return
        absent = [s for s in args.get("expected_sites") or [] if s not in result["registered"]]
        wide = [{"index": i, "command": c} for i, c, _sites, every in named
                if every and args["send"][i] and dialect.changes(c)]
        if absent and wide:
            result.update(stage="validate", error_kind="expected_site_missing", absent=absent, wide=wide)
            return
    for index, command in enumerate(commands):
        entry = {"index": index, "command": command}
        result["replies"].append(entry)
        if not args["send"][index]:
            entry["skipped"] = True
            continue
        api.iobuffer = io.StringIO()
        del local_errors[:]
        started = time.time()
        out = call(lambda: api.do_command(command), timeout)
        entry["seconds"] = round(time.time() - started, 3)
        if out.get("timed_out"):
            entry["timed_out"] = True
            result.update(stage="command", error_kind="timeout", failed_index=index, abandon=True)
            return
        entry.update(reply=out.get("value"), output=api.iobuffer.getvalue(), local_errors=list(local_errors))
        if "exception" in out:
            entry.update(exception=out["exception"], trace=out.get("trace"))
            result.update(stage="command", error_kind="exception", failed_index=index)
            return
        verdict = dialect.classify(command, entry["reply"], entry["local_errors"])
        if verdict["ok"] and dialect.row(command)["answered"]:
            # A per-site command whose reply has no line for a site it was for did not reach that site.
            sites, every = dialect.sites_of(command)
            missing = dialect.answers(command, entry["reply"], sites or (result.get("registered") or [] if every
                                                                         else []))[2]
            if missing and dialect.instances(dialect.reply_text(entry["reply"])):
                verdict = {"ok": False, "noop": False, "error": "no answer from site%s %s (the command did not reach "
                           "%s)" % ("" if len(missing) == 1 else "s", ", ".join(missing),
                                    "it" if len(missing) == 1 else "them")}
        entry["noop"] = verdict["noop"]
        if not verdict["ok"]:
            entry["error"] = verdict["error"]
            result.update(stage="command", error_kind="reply", failed_index=index)
            return
        if dialect.shut_down(entry["reply"]):
            # "shutdown server" answered "Bye-bye": the admin port closes; nothing more can be sent.
            result.update(server_shutdown=True, abandon=True)
            later = [i for i in range(index + 1, len(commands)) if args["send"][i]]
            if later:
                result.update(stage="command", error_kind="after_shutdown", failed_index=later[0],
                              shutdown_index=index)
                return
            break
    result.update(ok=True, stage="done")


def main(dialect, argument):
    """The driver's entry point in the container: ARGUMENT is the JSON of its arguments."""
    real_stdout = sys.stdout
    sys.stdout = sys.stderr
    result = {"ok": False, "replies": [], "stage": "start"}
    try:
        args = json.loads(argument)
        api = connect(args, result)
        if api is not None:
            run(api, args, result, dialect)
    except BaseException as exc:  # pylint: disable=broad-except
        result.update(stage="driver", error_kind="driver", error="%s: %s" % (type(exc).__name__, exc),
                      trace=traceback.format_exc()[-3000:])
    real_stdout.write(MARKER + json.dumps(result, default=str) + "\n")
    real_stdout.flush()
    sys.stderr.flush()
    os._exit(0)
