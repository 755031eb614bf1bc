# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The admin modules (fl_admin_command, fl_admin_info, fl_training) against a real Clara Train 4.0 federation
(server + 2 clients + admin container, see federation.py). The tests run in file order and share the federation;
the last ones shut it down.

Modules run in-process as Ansible runs them (module_runner.run_module), through the `ansible` CLI, and through
ansible-playbook (playbooks/train.yml: fl_training with its action plugin, a whole training).
"""

from __future__ import absolute_import, division, print_function

import json
import os
import re
import subprocess
import sys
import time

import pytest

import federation as fedlib
from module_runner import COLLECTIONS, ansible_cli, run_cli, run_module
from ansible_collections.clarafl.federation.plugins.modules import fl_admin_command, fl_admin_info

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CAPTURE = os.path.join(REPO, "tests", "output", "engine-admin-replies.json")
_captured = []


def _args(federation, **extra):
    args = {"container": federation.admin_container, "username": federation.admin}
    args.update(extra)
    return args


def _run(federation, capsys, module=fl_admin_command, check_mode=False, **extra):
    result, raw = run_module(module, _args(federation, **extra), capsys, check_mode=check_mode)
    assert "Traceback" not in raw, raw
    for entry in result.get("results") or []:
        if entry.get("reply") is not None:
            _captured.append({"command": entry["command"], "reply": entry["reply"], "text": entry["text"]})
    return result


def _info(federation, capsys, **extra):
    result = _run(federation, capsys, module=fl_admin_info, **extra)
    assert result["changed"] is False
    return result


def _cli_json(out):
    """The result the `ansible` CLI prints after "localhost | SUCCESS => " / "FAILED! => "."""
    return json.loads(out[out.index("=> {") + 3:])


def teardown_module(module):
    """Keep the raw replies seen (tests/output, not tracked) to refresh the unit fixtures."""
    try:
        os.makedirs(os.path.dirname(CAPTURE), exist_ok=True)
        with open(CAPTURE, "w") as fh:
            json.dump(_captured, fh, indent=1, sort_keys=True)
    except OSError:
        pass


def test_info_through_the_ansible_cli(federation, tmp_path):
    if ansible_cli() is None:
        pytest.skip("the ansible CLI is not installed beside this Python")
    rc, out = run_cli("fl_admin_info", _args(federation, record_dir=federation.admin_kit()), tmp_path)
    assert rc == 0, out
    assert "Traceback" not in out
    result = _cli_json(out)
    status = result["status"]
    assert result["changed"] is False and result["reachable"] is True
    assert result["server"] == {"host": "localhost", "port": federation.admin_port, "server_cn": "localhost"}
    assert status["run_number"] is None and status["server_status"] == "training not started"
    assert status["registered_count"] == 2
    assert sorted(c["name"] for c in status["registered_clients"]) == sorted(federation.sites)
    assert all(c["last_accepted_round"] is None and c["contribution_count"] == 0 for c in status["registered_clients"])
    for site in federation.sites:
        assert status["clients"][site]["status"] == "training not started"
        assert status["clients"][site]["token"] == [c["token"] for c in status["registered_clients"]
                                                    if c["name"] == site][0]
    assert sorted(result["registered_sites"]) == sorted(federation.sites)
    # nothing trained yet: no record, run 1 by default, no summary
    assert result["record"] == {} and result["run_number"] == 1 and result["summary"] == {}


def test_error_reply_fails_with_the_reply_text(federation, capsys):
    result = _run(federation, capsys, commands=["deploy nonexistent server"])
    assert result["failed"] and result["reason"] == "reply"
    assert result["msg"] == "Admin command 'deploy nonexistent server' failed: Please set a FL run number."

    result = _run(federation, capsys, commands=["set_run_number 1", "deploy nonexistent server", "start server"])
    assert result["failed"]
    assert result["msg"] == ("Admin command 'deploy nonexistent server' failed: MMAR folder 'nonexistent' does not "
                             "exist.\n(ran before it: set_run_number 1)\n(not sent: start server)")
    assert [r["ok"] for r in result["results"]] == [True, False]
    assert result["results"][0]["text"] == "Create a new run folder: run_1"


def test_unknown_command_is_refused_before_anything_is_sent(federation, capsys):
    result = _run(federation, capsys, commands=["set_run_number 5", "bogus_command"])
    assert result["failed"] and result["reason"] == "unknown_command"
    assert "does not know the admin command 'bogus_command'; nothing was sent" in result["msg"]
    assert _info(federation, capsys)["status"]["run_number"] == 1


def test_unknown_site_is_refused_before_anything_is_sent(federation, capsys):
    result = _run(federation, capsys, commands=["set_run_number 9", "start client nosuch"])
    assert result["failed"] and result["reason"] == "unregistered_site"
    assert result["msg"] == ("Admin command 'start client nosuch' names site 'nosuch', which is not registered with "
                             "the FL server at localhost:%d (registered: %s); nothing was sent."
                             % (federation.admin_port, ", ".join(result["registered_sites"])))
    assert result["results"] == []
    # with `sites`, a name outside the list is refused before connecting at all
    result = _run(federation, capsys, sites=list(federation.sites), commands=["check_status client site-c"])
    assert result["failed"] and result["reason"] == "unknown_site" and "'site-c'" in result["msg"]
    # the set_run_number before the bad command was not sent
    assert _info(federation, capsys)["status"]["run_number"] == 1


def test_set_run_number(federation, capsys):
    result = _run(federation, capsys, commands=["set_run_number 2"])
    assert not result.get("failed") and result["changed"] is True
    assert result["results"][0]["text"] == "Create a new run folder: run_2"
    assert result["results"][0]["confirm"] == "none"
    status = _info(federation, capsys)["status"]
    assert status["run_number"] == 2 and status["server_status"] == "training not started"
    again = _run(federation, capsys, commands=["set_run_number 2"])
    assert again["results"][0]["text"] == "run number already exist. Set the FL run number to 2."
    assert again["results"][0]["ok"] is True


def test_check_mode_sends_only_read_only_commands(federation, capsys):
    result = _run(federation, capsys, check_mode=True, commands=["set_run_number 3", "ls server", "check_status client"])
    assert not result.get("failed") and result["changed"] is True and result["skipped"] == ["set_run_number 3"]
    assert result["results"][0]["skipped"] is True and result["results"][1]["ok"] is True
    assert "startup" in result["results"][1]["text"].split()
    assert _info(federation, capsys, check_mode=True)["status"]["run_number"] == 2


def test_timeout_names_the_command(federation, capsys):
    result = _run(federation, capsys, timeout=0.02, commands=["check_status client", "set_run_number 4"])
    assert result["failed"] and result["reason"] == "timeout"
    assert result["msg"] == ("Admin command 'check_status client' got no reply from the FL server at localhost:%d "
                             "within 0.02 seconds (timeout); the commands after it were not sent."
                             % federation.admin_port)
    assert _info(federation, capsys)["status"]["run_number"] == 2


def test_wrong_port_is_one_sentence(federation, tmp_path, capsys):
    wrong = federation.admin_port + 96
    if ansible_cli() is None:
        pytest.skip("the ansible CLI is not installed beside this Python")
    rc, out = run_cli("fl_admin_command", _args(federation, server_port=wrong, commands=["check_status server"]),
                      tmp_path)
    assert rc != 0 and "Traceback" not in out
    sentence = ("Cannot connect to the FL admin server at localhost:%d from container '%s' (connection refused): "
                "check that the FL server is running and that %d is its admin_port."
                % (wrong, federation.admin_container, wrong))
    assert _cli_json(out)["msg"] == sentence
    # the info module answers with the same sentence, without failing: a status is a reading, not a change
    info = _info(federation, capsys, server_port=wrong)
    assert info["reachable"] is False and info["msg"] == sentence and info["status"] == {}


def test_fed_learn_port_is_explained(federation, capsys):
    result = _run(federation, capsys, server_port=federation.fl_port, commands=["check_status server"])
    assert result["failed"] and result["reason"] == "login"
    assert ("localhost:%d" % federation.fl_port) in result["msg"] and "fed_learn_port" in result["msg"]
    assert result["msg"].count("\n") == 0


def test_wrong_user_and_wrong_certificate_name(federation, capsys):
    result = _run(federation, capsys, username="nobody@test.local", commands=["check_status server"])
    assert result["failed"] and "rejected the login as 'nobody@test.local'" in result["msg"]
    assert "issued to '%s'" % federation.admin in result["msg"]
    result = _run(federation, capsys, server_cn="fl.example.org", commands=["check_status server"])
    assert result["failed"]
    assert result["msg"].startswith("The server at localhost:%d presents a certificate for 'localhost', not "
                                    "'fl.example.org'" % federation.admin_port)


def _playbook(federation, tmp_path, **variables):
    """playbooks/train.yml through ansible-playbook: (rc, output, results)."""
    playbook = os.path.join(HERE, "playbooks", "train.yml")
    cli = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    if not os.path.exists(cli):
        pytest.skip("ansible-playbook is not installed beside this Python")
    result_file = tmp_path / "result.json"
    base = {"admin_container": federation.admin_container, "admin_user": federation.admin,
            "fl_sites": list(federation.sites), "app": fedlib.APP, "record_dir": federation.admin_kit(),
            "site_containers": dict((site, federation.name(site)) for site in federation.sites),
            "result_file": str(result_file), "ansible_python_interpreter": sys.executable}
    base.update(variables)
    (tmp_path / "vars.json").write_text(json.dumps(base))
    (tmp_path / "ansible.cfg").write_text(u"[defaults]\n")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_CONFIG=str(tmp_path / "ansible.cfg"),
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_NOCOLOR="1", ANSIBLE_DEPRECATION_WARNINGS="0")
    proc = subprocess.run([cli, "-i", "localhost,", playbook, "-e", "@" + str(tmp_path / "vars.json")],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=str(tmp_path), timeout=400,
                          check=False)
    out = proc.stdout.decode("utf-8", "replace")
    results = json.loads(result_file.read_text()) if result_file.exists() else {}
    return proc.returncode, out, results


def test_a_training_through_the_training_module(federation, tmp_path):
    """fl_training from a playbook: deployed, started, followed with a line per round, summarised; a site whose
    container the module asks to restart is restarted and brought back, as the role does."""
    rc, out, res = _playbook(federation, tmp_path, run_number=7)
    assert rc == 0, out + "\n" + federation.logs("server")
    assert "Traceback" not in out
    trained = res["trained"]
    assert trained["state"] == "finished" and trained["changed"] is True and trained["run_number"] == 7
    said = trained["messages"]
    assert said[0] == ("Run 7 was not started yet: deploying MMAR %s to sites %s and starting run 7."
                       % (fedlib.APP, ", ".join(federation.sites)))
    assert said[1].startswith("Run 7 started on ") and said[-1] == "Run 7 finished: 2 of 2 round(s)."
    # the progress was printed while it trained, before the task's result
    lines = re.findall(r"^run 7: round (\d+) of (\S+), contributions (.*) \((\d+) s\)$", out, re.MULTILINE)
    assert [int(r[0]) for r in lines][:1] == [0] and len(lines) >= 2, out
    assert out.index("run 7: round 0") < out.index("Run 7 finished")
    summary = trained["summary"]
    assert summary["finished"] is True and summary["rounds_done"] == 2 and summary["num_rounds"] == 2
    assert sorted(summary["contributions"]) == sorted(federation.sites)
    assert summary["metrics_read"] is False and summary["metrics_path"] == "run_7/metrics.jsonl"
    # the record and the summary the module keeps in the admin kit folder, read back by fl_admin_info
    info = res["info"]
    assert info["record"]["run_number"] == 7 and info["record"]["phase"] == "finished"
    assert info["summary"] == summary and info["run_number"] == 7
    assert info["status"]["run_number"] == 7 and info["status"]["server_status"] == "training stopped"
    # the clients really trained: the server aggregated both sites' updates in both rounds
    with open(os.path.join(federation.kits, "server", "log.txt")) as fh:
        log = fh.read()
    for rnd in (0, 1):
        assert "aggregating %d updates at round %d" % (len(federation.sites), rnd) in log, log[-3000:]
    _captured.extend({"command": r["command"], "reply": r["reply"], "text": r["text"]}
                     for r in trained.get("results") or [] if r.get("reply") is not None)


def test_a_finished_run_is_left_alone_and_an_earlier_one_refused(federation, tmp_path):
    # No run number: the latest recorded run (7), finished: nothing is sent, nothing changes.
    rc, out, res = _playbook(federation, tmp_path, run_number=None)
    assert rc == 0, out
    assert res["trained"]["state"] == "finished" and res["trained"]["changed"] is False
    assert res["trained"]["messages"] == ["Run 7 finished: left alone."]
    assert res["trained"]["results"] == []
    # An earlier run than the one recorded is refused, with what to do.
    rc, out, res = _playbook(federation, tmp_path, run_number=3)
    assert rc != 0
    assert "Run 3 is an earlier run than run 7, the last run this role started" in " ".join(out.split())


def _wait_until_sites_idle(federation, capsys, timeout=60):
    """The server says 'training stopped' as the run ends; its sites take a moment more to wind down, and
    a shutdown sent meanwhile can end in the engine's 'exception_occurred'."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        clients = (_info(federation, capsys).get("status") or {}).get("clients") or {}
        if all((clients.get(s) or {}).get("status") in ("training stopped", "training not started")
               for s in federation.sites):
            return
        time.sleep(2)


