# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rules of fl_containers: what each container needs, and the engine's create arguments."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.clarafl.federation.plugins.module_utils import containers as c

IMAGE_ID = "sha256:" + "a" * 64


def _spec(**over):
    spec = {"name": "fed-org1", "image": "clarafl/clara-train-cpu:4.0",
            "labels": {"org.clarafl.config": "h1", "org.clarafl.kit": "k1"}}
    spec.update(over)
    return spec


def _found(running=True, labels=None, image=IMAGE_ID):
    return {"Id": "c" * 64, "Image": image, "State": {"Running": running},
            "Config": {"Labels": {"org.clarafl.config": "h1", "org.clarafl.kit": "k1", "other": "x"}
                       if labels is None else labels}}


@pytest.mark.parametrize("text, expected", [
    ("memlock:-1:-1", {"name": "memlock", "soft": -1, "hard": -1}),
    ("stack:67108864:67108864", {"name": "stack", "soft": 67108864, "hard": 67108864}),
    ("nofile:1024", {"name": "nofile", "soft": 1024, "hard": 1024}),
])
def test_ulimits_read_like_docker_run(text, expected):
    assert c.parse_ulimit(text) == expected


@pytest.mark.parametrize("text", ["memlock", ":1:1", "memlock:lots", "a:1:2:3"])
def test_a_bad_ulimit_is_one_sentence(text):
    with pytest.raises(c.ContainersError, match="ulimit"):
        c.parse_ulimit(text)


def test_tmpfs_and_restart_policy():
    assert c.parse_tmpfs(["/tmp:mode=1777", "/run"]) == {"/tmp": "mode=1777", "/run": ""}
    with pytest.raises(c.ContainersError, match="absolute path"):
        c.parse_tmpfs(["tmp"])
    assert c.restart_policy("unless-stopped") == {"Name": "unless-stopped"}
    assert c.restart_policy(None) == {"Name": "no"}
    assert c.restart_policy("on-failure") == {"Name": "on-failure", "MaximumRetryCount": 0}
    with pytest.raises(c.ContainersError, match="restart_policy"):
        c.restart_policy("sometimes")


def test_create_kwargs_map_the_client_settings():
    spec = _spec(command=["bash", "-c", "exec ./sub_start.sh"], init=True,
                 volumes=["/opt/kits/org1:/workspace/site", "/data/org1:/workspace/data:ro"],
                 tmpfs=["/tmp:mode=1777"], etc_hosts={"fl-server": "10.147.17.2"},
                 device_requests=[{"driver": "nvidia", "count": -1, "device_ids": None, "capabilities": [["gpu"]]}],
                 network_mode="host", ipc_mode="host", shm_size="1g",
                 ulimits=["memlock:-1:-1"], restart_policy="unless-stopped", env={"A": 1})
    kwargs = c.create_kwargs(spec)
    assert kwargs == {
        "image": "clarafl/clara-train-cpu:4.0", "name": "fed-org1", "detach": True,
        "labels": {"org.clarafl.config": "h1", "org.clarafl.kit": "k1"},
        "restart_policy": {"Name": "unless-stopped"},
        "command": ["bash", "-c", "exec ./sub_start.sh"], "init": True, "environment": {"A": "1"},
        "volumes": ["/opt/kits/org1:/workspace/site", "/data/org1:/workspace/data:ro"],
        "tmpfs": {"/tmp": "mode=1777"}, "extra_hosts": {"fl-server": "10.147.17.2"},
        # None values are left out: the engine rejects a null DeviceIDs next to a count
        "device_requests": [{"driver": "nvidia", "count": -1, "capabilities": [["gpu"]]}],
        "network_mode": "host", "ipc_mode": "host", "shm_size": "1g",
        "ulimits": [{"name": "memlock", "soft": -1, "hard": -1}],
    }


