# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fl_containers module, run in-process as Ansible runs it, against this machine's Docker engine."""

from __future__ import absolute_import, division, print_function

import os
import time
import uuid

import pytest

from module_runner import run_module
from ansible_collections.clarafl.federation.plugins.module_utils import federation
from ansible_collections.clarafl.federation.plugins.modules import fl_containers

docker = pytest.importorskip("docker")

# A small image the test setup (scripts/build-images.sh) always has.
IMAGE = "python:3.8-slim"


@pytest.fixture
def engine():
    try:
        client = docker.from_env(timeout=30)
        client.ping()
        client.images.get(IMAGE)
    except Exception as exc:  # pylint: disable=broad-except
        if os.environ.get("CLARAFL_REQUIRE_ENGINE") == "1":
            raise
        pytest.skip("no Docker engine with %s here: %s" % (IMAGE, exc))
    label = "clarafl-unit-%s" % uuid.uuid4().hex[:8]
    yield client, label
    for container in client.containers.list(all=True, filters={"label": "org.clarafl.test=%s" % label}):
        container.remove(force=True)


def _specs(label, names, config="h1", **extra):
    specs = []
    for name in names:
        spec = {"name": "%s-%s" % (label, name), "image": IMAGE, "command": ["sleep", "300"], "init": True,
                "tmpfs": ["/tmp:mode=1777"], "ulimits": ["nofile:1024:2048"], "restart_policy": "unless-stopped",
                "labels": {"org.clarafl.test": label, "org.clarafl.config": config, "org.clarafl.site": name}}
        spec.update(extra)
        specs.append(spec)
    return specs


def _run(capsys, specs, **kw):
    args = {"containers": specs}
    args.update(kw.pop("args", {}))
    return run_module(fl_containers, args, capsys, **kw)[0]


