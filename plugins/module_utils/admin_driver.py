# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The admin console driver: the program that runs beside the engine, in the admin container.

``clarafl.federation.fl_admin_console`` runs this file's source with ``python3 -c SOURCE '<json>'``
inside a container of the Clara image (CPython 3.8, the standard library and the engine's
``dlmed`` package): it logs in with the admin kit's certificate through the engine's
``AdminAPI``, runs the commands, follows the training or reads the status as asked, logs out and
prints exactly one line starting with the result marker, holding the JSON result, on the real
stdout (anything the engine prints goes to stderr). It never lets an exception escape.

Everything it decides with is passed in its arguments by
:func:`admin_console.build_driver_args` (the reply rules, the marker); ``_reply_error`` must stay
equivalent to :func:`admin_console.classify_reply` (a unit test compares them on every fixture).
Only the standard library is imported at the top: the engine is imported where it is used, so
that the unit tests load this file without it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import json
import os
import re
import sys
import threading
import time
import traceback


def _matches(patterns, line):
    return any(re.search(p, line, re.IGNORECASE) for p in patterns)


def _reply_error(verb, reply, errs, rules, shell_verbs):
    errors = [u"%s" % e for e in errs or []]
    if not isinstance(reply, dict):
        return "; ".join(errors) or "no reply"
    if reply.get("status", "SUCCESS") != "SUCCESS":
        errors.append(u"%s" % (reply.get("details") or reply.get("status")))
    patterns = list(rules["shell"] if verb in shell_verbs else rules["generic"])
    patterns.extend(rules.get("verb", {}).get(verb, []))
    tolerated = rules.get("tolerated", {}).get(verb, [])
    data = reply.get("data")
    for item in (data if isinstance(data, list) else []):
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "error":
            errors.append((u"%s" % item.get("data", "")).strip())
        elif kind in ("string", "success"):
            for line in (u"%s" % item.get("data", "")).splitlines():
                if not line.strip() or (tolerated and _matches(tolerated, line)):
                    continue
                if _matches(patterns, line):
                    errors.append(line.strip())
    return "\n".join(errors) if errors else None


def _call(fn, timeout):
    box = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["exception"] = "%s: %s" % (type(exc).__name__, exc)
            box["trace"] = traceback.format_exc()[-3000:]

    worker = threading.Thread(target=target)
    worker.daemon = True
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        return {"timed_out": True}
    return box


def _cert_cn(path):
    try:
        from cryptography import x509
        from cryptography.x509.oid import NameOID
        with open(path, "rb") as fh:
            cert = x509.load_pem_x509_certificate(fh.read())
        attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return attrs[0].value if attrs else None
    except Exception:
        return None


def _registered(reply):
    data = reply.get("data") if isinstance(reply, dict) else None
    for item in (data if isinstance(data, list) else []):
        if isinstance(item, dict) and item.get("type") == "table":
            rows = item.get("rows") or []
            if rows and [u"%s" % h for h in rows[0]][:1] == ["CLIENT NAME"]:
                return [u"%s" % r[0] for r in rows[1:] if r]
    return None


def _unanswered(ref, reply, registered):
    """A per-site command whose reply lacks a line for a site it targeted did not reach it."""
    targets = ref["sites"] or list(registered or [])
    names = set()
    data = reply.get("data") if isinstance(reply, dict) else None
    for item in (data if isinstance(data, list) else []):
        if isinstance(item, dict) and item.get("type") == "string":
            for line in (u"%s" % item.get("data", "")).splitlines():
                m = re.match(r"^instance:([^:]*?)\s?: ", line)
                if m:
                    names.add(m.group(1).strip())
    missing = [t for t in targets if t not in names]
    if missing and names - set([""]):
        return "no answer from site%s %s (the command did not reach %s)" % (
            "" if len(missing) == 1 else "s", ", ".join(missing), "it" if len(missing) == 1 else "them")
    return None


LATE_START_WAIT = 20.0


# Per-site commands whose reply line for a site that got them starts with this.
_SITE_REPLY_OK = {"start": "Start the client", "deploy": "MMAR deployed"}


