# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of finding and ending a federation's engine processes (a fake /proc, and real processes)."""

from __future__ import absolute_import, division, print_function

import os
import subprocess
import time

import pytest

from ansible_collections.clarafl.federation.plugins.module_utils import engine_processes as ep

CID_A = "a" * 64
CID_B = "b" * 64


def fake_proc(tmp_path, procs):
    root = tmp_path / "proc"
    root.mkdir()
    for pid, (cmdline, cgroup, cwd) in procs.items():
        d = root / str(pid)
        d.mkdir()
        (d / "cmdline").write_bytes(cmdline.replace(" ", "\0").encode() + b"\0" if cmdline else b"")
        (d / "cgroup").write_text(cgroup)
        if cwd:
            os.symlink(cwd, str(d / "cwd"))
    (root / "self").mkdir()
    return str(root)


@pytest.mark.parametrize("text,cid", [
    ("0::/system.slice/docker-%s.scope\n" % CID_A, CID_A),
    ("12:memory:/docker/%s\n1:name=systemd:/docker/%s\n" % (CID_B, CID_B), CID_B),
    ("0::/../%s\n" % CID_A, CID_A),  # cgroup namespace of a nested engine
    ("0::/user.slice/user-0.slice/session-1.scope\n", None),
    ("", None),
])
def test_container_of(text, cid):
    assert ep.container_of(text) == cid


def test_only_this_federations_engine_processes(tmp_path):
    root = fake_proc(tmp_path, {
        10: ("python3 -u -m nvflare.private.fed.app.client.client_train -m /workspace/site/startup/..",
             "0::/system.slice/docker-%s.scope\n" % CID_A, "/workspace/site/startup"),
        11: ("python -m nvflare.private.fed.app.server.server_train -m /workspace/server/startup/..",
             "0::/system.slice/docker-%s.scope\n" % CID_B, "/workspace/server/startup"),  # another federation
        12: ("bash ./sub_start.sh", "0::/user.slice\n", "/opt/clarafl/p/org2/startup"),  # started by hand
        13: ("bash ./sub_start.sh", "0::/user.slice\n", "/opt/clarafl/other/org2/startup"),  # other kit root
        14: ("sleep infinity", "0::/system.slice/docker-%s.scope\n" % CID_A, "/"),  # not the engine
        15: ("python3 -m nvflare.private.fed.app.client.client_train -m /opt/clarafl/p/org1-a/startup/..",
             "0::/user.slice\n", "/root"),  # kit root only on the command line
        16: ("", "", None),  # kernel thread
        17: ("python3 -m nvflare.private.fed.app.client.client_train", "0::/user.slice\n", "/opt/clarafl/pp/x"),
        # the collection's engine supervisor, in this federation's container and in another's
        18: ("python3 /opt/clarafl-engine/engine_supervisor.py /workspace/site",
             "0::/system.slice/docker-%s.scope\n" % CID_A, "/"),
        19: ("python3 /opt/clarafl-engine/engine_supervisor.py /workspace/server",
             "0::/system.slice/docker-%s.scope\n" % CID_B, "/"),
    })
    found = ep.federation_processes(ep.list_processes(root), containers=[CID_A[:12]], kit_roots=["/opt/clarafl/p/"])
    assert [p.pid for p in found] == [10, 12, 15, 18]
    assert found[0].container == CID_A and found[1].container is None
    assert found[1].as_dict() == {"pid": 12, "cmdline": "bash ./sub_start.sh", "container": None,
                                  "cwd": "/opt/clarafl/p/org2/startup"}


def test_nothing_asked_nothing_found(tmp_path):
    root = fake_proc(tmp_path, {20: ("bash ./sub_start.sh", "0::/user.slice\n", "/opt/clarafl/p")})
    assert ep.federation_processes(ep.list_processes(root)) == []


def test_missing_proc_root(tmp_path):
    assert ep.list_processes(str(tmp_path / "nope")) == []


def test_real_process_from_a_kit_is_found_and_ended(tmp_path):
    kit = tmp_path / "kits" / "org1-a" / "startup"
    kit.mkdir(parents=True)
    # exec -a gives the process the engine's command line; it ignores SIGTERM like a stuck trainer.
    proc = subprocess.Popen(["bash", "-c", "trap '' TERM; exec -a 'python3 -m nvflare.private.fed.app.client.client_train'"
                             " sleep 300"], cwd=str(kit))
    try:
        deadline = time.time() + 10
        found = []
        while time.time() < deadline and not found:
            found = ep.federation_processes(ep.list_processes(), kit_roots=[str(tmp_path / "kits")])
            time.sleep(0.05)
        assert [p.pid for p in found] == [proc.pid]
        assert ep.federation_processes(ep.list_processes(), kit_roots=[str(tmp_path / "elsewhere")]) == []
        start = time.time()
        left = ep.end_processes([proc.pid], timeout=0.5,
                                alive=lambda pid: proc.poll() is None)
        assert left == [] and proc.poll() is not None
        assert proc.returncode == -9  # SIGTERM was ignored: SIGKILL ended it
        assert time.time() - start < 8
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_end_processes_reports_survivors():
    sent = []
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds
    left = ep.end_processes([1, 2], timeout=0.3, kill=lambda pid, sig: sent.append((pid, sig)),
                            alive=lambda pid: pid == 2, sleep=sleep, clock=lambda: now[0])
    assert left == [2]
    assert (2, 9) in sent and (1, 15) in sent and (1, 9) not in sent