def test_create_kwargs_map_the_server_and_console_settings():
    # The FL server's container as roles/fl_server/vars/main.yml describes it.
    server = c.create_kwargs({
        "name": "clarafl-fed-server", "image": "clarafl/clara-train-cpu:4.0",
        "command": ["bash", "-c", "cd /workspace/server/startup && exec ./sub_start.sh"], "init": True,
        "volumes": ["/opt/clarafl/fed/server:/workspace/server"], "tmpfs": ["/tmp:mode=1777"],
        "network_mode": "host", "ipc_mode": "host", "shm_size": "1g",
        "ulimits": ["memlock:-1:-1", "stack:67108864:67108864"], "restart_policy": "unless-stopped",
        "labels": {"org.clarafl.project": "fed", "org.clarafl.component": "server",
                   "org.clarafl.config": "h1", "org.clarafl.kit": "k1"}})
    assert server["ipc_mode"] == "host" and server["shm_size"] == "1g" and server["network_mode"] == "host"
    assert server["ulimits"] == [{"name": "memlock", "soft": -1, "hard": -1},
                                 {"name": "stack", "soft": 67108864, "hard": 67108864}]
    assert server["tmpfs"] == {"/tmp": "mode=1777"} and server["init"] is True
    assert server["labels"]["org.clarafl.component"] == "server"
    # The admin console's (roles/fl_admin/vars/main.yml): the server's name resolves to its address.
    console = c.create_kwargs({
        "name": "clarafl-fed-admin", "image": "clarafl/clara-train-cpu:4.0", "command": ["sleep", "infinity"],
        "init": True, "volumes": ["/opt/clarafl/fed/admin:/workspace/admin"],
        "etc_hosts": {"fl-server.example": "10.147.17.2"}, "network_mode": "host", "restart_policy": "unless-stopped",
        "labels": {"org.clarafl.component": "admin"}})
    assert console == {
        "image": "clarafl/clara-train-cpu:4.0", "name": "clarafl-fed-admin", "detach": True,
        "labels": {"org.clarafl.component": "admin"}, "restart_policy": {"Name": "unless-stopped"},
        "command": ["sleep", "infinity"], "init": True, "volumes": ["/opt/clarafl/fed/admin:/workspace/admin"],
        "extra_hosts": {"fl-server.example": "10.147.17.2"}, "network_mode": "host",
    }


def test_empty_settings_are_left_to_the_engine():
    kwargs = c.create_kwargs(_spec(command=[], volumes=[], tmpfs=[], etc_hosts={}, device_requests=[],
                                   network_mode="", ipc_mode="", shm_size="", ulimits=[]))
    assert sorted(kwargs) == ["detach", "image", "labels", "name", "restart_policy"]
    with pytest.raises(c.ContainersError, match="no image"):
        c.create_kwargs(_spec(image=""))


@pytest.mark.parametrize("found, image_id, action", [
    (None, IMAGE_ID, c.CREATE),
    (_found(), IMAGE_ID, c.NONE),
    (_found(running=False), IMAGE_ID, c.START),
    (_found(), "sha256:" + "b" * 64, c.RECREATE),  # the tag names another image now
    (_found(labels={"org.clarafl.config": "h0", "org.clarafl.kit": "k1"}), IMAGE_ID, c.RECREATE),  # settings changed
    (_found(labels={"org.clarafl.config": "h1", "org.clarafl.kit": "k0"}), IMAGE_ID, c.RECREATE),  # new kit
    (_found(labels={}), IMAGE_ID, c.RECREATE),  # made by someone else
    (_found(running=False, image="sha256:" + "b" * 64), IMAGE_ID, c.RECREATE),
])
def test_decide(found, image_id, action):
    assert c.decide(_spec(), found, image_id) == action


def test_plan_refuses_a_name_given_twice():
    with pytest.raises(c.ContainersError, match="more than once: fed-org1"):
        c.plan([_spec(), _spec()], {}, {"clarafl/clara-train-cpu:4.0": IMAGE_ID})


def test_diff_shows_only_what_changes():
    specs = [_spec(), _spec(name="fed-org2"), _spec(name="fed-org3")]
    found = {"fed-org1": _found(), "fed-org2": _found(running=False), "fed-org3": None}
    results = {"fed-org1": {"action": c.NONE}, "fed-org2": {"action": c.START}, "fed-org3": {"action": c.CREATE}}
    d = c.diff(specs, found, results)
    assert sorted(d["before"]) == ["fed-org2", "fed-org3"]
    assert d["before"]["fed-org3"] == "absent"
    assert d["before"]["fed-org2"] == {"state": "stopped", "labels": {"org.clarafl.config": "h1", "org.clarafl.kit": "k1"}}
    assert d["after"]["fed-org2"]["state"] == "running"


def test_failures_name_each_container():
    results = {"a": {"action": c.CREATE, "error": "no such driver: nvidia"}, "b": {"action": c.NONE}}
    assert c.failures(results) == ["a (create): no such driver: nvidia"]


# --- the engine's memlock limit, read from a fake /proc ------------------------------------------------------------

LIMITS = """Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max stack size            8388608              unlimited            bytes
Max locked memory         %s              %s              bytes
Max open files            1048576              1048576              files
"""


def _proc(tmp_path, processes):
    """A fake /proc: PROCESSES is [(pid, comm, starttime, memlock hard)]."""
    root = tmp_path / "proc"
    root.mkdir()
    (root / "self").mkdir()
    (root / "meminfo").write_text(u"MemTotal: 1 kB\n")
    for pid, comm, started, hard in processes:
        d = root / str(pid)
        d.mkdir()
        (d / "comm").write_text(u"%s\n" % comm)
        # the command name may hold spaces and parentheses
        (d / "stat").write_text(u"%d (%s) S 1 %d %d 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 30 0 %d 1 2\n"
                                % (pid, comm + ") x (", pid, pid, started))
        (d / "limits").write_text(LIMITS % (hard, hard))
    return str(root)