def _late_sites(verb, command, reply):
    """The sites that gave "No replies" to "start client" or "deploy MMAR client" while every other
    site answered as it should: else []. A busy site answers after the server stops waiting."""
    words = command.split()
    target = words[1:2] if verb == "start" else words[2:3]
    if verb not in _SITE_REPLY_OK or target != ["client"]:
        return []
    late = []
    data = reply.get("data") if isinstance(reply, dict) else None
    for item in (data if isinstance(data, list) else []):
        if not isinstance(item, dict):
            continue
        if item.get("type") == "error":
            return []
        if item.get("type") != "string":
            continue
        for line in (u"%s" % item.get("data", "")).splitlines():
            m = re.match(r"^instance:([^:]*?)\s?: (.*)$", line.strip())
            if not m:
                continue
            if m.group(2).strip() == "No replies":
                late.append(m.group(1).strip())
            elif not m.group(2).startswith(_SITE_REPLY_OK[verb]):
                return []
    return late


def _redeployed(api, command, sites, timeout, entry, attempts=3, pause=3.0):
    """Send the deploy again to the sites that did not answer (the runbook retries it too)."""
    left = list(sites)
    for _attempt in range(attempts):
        time.sleep(pause)
        entry.setdefault("redeployed_sites", []).extend(left)
        out = _call(lambda: api.do_command(" ".join(command.split()[:3] + left)), timeout)
        reply = out.get("value")
        answered = set()
        data = reply.get("data") if isinstance(reply, dict) else None
        for item in (data if isinstance(data, list) else []):
            if isinstance(item, dict) and item.get("type") == "string":
                for line in (u"%s" % item.get("data", "")).splitlines():
                    m = re.match(r"^instance:([^:]*?)\s?: (.*)$", line.strip())
                    if m and m.group(2).startswith(_SITE_REPLY_OK["deploy"]):
                        answered.add(m.group(1).strip())
        left = [site for site in left if site not in answered]
        if not left:
            return True
    entry["late_status"] = dict((site, "no reply to the deploy") for site in left)
    return False


def _client_states(api, timeout):
    """{site: status} from check_status client ({} when it cannot be read)."""
    out = _call(lambda: api.do_command("check_status client"), timeout)
    reply = out.get("value")
    data = reply.get("data") if isinstance(reply, dict) else None
    states = {}
    for item in (data if isinstance(data, list) else []):
        if isinstance(item, dict) and item.get("type") == "string":
            for line in (u"%s" % item.get("data", "")).splitlines():
                m = re.match(r"^instance:([^:]*?)\s?: (.*)$", line.strip())
                if m:
                    st = re.search(r"status:\s*([a-z ]*[a-z])", m.group(2), re.IGNORECASE)
                    states[m.group(1).strip()] = (st.group(1) if st else m.group(2)).strip().lower()
    return states


def _wait_training(api, sites, timeout, wait):
    """The states of sites once all train, or when wait seconds have passed."""
    deadline = time.time() + wait
    while True:
        states = _client_states(api, timeout)
        if all(states.get(site) == "training started" for site in sites) or time.time() + 1 > deadline:
            return states
        time.sleep(1)


def _started_after_all(api, sites, timeout, entry, wait=None, silent_is_hung=False):
    """True once check_status client shows every one of sites training. A site that still is not
    is sent its own "start client" once more (the first may not have reached it). With
    silent_is_hung, a site that answers not even check_status by then is not: a client whose
    start hangs answers nothing more, and the caller restarts it."""
    wait = LATE_START_WAIT if wait is None else wait
    states = _wait_training(api, sites, timeout, wait / 2)
    again = [site for site in sites if states.get(site) != "training started"
             and not (silent_is_hung and states.get(site) == "no replies")]
    if again:
        entry["restarted_sites"] = again
        _call(lambda: api.do_command("start client " + " ".join(again)), timeout)
        states = _wait_training(api, again, timeout, wait)
    entry["late_status"] = dict((site, states.get(site, "not listed")) for site in sites)
    return all(states.get(site) == "training started" for site in sites)


