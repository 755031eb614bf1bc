# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fl_host_check module run in-process as Ansible runs it, on this (Linux) host."""

from __future__ import absolute_import, division, print_function

import json
import os
import socket

import pytest

from ansible.module_utils import basic

from module_runner import run_module
from ansible_collections.clarafl.federation.plugins.modules import fl_host_check


@pytest.fixture
def listening():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    yield sock.getsockname()[1]
    sock.close()


def test_fine_host(tmp_path, capsys):
    kits = tmp_path / "kits" / "p1"
    (kits / "server").mkdir(parents=True)
    (kits / ".clarafl-project").write_text(json.dumps({"project": "p1", "created": True, "created_at": "x",
                                                       "entries": ["server"]}))
    (tmp_path / "data").mkdir()
    for check_mode in (False, True):
        result, _raw = run_module(fl_host_check, {
            "project": "p1", "kit_root": str(kits), "kit_components": ["server", "admin"],
            "paths": [{"path": str(tmp_path / "data"), "what": "fl_dataset_dir"}],
        }, capsys, check_mode=check_mode)
        assert result["changed"] is False and "failed" not in result
        assert result["problems"] == [] and result["listeners"] == []
        assert result["kit_root_exists"] is True and result["kit_root_created_by_collection"] is True
        assert result["kit_root_marker"] == {"project": "p1", "created": True, "created_at": "x", "entries": ["server"]}
        assert result["kit_root_foreign_entries"] == []
        assert result["hostname"] == socket.gethostname()


def test_problems_do_not_fail_the_module(tmp_path, capsys, listening):
    result, _raw = run_module(fl_host_check, {
        "project": "p1", "kit_root": "kits",
        "paths": [{"path": str(tmp_path / "nope"), "what": "fl_dataset_dir of org1-a"}],
        "ports": [{"port": listening, "name": "fl_admin_port"}],
        "allowed_containers": ["c" * 64],
    }, capsys)
    assert "failed" not in result and result["changed"] is False
    assert result["problems"] == [
        "fl_kit_root must be an absolute path (it is 'kits'): a relative path would put private keys wherever "
        "ansible-playbook runs from.",
        "fl_dataset_dir of org1-a %s does not exist on this host (%s)" % (tmp_path / "nope", socket.gethostname()),
        result["problems"][2],
    ]
    assert result["problems"][2].startswith("port %d is already in use on this host by pid %d ("
                                            % (listening, os.getpid()))
    assert result["problems"][2].endswith("); the FL server needs it: stop that process or choose another "
                                          "fl_admin_port")
    assert [(x["port"], x["pid"], x["ours"]) for x in result["listeners"]] == [(listening, os.getpid(), False)]


def test_fail_on_problems(capsys):
    args = {"project": "p1", "kit_root": "/", "fail_on_problems": True,
            "paths": [{"path": "rel", "what": "fl_dataset_dir", "kind": "file"}]}
    result, _raw = run_module(fl_host_check, args, capsys)
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"] == ("2 problem(s) on this host: (1) fl_kit_root / is the root folder: the collection keeps "
                             "each project in its own folder (e.g. /opt/clarafl/p1) (2) fl_dataset_dir must be an "
                             "absolute path (it is 'rel')")
    assert len(result["problems"]) == 2


@pytest.mark.parametrize("args,msg", [
    ({"allowed_containers": ["abc123"]}, "allowed_containers needs ids of at least 12 characters; got abc123"),
    ({"ports": [{"port": 70000, "name": "fl_admin_port"}]}, "ports must be between 1 and 65535; got 70000"),
    ({"project": ""}, "project must not be empty"),
])
def test_bad_options(capsys, args, msg):
    full = {"project": "p1"}
    full.update(args)
    result, _raw = run_module(fl_host_check, full, capsys)
    assert result["failed"] is True and result["msg"] == msg