def test_shutdown_one_client_needs_no_confirmation(federation, capsys):
    site = federation.sites[1]
    _wait_until_sites_idle(federation, capsys)
    result = _run(federation, capsys, commands=["shutdown client %s" % site])
    assert not result.get("failed"), result["msg"] if result.get("failed") else ""
    entry = result["results"][0]
    assert entry["confirm"] == "auth"  # the interactive console would ask "Confirm with User Name:"
    assert entry["ok"] is True and entry["changed"] is True
    assert entry["instances"] == [{"site": "", "message": "Shutdown the client..."}]
    status = _info(federation, capsys)["status"]
    assert site not in [c["name"] for c in status["registered_clients"]]
    assert status["registered_count"] == 1


def test_shutdown_everything(federation, capsys):
    result = _run(federation, capsys, commands=["shutdown client", "shutdown server"])
    assert not result.get("failed"), result.get("msg")
    assert result["server_shutdown"] is True
    assert result["results"][1]["text"] == "FL training has been shutdown.\nBye-bye"
    # the supervisors see shutdown.fl and end, so the client containers exit: the collection's within about 5 s
    # (the engine logs its shutdown 3 s after the command), the kit's loop (CLARAFL_ENGINE_SUPERVISOR=kit) within
    # about 25 s (a 10 s poll, then 15 s of sleep before its kill). The server's closed admin port is checked
    # instead of waiting once more.
    states = federation.wait_exited(list(federation.sites))
    assert all(s in ("exited", None) for s in states.values()), states
    deadline = time.time() + 60
    while fedlib.port_open(federation.admin_port) and time.time() < deadline:
        time.sleep(1)
    assert not fedlib.port_open(federation.admin_port)
    # the server is gone: one sentence, no traceback; the info module says so without failing
    sentence = ("Cannot connect to the FL admin server at localhost:%d from container '%s' (connection refused): "
                "check that the FL server is running and that %d is its admin_port."
                % (federation.admin_port, federation.admin_container, federation.admin_port))
    result = _run(federation, capsys, commands=["check_status server"])
    assert result["failed"] and result["reason"] == "login" and result["msg"] == sentence
    info = _info(federation, capsys)
    assert info["reachable"] is False and info["msg"] == sentence