def _run(args, result):
    timeout = args["timeout"]
    missing = [p for p in (args["ca_cert"], args["client_cert"], args["client_key"]) if not os.path.isfile(p)]
    if missing:
        result.update(stage="kit", error_kind="kit_missing", missing=missing)
        return
    result["cert_cn"] = _cert_cn(args["client_cert"])
    for key in ("upload_dir", "download_dir"):
        try:
            if not os.path.isdir(args[key]):
                os.makedirs(args[key])
        except OSError as exc:
            result.update(stage="kit", error_kind="transfer_dir", path=args[key], error=str(exc))
            return
    try:
        from dlmed.hci.client.api import AdminAPI
    except Exception as exc:
        result.update(stage="import", error_kind="engine_missing", error="%s: %s" % (type(exc).__name__, exc),
                      python=sys.version.split()[0])
        return
    api = AdminAPI(host=args["host"], port=args["port"], ca_cert=args["ca_cert"], client_cert=args["client_cert"],
                   client_key=args["client_key"], upload_dir=args["upload_dir"], download_dir=args["download_dir"],
                   server_cn=args["server_cn"])
    local_errors = []
    api.iobuffer = io.StringIO()
    api.write_error = lambda msg: local_errors.append(u"%s" % msg)
    out = _call(lambda: api.login(args["username"]), max(timeout, args.get("login_timeout") or 0))
    if out.get("timed_out") or "exception" in out:
        result.update(stage="login", error_kind="login", timed_out=bool(out.get("timed_out")),
                      error=out.get("exception"), trace=out.get("trace"))
        return
    login = out.get("value")
    result["login"] = login
    if not isinstance(login, dict) or login.get("status") != "SUCCESS":
        result.update(stage="login", error_kind="login", login_reply=api.command_result)
        return
    result["logged_in"] = True
    confirm = {}
    known = set()
    for reg in (api.server_cmd_reg, api.client_cmd_reg):
        for name, entries in getattr(reg, "cmd_map", {}).items():
            known.add(name.lower())
            for ent in entries:
                confirm.setdefault(name.lower(), getattr(ent, "confirm", None))
    result["confirm"] = dict((v, confirm.get(v)) for v in set(args["verbs"]))
    try:
        _work(api, args, result, known, local_errors, timeout)
    finally:
        if not result.get("abandon"):
            _call(api.logout, min(timeout, 10))