def test_creates_then_leaves_alone_then_starts_and_replaces(engine, capsys):
    client, label = engine
    specs = _specs(label, ["a", "b", "c"])
    first = _run(capsys, specs)
    assert first["changed"] is True and not first.get("failed"), first
    assert sorted(item["action"] for item in first["containers"].values()) == ["create"] * 3
    made = client.containers.get(specs[0]["name"])
    assert made.status == "running"
    host = made.attrs["HostConfig"]
    assert host["Init"] is True and host["RestartPolicy"]["Name"] == "unless-stopped"
    assert host["Tmpfs"] == {"/tmp": "mode=1777"}
    assert host["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]
    assert made.attrs["Config"]["Labels"]["org.clarafl.site"] == "a"

    again = _run(capsys, specs)
    assert again["changed"] is False, again
    assert set(item["action"] for item in again["containers"].values()) == {"none"}
    assert again["containers"][specs[0]["name"]]["id"] == made.id

    client.containers.get(specs[1]["name"]).stop(timeout=1)
    changed = _specs(label, ["a", "b", "c"])
    changed[2]["labels"]["org.clarafl.config"] = "h2"
    third = _run(capsys, changed, diff=True)
    actions = dict((name, item["action"]) for name, item in third["containers"].items())
    assert actions == {specs[0]["name"]: "none", specs[1]["name"]: "start", specs[2]["name"]: "recreate"}
    assert client.containers.get(specs[1]["name"]).status == "running"
    replaced = client.containers.get(specs[2]["name"])
    assert replaced.attrs["Config"]["Labels"]["org.clarafl.config"] == "h2"
    assert third["containers"][specs[2]["name"]]["id"] == replaced.id
    assert third["diff"]["before"][specs[1]["name"]]["state"] == "stopped"
    assert third["diff"]["after"][specs[2]["name"]]["labels"]["org.clarafl.config"] == "h2"


def test_the_server_and_console_settings_reach_the_engine(engine, capsys):
    # The shapes of the FL server's and the admin console's containers (the roles' vars/main.yml):
    # host network and IPC, shared memory, a stack limit, a hosts entry for the server's name.
    client, label = engine
    server = _specs(label, ["server"], network_mode="host", ipc_mode="host", shm_size="1g",
                    ulimits=["stack:67108864:67108864"])[0]
    server["labels"]["org.clarafl.kit"] = "k1"
    console = _specs(label, ["admin"], command=["sleep", "infinity"], network_mode="host",
                     etc_hosts={"fl-server.example": "10.147.17.2"}, ulimits=[], tmpfs=[])[0]
    first = _run(capsys, [server, console])
    assert first["changed"] is True and not first.get("failed"), first
    host = client.containers.get(server["name"]).attrs["HostConfig"]
    assert host["NetworkMode"] == "host" and host["IpcMode"] == "host"
    assert host["ShmSize"] == 1024 ** 3
    assert host["Ulimits"] == [{"Name": "stack", "Soft": 67108864, "Hard": 67108864}]
    made = client.containers.get(console["name"])
    assert made.attrs["HostConfig"]["ExtraHosts"] == ["fl-server.example:10.147.17.2"]
    assert made.attrs["Config"]["Cmd"] == ["sleep", "infinity"] and made.attrs["HostConfig"]["Init"] is True

    again = _run(capsys, [server, console])
    assert again["changed"] is False, again
    # A new kit (re-provisioning) replaces the server and leaves the console alone.
    server["labels"]["org.clarafl.kit"] = "k2"
    third = _run(capsys, [server, console])
    assert third["containers"][server["name"]]["action"] == "recreate"
    assert third["containers"][console["name"]]["action"] == "none"
    assert client.containers.get(server["name"]).attrs["Config"]["Labels"]["org.clarafl.kit"] == "k2"


def test_check_mode_changes_nothing(engine, capsys):
    client, label = engine
    specs = _specs(label, ["a", "b"])
    result = _run(capsys, specs, check_mode=True)
    assert result["changed"] is True
    assert [item["action"] for item in result["containers"].values()] == ["create", "create"]
    assert client.containers.list(all=True, filters={"label": "org.clarafl.test=%s" % label}) == []


def test_a_missing_image_stops_before_any_change(engine, capsys):
    client, label = engine
    specs = _specs(label, ["a"]) + _specs(label, ["b"], image="clarafl/no-such-image:0")
    result = _run(capsys, specs)
    assert result["failed"] is True
    assert "clarafl/no-such-image:0 is not on this host" in result["msg"] and "clara_image" in result["msg"]
    assert client.containers.list(all=True, filters={"label": "org.clarafl.test=%s" % label}) == []


def test_a_bad_setting_stops_before_any_change(engine, capsys):
    client, label = engine
    specs = _specs(label, ["a"]) + _specs(label, ["b"], ulimits=["memlock:lots"])
    result = _run(capsys, specs)
    assert result["failed"] is True and "memlock:lots" in result["msg"], result
    assert client.containers.list(all=True, filters={"label": "org.clarafl.test=%s" % label}) == []


def test_an_engine_refusal_names_the_container_and_the_others_run(engine, capsys):
    client, label = engine
    good = _specs(label, ["a"])
    # A bind mount of a relative path: the engine refuses it when the container is created.
    bad = _specs(label, ["b"], volumes=["relative/dir:/data"])
    result = _run(capsys, good + bad)
    assert result["failed"] is True
    assert "refused 1 of 2" in result["msg"] and bad[0]["name"] + " (create)" in result["msg"], result["msg"]
    assert result["containers"][good[0]["name"]]["action"] == "create"
    assert client.containers.get(good[0]["name"]).status == "running"


def test_parallel_must_be_positive(engine, capsys):
    _client, label = engine
    result = _run(capsys, _specs(label, ["a"]), args={"parallel": 0})
    assert result["failed"] is True and "parallel" in result["msg"]


def test_a_memlock_the_engine_cannot_grant_stops_before_any_change(engine, capsys, tmp_path, monkeypatch):
    # The Docker engine's limits, as a fake /proc with a dockerd allowed to lock 8 MiB (as on the CI machines).
    from ansible_collections.clarafl.federation.plugins.module_utils import containers

    proc = tmp_path / "proc" / "4242"
    proc.mkdir(parents=True)
    (proc / "comm").write_text(u"dockerd\n")
    (proc / "limits").write_text(u"Limit                     Soft Limit           Hard Limit           Units\n"
                                 u"Max locked memory         8388608              8388608              bytes\n")
    monkeypatch.setattr(containers, "PROC", str(tmp_path / "proc"))
    client, label = engine
    specs = _specs(label, ["a"]) + _specs(label, ["server"], ulimits=["memlock:-1:-1"])
    specs[1]["labels"]["org.clarafl.component"] = "server"
    result = _run(capsys, specs)
    assert result["failed"] is True and result["containers"] == {}
    assert result["msg"].startswith("Container %s asks for memlock:-1:-1 (lock unlimited of memory) in "
                                    "fl_server_ulimits, but the Docker engine on this machine may lock at most "
                                    "8388608 bytes" % specs[1]["name"]), result["msg"]
    assert "LimitMEMLOCK=infinity" in result["msg"]
    assert client.containers.list(all=True, filters={"label": "org.clarafl.test=%s" % label}) == []
    # without memlock the same machine runs the container (the engine's limit is not read for it)
    result = _run(capsys, specs[:1])
    assert result["changed"] is True and not result.get("failed"), result


# A kit whose sub_start.sh has the Clara 4.0 start line, with a stand-in engine that prints and waits.
STAND_IN_SCRIPT = """#!/usr/bin/env bash
DIR="$( cd "$( dirname "${BASH_SOURCE[0]}" )" >/dev/null 2>&1 && pwd )"
mkdir -p $DIR/../transfer
((python3 -u $DIR/engine.py -m $DIR/.. 2>&1 & echo $! >&3 ) 3>$DIR/../pid.fl | tee -a $DIR/../log.txt &)
"""
STAND_IN_ENGINE = "import os, time\nprint('stand-in engine', os.getpid(), flush=True)\ntime.sleep(300)\n"


def test_the_engine_supervisor_is_put_on_the_host_and_runs_read_only_in_the_container(engine, capsys, tmp_path):
    client, label = engine
    kit = tmp_path / "kit"
    (kit / "startup").mkdir(parents=True)
    (kit / "startup" / "sub_start.sh").write_text(STAND_IN_SCRIPT)
    (kit / "startup" / "engine.py").write_text(STAND_IN_ENGINE)
    folder = str(tmp_path / ".engine")
    config = federation.engine_container({"image": IMAGE, "init": True, "volumes": ["%s:/workspace/site" % kit],
                                          "labels": {"org.clarafl.test": label}}, "collection", "/workspace/site",
                                         folder)
    spec = dict(config, name="%s-site" % label)
    preview = _run(capsys, [spec], args={"supervisor_dir": folder}, check_mode=True)
    assert preview["changed"] is True and preview["supervisor"]["changed"] is True and not os.path.exists(folder)
    first = _run(capsys, [spec], args={"supervisor_dir": folder})
    assert first["supervisor"] == {"path": folder + "/engine_supervisor.py", "changed": True}, first
    deadline = time.time() + 20
    while time.time() < deadline and "stand-in engine" not in ((kit / "log.txt").read_text()
                                                               if (kit / "log.txt").exists() else ""):
        time.sleep(0.2)
    made = client.containers.get(spec["name"])
    assert "stand-in engine" in (kit / "log.txt").read_text(), made.logs().decode("utf-8", "replace")
    assert "engine_supervisor: started the engine (first start)" in made.logs().decode("utf-8", "replace")
    assert (kit / "pid.fl").exists() and (kit / "daemon_pid.fl").exists()
    mounts = dict((m["Destination"], m) for m in made.attrs["Mounts"])
    assert mounts["/opt/clarafl-engine"]["Source"] == folder and mounts["/opt/clarafl-engine"]["RW"] is False
    assert made.attrs["Config"]["Labels"]["org.clarafl.supervisor"] == config["labels"]["org.clarafl.supervisor"]
    again = _run(capsys, [spec], args={"supervisor_dir": folder})
    assert again["changed"] is False and again["supervisor"]["changed"] is False
    # docker stop: the supervisor ends the engine and itself at once (no 10 s wait for Docker's kill).
    started = time.time()
    made.stop(timeout=10)
    assert time.time() - started < 8
    assert not (kit / "pid.fl").exists()