def test_kinds_are_checked_by_ansible(capsys):
    args = {"project": "p1", "paths": [{"path": "/", "what": "x", "kind": "link"}]}
    result, _raw = run_module(fl_host_check, args, capsys)
    assert result["failed"] is True and "kind" in result["msg"]


# --- one call per machine: become, GPUs and the run lock -------------------------------------------------------

HOLDER = {"token": "a" * 32, "controller": "ctl-1", "pid": 4242, "user": "root", "playbook": "site.yml",
          "started": "2026-11-30T02:10:00Z"}
OTHER = dict(HOLDER, token="b" * 32, controller="ctl-2", pid=77)


def _check(capsys, tmp_path, check_mode=False, **args):
    args = dict({"project": "p1", "kit_root": str(tmp_path / "kits" / "p1")}, **args)
    result, raw = run_module(fl_host_check, args, capsys, check_mode=check_mode)
    assert "Traceback" not in raw
    return result


def test_the_call_says_the_uid_it_ran_as(tmp_path, capsys):
    result = _check(capsys, tmp_path)
    assert result["uid"] == os.geteuid() and result["lock"] is None
    # checks=false: only that (the inventory's own check failed)
    result = _check(capsys, tmp_path, checks=False, kit_root="relative", lock={"path": str(tmp_path / "l"),
                                                                              "holder": HOLDER})
    assert result["problems"] == [] and result["uid"] == os.geteuid() and result["lock"] is None
    assert not (tmp_path / "l").exists()


def test_a_host_without_problems_takes_the_lock(tmp_path, capsys):
    lock = tmp_path / "var" / "p1" / "run.lock"
    result = _check(capsys, tmp_path, lock={"path": str(lock), "holder": HOLDER, "expiry": 60})
    assert result["problems"] == [] and result["changed"] is False
    assert result["lock"]["acquired"] is True and result["lock"]["msg"] is None
    stored = json.loads(lock.read_text())
    assert stored["token"] == HOLDER["token"] and stored["expires_after"] == 60


def test_a_host_with_problems_takes_no_lock(tmp_path, capsys):
    lock = tmp_path / "var" / "p1" / "run.lock"
    result = _check(capsys, tmp_path, kit_root="/opt", lock={"path": str(lock), "holder": HOLDER})
    assert result["problems"] and result["lock"] is None
    assert not (tmp_path / "var").exists()


def test_check_mode_takes_no_lock(tmp_path, capsys):
    lock = tmp_path / "run.lock"
    result = _check(capsys, tmp_path, check_mode=True, lock={"path": str(lock), "holder": HOLDER})
    assert result["lock"] is None and not lock.exists()


def test_a_lock_another_run_holds_is_a_problem_naming_it(tmp_path, capsys):
    lock = tmp_path / "run.lock"
    _check(capsys, tmp_path, lock={"path": str(lock), "holder": OTHER})
    result = _check(capsys, tmp_path, lock={"path": str(lock), "holder": HOLDER})
    assert result["lock"]["acquired"] is False and result["lock"]["held_by_other"] is True
    assert len(result["problems"]) == 1
    assert result["problems"][0].startswith(u"Another run holds the lock of this project: run bbbb\u2026 by root on ctl-2 "
                                            u"(ansible-playbook pid 77, playbook site.yml)")
    taken = _check(capsys, tmp_path, lock={"path": str(lock), "holder": HOLDER, "steal": True})
    assert taken["problems"] == [] and taken["lock"]["acquired"] is True
    assert taken["lock"]["msg"].startswith("Took over the run lock %s from run bbbb" % lock)