def _work(api, args, result, known, local_errors, timeout):
    commands = args["commands"]
    unknown = [{"index": i, "command": c} for i, c in enumerate(commands)
               if args["verbs"][i] not in known and c.split(" ", 1)[0].lower() not in known]
    if unknown:
        result.update(stage="validate", error_kind="unknown_command", unknown=unknown)
        return
    registered = None
    if args["need_registered"]:
        out = _call(lambda: api.do_command("check_status server"), timeout)
        if out.get("timed_out"):
            result.update(stage="registered", error_kind="timeout", command="check_status server", abandon=True)
            return
        reply = out.get("value")
        result["registered_reply"] = reply
        registered = _registered(reply)
        if registered is None:
            result.update(stage="registered", error_kind="status_failed", command="check_status server",
                          error=out.get("exception") or json.dumps(reply, default=str)[:2000])
            return
        result["registered"] = registered
    bad = []
    for ref in args["site_refs"]:
        missing = [s for s in ref["sites"] if s not in registered]
        if missing:
            bad.append({"index": ref["index"], "command": commands[ref["index"]], "sites": missing})
    if bad:
        result.update(stage="validate", error_kind="unregistered_site", unregistered=bad)
        return
    expected = args.get("expected_sites")
    if expected is not None:
        absent = [s for s in expected if s not in registered]
        result["missing_sites"] = absent
        if absent:
            wide = [{"index": r["index"], "command": commands[r["index"]]} for r in args["site_refs"]
                    if r["all_clients"] and args["run"][r["index"]]]
            if wide:
                result.update(stage="validate", error_kind="expected_site_missing", absent=absent, wide=wide)
                return
    per_site = dict((r["index"], r) for r in args["site_refs"] if r.get("per_site_reply"))
    for index, command in enumerate(commands):
        entry = {"index": index, "command": command}
        result["results"].append(entry)
        if not args["run"][index]:
            entry["skipped"] = True
            continue
        api.iobuffer = io.StringIO()
        del local_errors[:]
        started = time.time()
        out = _call(lambda: api.do_command(command), timeout)
        entry["seconds"] = round(time.time() - started, 3)
        if out.get("timed_out"):
            entry["timed_out"] = True
            result.update(stage="command", error_kind="timeout", failed_index=index, abandon=True)
            return
        entry["reply"] = out.get("value")
        entry["output"] = api.iobuffer.getvalue()
        entry["local_errors"] = list(local_errors)
        if "exception" in out:
            entry["exception"] = out["exception"]
            entry["trace"] = out.get("trace")
            result.update(stage="command", error_kind="exception", failed_index=index)
            return
        error = _reply_error(args["verbs"][index], entry["reply"], entry["local_errors"], args["rules"],
                             args["shell_verbs"])
        if not error and index in per_site:
            error = _unanswered(per_site[index], entry["reply"], registered)
        if error:
            verb = args["verbs"][index]
            late = _late_sites(verb, command, entry["reply"])
            # A busy site answers after the server stops waiting: its status tells whether it
            # started; a deploy it missed is sent to it again.
            if late and (_started_after_all(api, late, timeout, entry, args.get("late_start_wait"),
                                            args.get("hung_start") == "report") if verb == "start"
                         else _redeployed(api, command, late, timeout, entry)):
                entry["late_sites"] = late
                error = None
            elif late and verb == "start" and args.get("hung_start") == "report":
                # The engine's client can hang in its start and then answers nothing: the caller
                # restarts those sites and brings them back into the training that is running.
                entry["late_sites"] = late
                entry["hung_sites"] = [s for s in late if entry.get("late_status", {}).get(s) != "training started"]
                result.setdefault("hung_sites", []).extend(entry["hung_sites"])
                error = None
        if error:
            entry["error"] = error
            result.update(stage="command", error_kind="reply", failed_index=index)
            return
        data = entry["reply"].get("data") if isinstance(entry["reply"], dict) else None
        if any(isinstance(i, dict) and i.get("type") == "shutdown" for i in (data or [])):
            # "shutdown server" answered "Bye-bye": the admin port closes; nothing more can be sent
            result["server_shutdown"] = True
            result["abandon"] = True
            later = [i for i in range(index + 1, len(commands)) if args["run"][i]]
            if later:
                result.update(stage="command", error_kind="after_shutdown", failed_index=later[0],
                              shutdown_index=index)
                return
            result["ok"] = True
            result["stage"] = "done"
            return
    if args.get("watch"):
        # Follow the training: the client table is reset when a run ends, so it is read often
        # and every reading is kept; stop when a round ends or the training stops.
        result["watch_replies"] = []
        deadline = time.time() + args["watch"]
        first = None
        while True:
            out = _call(lambda: api.do_command("check_status server"), timeout)
            if out.get("timed_out"):
                result.update(stage="watch", error_kind="timeout", command="check_status server", abandon=True)
                return
            reply = out.get("value")
            result["watch_replies"].append({"time": time.time(), "reply": reply})
            text = json.dumps(reply, default=str)
            state = (re.findall(r"FL server status: ([a-z ]+)", text) or [""])[0].strip()
            rnd = (re.findall(r"current round:\s*(\d+)", text) or [None])[0]
            if state == "training stopped":
                break
            if first is None:
                first = (state, rnd)
            elif state != first[0] or rnd != first[1]:
                break
            if time.time() + args["watch_interval"] > deadline:
                break
            time.sleep(args["watch_interval"])
    if args["status"]:
        result["status_replies"] = {}
        for which in ("server", "client"):
            out = _call(lambda: api.do_command("check_status " + which), timeout)
            if out.get("timed_out"):
                result.update(stage="status", error_kind="timeout", command="check_status " + which, abandon=True)
                return
            result["status_replies"][which] = out.get("value")
    result["ok"] = True
    result["stage"] = "done"


def main():
    real_stdout = sys.stdout
    sys.stdout = sys.stderr
    result = {"ok": False, "results": [], "stage": "start"}
    try:
        args = json.loads(sys.argv[1])
        result["marker"] = args.get("marker")
        _run(args, result)
    except BaseException as exc:
        result.update(stage="driver", error_kind="driver", error="%s: %s" % (type(exc).__name__, exc),
                      trace=traceback.format_exc()[-3000:])
    real_stdout.write((result.get("marker") or "CLARAFL-ADMIN-CONSOLE-RESULT ") + json.dumps(result, default=str) + "\n")
    real_stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