def test_the_engine_limit_is_the_oldest_dockerd_s(tmp_path):
    proc = _proc(tmp_path, [(10, "systemd", 1, "unlimited"), (700, "dockerd", 500, "65536"),
                            (80, "dockerd", 900, "unlimited"), (90, "containerd", 400, "8388608")])
    assert c.dockerd_pid(proc) == 700
    assert c.engine_memlock(proc) == 65536


def test_an_unlimited_or_invisible_engine(tmp_path):
    assert c.engine_memlock(_proc(tmp_path, [(5, "dockerd", 1, "unlimited")])) == c.UNLIMITED
    assert c.engine_memlock(str(tmp_path / "absent")) is None
    other = tmp_path / "other"
    other.mkdir()
    assert c.engine_memlock(_proc(other, [(5, "containerd", 1, "8388608")])) is None
    assert c.memlock_hard_limit("Max open files 1 1 files\n") is None


def _memlock_spec(component, ulimits):
    return _spec(name="clarafl-fed-" + component, ulimits=ulimits,
                 labels={"org.clarafl.component": component, "org.clarafl.config": "h1"})


def test_memlock_beyond_the_engine_names_the_container_and_the_variable():
    server = _memlock_spec("server", ["memlock:-1:-1", "stack:67108864:67108864"])
    problems = c.memlock_problems([(server, c.CREATE)], 8388608)
    assert problems == [
        "Container clarafl-fed-server asks for memlock:-1:-1 (lock unlimited of memory) in fl_server_ulimits, but the "
        "Docker engine on this machine may lock at most 8388608 bytes, so the container could not start: raise the "
        "engine's limit (LimitMEMLOCK=infinity for docker.service, then restart Docker) or drop memlock from "
        "fl_server_ulimits."]
    client = _memlock_spec("client", ["memlock:16777216"])
    assert "fl_client_ulimits" in c.memlock_problems([(client, c.START)], 8388608)[0]
    assert "(lock 16777216 bytes of memory)" in c.memlock_problems([(client, c.START)], 8388608)[0]
    bare = _spec(ulimits=["memlock:-1:-1"])
    assert "in its ulimits" in c.memlock_problems([(bare, c.RECREATE)], 8388608)[0]


@pytest.mark.parametrize("steps, engine_hard", [
    ([(_memlock_spec("server", ["memlock:-1:-1"]), c.NONE)], 8388608),     # left alone: not looked at
    ([(_memlock_spec("server", ["memlock:-1:-1"]), c.CREATE)], c.UNLIMITED),
    ([(_memlock_spec("server", ["memlock:-1:-1"]), c.CREATE)], None),      # dockerd not visible: skipped
    ([(_memlock_spec("server", ["memlock:4096:8388608"]), c.CREATE)], 8388608),
    ([(_memlock_spec("server", ["stack:-1:-1"]), c.CREATE)], 8388608),
])
def test_memlock_the_engine_can_grant_is_no_problem(steps, engine_hard):
    assert c.memlock_problems(steps, engine_hard) == []


class _Api(object):
    def __init__(self, found):
        self.found = found
        self.changes = []

    def inspect_image(self, image):
        return {"Id": IMAGE_ID}

    def inspect_container(self, name):
        if name not in self.found:
            raise c.NotFound("no such container")
        return self.found[name]

    def start(self, name):
        self.changes.append(("start", name))

    def remove_container(self, name, force=False):
        self.changes.append(("remove", name))


class _Client(object):
    def __init__(self, found):
        self.api = _Api(found)


def test_run_refuses_before_any_change_and_reads_the_engine_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.setattr(c, "PROC", _proc(tmp_path, [(42, "dockerd", 7, "8388608")]))
    client = _Client({"clarafl-fed-org1": _found(running=False, labels={"org.clarafl.component": "client",
                                                                        "org.clarafl.config": "h1"})})
    specs = [_memlock_spec("client", ["memlock:-1:-1"]), _memlock_spec("server", ["memlock:-1:-1"])]
    specs[0]["name"] = "clarafl-fed-org1"
    with pytest.raises(c.ContainersError) as err:
        c.run(lambda: client, specs, memlock_limit=c.engine_memlock)
    assert str(err.value).startswith("Container clarafl-fed-org1 asks for memlock:-1:-1 (lock unlimited of memory) "
                                     "in fl_client_ulimits")
    assert "Container clarafl-fed-server asks for memlock:-1:-1" in str(err.value)
    assert client.api.changes == []
    # check mode says so too: a real run would fail
    with pytest.raises(c.ContainersError):
        c.run(lambda: client, specs, check_mode=True, memlock_limit=c.engine_memlock)
    # a container left alone is not looked at, and the engine's limit is not read for it
    running = _Client({"clarafl-fed-server": _found(labels={"org.clarafl.component": "server",
                                                            "org.clarafl.config": "h1"})})
    reads = []
    results, _found_docs = c.run(lambda: running, specs[1:], memlock_limit=lambda: reads.append(1) or 8388608)
    assert results["clarafl-fed-server"]["action"] == c.NONE and reads == []