def test_gpus_asked_for_on_a_host_without_a_driver(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(fl_host_check, "nvidia_smi", lambda module: (127, "", "nvidia-smi is not installed"))
    monkeypatch.setattr(fl_host_check, "_docker", lambda: "no engine here")
    result = _check(capsys, tmp_path, gpus={"sites": ["org1-a"], "devices": ["0", "1"], "host": "gpu-1"})
    assert result["problems"] == [
        "Site(s) org1-a ask for GPUs (0, 1) but gpu-1 has no NVIDIA driver (nvidia-smi is not installed): install the "
        "NVIDIA driver and Container Toolkit (the docker role does with docker_nvidia: true), or set the site's gpus "
        "(fl_client_gpus) to none to train it on CPU."]
    assert _check(capsys, tmp_path, gpus={"sites": [], "devices": []})["problems"] == []


def test_the_servers_own_container_is_looked_up_by_name(tmp_path, capsys, monkeypatch):
    class Found(object):
        id = "c" * 64

    class Containers(object):
        @staticmethod
        def get(name):
            if name == "clarafl-p1-server":
                return Found()
            raise fl_host_check.NotFound("no such container")

    class Client(object):
        containers = Containers()

    assert fl_host_check.container_ids(Client(), ["clarafl-p1-server", "clarafl-p1-gone"]) == ["c" * 64]
    assert fl_host_check.container_ids("no engine", ["clarafl-p1-server"]) == []


# --- what the docker and clara_image roles would ask again: the engine and the image --------------------------

def _fake_docker(monkeypatch, answers, installed=True):
    """The docker command the module finds and runs: each subcommand's (rc, stdout, stderr); the argvs given."""
    calls = []

    def run_command(self, args, **_kwargs):  # pylint: disable=unused-argument
        calls.append(list(args))
        return answers[args[1]]

    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path",
                        lambda self, name, *a, **k: "/usr/bin/docker" if installed and name == "docker" else None)
    return calls


def test_without_engine_or_image_nothing_more_is_read(tmp_path, capsys, monkeypatch):
    calls = _fake_docker(monkeypatch, {})
    result = _check(capsys, tmp_path)
    assert result["engine"] is None and result["image"] is None and calls == []


def test_the_engine_and_the_image_are_read_for_the_later_roles(tmp_path, capsys, monkeypatch):
    image = {"Id": "sha256:" + "ab" * 32, "Config": {"Labels": None}}
    calls = _fake_docker(monkeypatch, {"info": (0, '{"version": "26.1.5"}\n', ""),
                                       "image": (0, json.dumps([image]), "")})
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / ("verified-" + "ab" * 32)).write_text("checked")
    for check_mode in (False, True):  # reads only, the same in check mode
        result = _check(capsys, tmp_path, check_mode=check_mode,
                        engine={"info_format": "{{json .ServerVersion}}"},
                        image={"name": "clarafl/clara-train-cpu:4.0", "record_dir": str(tmp_path / "images")})
        assert result["changed"] is False and result["problems"] == []
        assert result["engine"] == {"info_format": "{{json .ServerVersion}}", "rc": 0, "stdout": '{"version": "26.1.5"}',
                                    "stderr": "", "msg": "", "gpu_lines": None}
        assert result["image"]["images"] == [image]
        assert result["image"]["record"]["exists"] is True and len(result["image"]["record"]["checksum"]) == 40
    assert calls[:2] == [["/usr/bin/docker", "info", "--format", "{{json .ServerVersion}}"],
                         ["/usr/bin/docker", "image", "inspect", "clarafl/clara-train-cpu:4.0"]]


def test_an_engine_that_does_not_answer_is_not_asked_for_the_image(tmp_path, capsys, monkeypatch):
    calls = _fake_docker(monkeypatch, {"info": (1, "", "Cannot connect to the Docker daemon\n")})
    result = _check(capsys, tmp_path, engine={"info_format": "x", "gpus": True}, image={"name": "clarafl/x:1"})
    assert result["engine"]["rc"] == 1 and isinstance(result["engine"]["gpu_lines"], list)
    assert result["image"] is None and len(calls) == 1
    _fake_docker(monkeypatch, {}, installed=False)
    result = _check(capsys, tmp_path, engine={"info_format": "x"}, image={"name": "clarafl/x:1"})
    assert result["engine"]["rc"] == 2 and result["image"] is None
    result = _check(capsys, tmp_path, image={"name": "clarafl/x:1"})
    assert result["engine"] is None and result["image"]["images"] is None
