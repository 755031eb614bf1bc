# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""host_check: the read-only preflight of a host (a fake /proc and passwd, and one real listening socket)."""

from __future__ import absolute_import, division, print_function

import hashlib
import json
import os
import socket

import pytest

from ansible_collections.clarafl.federation.plugins.module_utils import host_check as hc

CID_OURS = "a" * 64
CID_OTHER = "b" * 64
CGROUP_V2 = "0::/system.slice/docker-%s.scope\n"
CGROUP_V1 = "12:memory:/docker/%s\n11:pids:/docker/%s\n1:name=systemd:/docker/%s\n"
HOST_CGROUP = "0::/user.slice/user-1000.slice/session-3.scope\n"

TCP_HEADER = ("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
              "inode                                                     \n")
TCP6_HEADER = ("  sl  local_address                         remote_address                        st tx_queue "
               "rx_queue tr tm->when retrnsmt   uid  timeout inode\n")


def tcp_line(n, local, remote, state, inode, uid=0):
    """One line as the kernel writes /proc/net/tcp (local, remote: 'HEX:PORT' in the kernel's form)."""
    return ("%4d: %s %s %s 00000000:00000000 00:00000000 00000000 %5d        0 %d 1 0000000000000000 100 0 0 10 0"
            "                     \n" % (n, local, remote, state, uid, inode))


def tcp6_line(n, local, remote, state, inode, uid=0):
    return ("%4d: %s %s %s 00000000:00000000 00:00000000 00000000 %5d        0 %d 1 0000000000000000 100 0 0 10 0\n"
            % (n, local, remote, state, uid, inode))


ANY4 = "00000000"
LOOP4 = "0100007F"  # 127.0.0.1, each 32-bit word in (little-endian) host byte order
ANY6 = "0" * 32
LOOP6 = "00000000000000000000000001000000"  # ::1


def fake_proc(tmp_path, tcp=(), tcp6=None, procs=None):
    """A /proc with net/tcp{,6} and processes {pid: (cmdline, cgroup, [socket inodes])}.

    tcp6=None leaves net/tcp6 out (IPv6 off). A pid whose inode list is None has an fd folder that cannot be read.
    """
    root = tmp_path / "proc"
    (root / "net").mkdir(parents=True)
    (root / "net" / "tcp").write_text(TCP_HEADER + "".join(tcp))
    if tcp6 is not None:
        (root / "net" / "tcp6").write_text(TCP6_HEADER + "".join(tcp6))
    for pid, (cmdline, cgroup, inodes) in (procs or {}).items():
        d = root / str(pid)
        d.mkdir()
        (d / "cmdline").write_bytes(cmdline.replace(" ", "\0").encode() + b"\0" if cmdline else b"")
        (d / "cgroup").write_text(cgroup)
        if inodes is None:
            continue  # no fd folder: as unreadable as another user's without root
        (d / "fd").mkdir()
        os.symlink("/dev/null", str(d / "fd" / "0"))
        os.symlink("pipe:[999]", str(d / "fd" / "1"))
        for i, inode in enumerate(inodes):
            os.symlink("socket:[%d]" % inode, str(d / "fd" / str(3 + i)))
    (root / "self").mkdir()
    return str(root)


def ports(*items):
    return [{"port": port, "name": name, "needed_by": "the FL server"} for port, name in items]


FED = ports((8002, "fl_fed_learn_port"), (8003, "fl_admin_port"))


def check_ports(root, port_items=FED, allowed=()):
    listeners, unreadable = hc.port_listeners([p["port"] for p in port_items], allowed, root)
    return listeners, hc.port_problems(port_items, listeners, unreadable)


# --- ports ----------------------------------------------------------------------------------------

def test_parse_net_tcp_kernel_format():
    text = TCP_HEADER + tcp_line(0, ANY4 + ":1F42", ANY4 + ":0000", "0A", 23456) \
        + tcp_line(1, LOOP4 + ":0016", ANY4 + ":0000", "0A", 23457) \
        + tcp_line(2, LOOP4 + ":1F42", "0100007F:D5C4", "01", 23458)
    assert hc.parse_net_tcp(text) == [(8002, "0.0.0.0", 23456), (22, "127.0.0.1", 23457)]
    text6 = TCP6_HEADER + tcp6_line(0, LOOP6 + ":1F43", ANY6 + ":0000", "0A", 555) + "garbage line\n"
    assert hc.parse_net_tcp(text6) == [(8003, "::1", 555)]


def test_free_ports(tmp_path):
    root = fake_proc(tmp_path, tcp=[tcp_line(0, ANY4 + ":0016", ANY4 + ":0000", "0A", 100)], tcp6=[],
                     procs={1: ("/sbin/init", HOST_CGROUP, [5]), 50: ("sshd -D", HOST_CGROUP, [100])})
    assert check_ports(root) == ([], [])


def test_port_held_by_allowed_container_v2(tmp_path):
    root = fake_proc(tmp_path, tcp=[tcp_line(0, ANY4 + ":1F42", ANY4 + ":0000", "0A", 200),
                                    tcp_line(1, ANY4 + ":1F43", ANY4 + ":0000", "0A", 201)],
                     procs={300: ("python3 -u -m nvflare.private.fed.app.server.server_train -m /workspace",
                                  CGROUP_V2 % CID_OURS, [200, 201])})
    listeners, problems = check_ports(root, allowed=[CID_OURS[:12].upper()])
    assert problems == []
    assert listeners == [
        {"port": 8002, "address": "0.0.0.0", "pid": 300, "ours": True, "container": CID_OURS,
         "cmdline": "python3 -u -m nvflare.private.fed.app.server.server_train -m /workspace"},
        {"port": 8003, "address": "0.0.0.0", "pid": 300, "ours": True, "container": CID_OURS,
         "cmdline": "python3 -u -m nvflare.private.fed.app.server.server_train -m /workspace"},
    ]


def test_port_held_by_allowed_container_v1(tmp_path):
    root = fake_proc(tmp_path, tcp=[tcp_line(0, ANY4 + ":1F42", ANY4 + ":0000", "0A", 200)],
                     procs={300: ("python3 -m nvflare.private.fed.app.server.server_train",
                                  CGROUP_V1 % (CID_OURS, CID_OURS, CID_OURS), [200])})
    listeners, problems = check_ports(root, allowed=[CID_OURS])
    assert problems == [] and [x["ours"] for x in listeners] == [True]


def test_port_held_by_foreign_process(tmp_path):
    root = fake_proc(tmp_path, tcp=[tcp_line(0, ANY4 + ":1F42", ANY4 + ":0000", "0A", 200)],
                     procs={1234: ("python3 -m http.server 8002", HOST_CGROUP, [200])})
    listeners, problems = check_ports(root, allowed=[CID_OURS])
    assert problems == ["port 8002 is already in use on this host by pid 1234 (python3 -m http.server 8002); the FL "
                        "server needs it: stop that process or choose another fl_fed_learn_port"]
    assert listeners == [{"port": 8002, "address": "0.0.0.0", "pid": 1234, "cmdline": "python3 -m http.server 8002",
                          "container": None, "ours": False}]


def test_port_held_by_another_container(tmp_path):
    """Another federation's server (another container) is as foreign as a process on the host."""
    root = fake_proc(tmp_path, tcp=[tcp_line(0, ANY4 + ":1F43", ANY4 + ":0000", "0A", 200)],
                     procs={77: ("python3 -m nvflare.private.fed.app.server.server_train", CGROUP_V2 % CID_OTHER,
                                 [200])})
    listeners, problems = check_ports(root, allowed=[CID_OURS])
    assert problems == ["port 8003 is already in use on this host by pid 77 (python3 -m nvflare.private.fed.app."
                        "server.server_train); the FL server needs it: stop that process or choose another "
                        "fl_admin_port"]
    assert listeners[0]["container"] == CID_OTHER and listeners[0]["ours"] is False


def test_tcp6_listener(tmp_path):
    root = fake_proc(tmp_path, tcp=[], tcp6=[tcp6_line(0, ANY6 + ":1F42", ANY6 + ":0000", "0A", 400),
                                             tcp6_line(1, LOOP6 + ":1F43", ANY6 + ":0000", "0A", 401)],
                     procs={10: ("nginx: master process", HOST_CGROUP, [400]),
                            11: ("nginx: worker process", HOST_CGROUP, [400]),
                            12: ("ssh -L 8003:db:5432 jump", HOST_CGROUP, [401])})
    listeners, problems = check_ports(root)
    assert [(x["port"], x["address"], x["pid"]) for x in listeners] == [(8002, "::", 10), (8002, "::", 11),
                                                                        (8003, "::1", 12)]
    assert problems == [
        "port 8002 is already in use on this host by pid 10 (nginx: master process), pid 11 (nginx: worker process); "
        "the FL server needs it: stop that process or choose another fl_fed_learn_port",
        "port 8003 is already in use on this host by pid 12 (ssh -L 8003:db:5432 jump); the FL server needs it: "
        "stop that process or choose another fl_admin_port",
    ]


def test_non_listen_states_ignored(tmp_path):
    # ESTABLISHED (01), TIME_WAIT (06), CLOSE_WAIT (08) on 8002 and 8003 do not stop a server binding them.
    root = fake_proc(tmp_path, tcp=[tcp_line(0, LOOP4 + ":1F42", LOOP4 + ":D5C4", "01", 500),
                                    tcp_line(1, LOOP4 + ":1F43", LOOP4 + ":D5C5", "06", 0),
                                    tcp_line(2, ANY4 + ":1F42", LOOP4 + ":D5C6", "08", 501)],
                     tcp6=[tcp6_line(0, LOOP6 + ":1F43", LOOP6 + ":D5C7", "01", 502)],
                     procs={20: ("python3 client.py", HOST_CGROUP, [500, 501, 502])})
    assert check_ports(root) == ([], [])


def test_unresolvable_owner(tmp_path):
    # The socket's holder is another user's process (its fd folder cannot be read) or in another pid namespace.
    root = fake_proc(tmp_path, tcp=[tcp_line(0, ANY4 + ":1F42", ANY4 + ":0000", "0A", 600, uid=999)],
                     procs={30: ("postgres", HOST_CGROUP, None)})
    listeners, problems = check_ports(root, allowed=[CID_OURS])
    assert listeners == [{"port": 8002, "address": "0.0.0.0", "pid": None, "cmdline": None, "container": None,
                          "ours": False}]
    assert problems == ["port 8002 is already in use on this host by a process this check cannot see (run the check "
                        "as root, or look at 'ss -ltnp sport = :8002'); the FL server needs it: stop that process or "
                        "choose another fl_fed_learn_port"]


def test_same_port_twice(tmp_path):
    root = fake_proc(tmp_path, tcp=[])
    _listeners, problems = check_ports(root, ports((8002, "fl_fed_learn_port"), (8002, "fl_admin_port")))
    assert problems == ["fl_fed_learn_port and fl_admin_port are both 8002 on this host: each needs a port of its own"]


def test_no_proc_net(tmp_path):
    root = str(tmp_path / "nothing")
    _listeners, problems = check_ports(root)
    assert len(problems) == 1 and problems[0].startswith("the ports this host needs cannot be checked: ")
    assert "net/tcp" in problems[0]


def test_real_listening_socket_is_found():
    """A socket this test opens on 127.0.0.1 is found in the real /proc, held by this very process."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        listeners, unreadable = hc.port_listeners([port])
        assert unreadable == []
        mine = [x for x in listeners if x["pid"] == os.getpid()]
        assert mine and mine[0]["port"] == port and mine[0]["address"] == "127.0.0.1"
        assert mine[0]["ours"] is False and mine[0]["cmdline"]
        problems = hc.port_problems(ports((port, "fl_fed_learn_port")), listeners)
        assert problems == ["port %d is already in use on this host by pid %d (%s); the FL server needs it: stop "
                            "that process or choose another fl_fed_learn_port"
                            % (port, os.getpid(), hc._shorten(mine[0]["cmdline"]))]
    finally:
        sock.close()
    # Closed: the port is free again.
    assert hc.port_listeners([port])[0] == []


# --- the kit root ---------------------------------------------------------------------------------

PASSWD = [("root", "/root"), ("daemon", "/usr/sbin"), ("nobody", "/nonexistent"), ("alice", "/home/alice"),
          ("bob", "/home/bob/"), ("postgres", "/var/lib/postgresql"), ("svc", "relative"),
          ("pg2", "/srv/data/postgresql")]


@pytest.mark.parametrize("kit_root,reason", [
    ("/", "fl_kit_root / is the root folder"),
    ("/opt", "fl_kit_root /opt is a top-level system folder"),
    ("/opt/", "fl_kit_root /opt is a top-level system folder"),
    ("//srv//", "fl_kit_root /srv is a top-level system folder"),
    ("/opt/clarafl/..", "fl_kit_root /opt is a top-level system folder"),
    ("/home/alice", "fl_kit_root /home/alice is the home directory of user alice"),
    ("/home/bob", "fl_kit_root /home/bob is the home directory of user bob"),
    ("/root", "fl_kit_root /root is the home directory of user root"),
    ("/usr/sbin", "fl_kit_root /usr/sbin is the home directory of user daemon"),
    ("/var/lib", "fl_kit_root /var/lib is a system folder (in /var)"),
    ("/var/lib/pg", "fl_kit_root /var/lib/pg is a system folder (in /var/lib)"),
    ("/srv/data", "fl_kit_root /srv/data holds the home directory of user pg2 (/srv/data/postgresql)"),
    ("/usr/local", "fl_kit_root /usr/local is a system folder (in /usr)"),
    ("/usr/local/bin", "fl_kit_root /usr/local/bin is a system folder (in /usr)"),
    ("/etc/clarafl", "fl_kit_root /etc/clarafl is a system folder (in /etc)"),
    ("/var/tmp", "fl_kit_root /var/tmp is a system folder (in /var)"),
])
def test_protected_kit_roots(kit_root, reason):
    problems, _facts = hc.kit_root_facts(kit_root, "p1", passwd=PASSWD)
    assert problems[0] == reason + ": the collection keeps each project in its own folder (e.g. /opt/clarafl/p1)"


def test_root_is_protected_without_a_passwd_entry():
    problems, _facts = hc.kit_root_facts("/root", "p1", passwd=[])
    assert problems[0].startswith("fl_kit_root /root is the home directory of user root:")


@pytest.mark.parametrize("kit_root", ["/opt/clarafl/p1", "/home/alice/kits/p1", "/srv/fl/p1/", "/var/lib/clarafl/p1",
                                      "/opt/p1"])
def test_fine_kit_roots(kit_root):
    assert hc.kit_root_facts(kit_root, "p1", passwd=PASSWD)[0] == []


def test_real_passwd_has_root():
    assert "root" in hc.passwd_homes()["/root"]


def test_link_to_a_home_is_protected(tmp_path):
    home = tmp_path / "home" / "carol"
    home.mkdir(parents=True)
    os.symlink(str(home), str(tmp_path / "kits"))
    problems, _facts = hc.kit_root_facts(str(tmp_path / "kits"), "p1", passwd=[("carol", str(home))])
    assert problems == ["fl_kit_root %s leads to %s, which is the home directory of user carol: the collection keeps "
                        "each project in its own folder (e.g. /opt/clarafl/p1)" % (tmp_path / "kits", home)]


def test_relative_kit_root():
    problems, facts = hc.kit_root_facts("kits", "p1", passwd=PASSWD)
    assert problems == ["fl_kit_root must be an absolute path (it is 'kits'): a relative path would put private keys "
                        "wherever ansible-playbook runs from."]
    assert facts["kit_root_exists"] is False


def test_no_kit_root_given():
    assert hc.kit_root_facts(None, "p1") == ([], {"kit_root_exists": False, "kit_root_marker": None,
                                                  "kit_root_created_by_collection": False,
                                                  "kit_root_foreign_entries": []})


def test_missing_kit_root(tmp_path):
    problems, facts = hc.kit_root_facts(str(tmp_path / "kits" / "p1"), "p1", passwd=PASSWD)
    assert problems == [] and facts["kit_root_exists"] is False and facts["kit_root_marker"] is None


def write_marker(kit_root, content):
    kit_root.mkdir(parents=True, exist_ok=True)
    (kit_root / ".clarafl-project").write_text(content if isinstance(content, str) else json.dumps(content))


def test_marker_of_the_same_project(tmp_path):
    root = tmp_path / "p1"
    marker = {"project": "p1", "created": True, "created_at": "2026-01-05T10:00:00Z",
              "entries": [".kits", "org1-a", "server"]}
    write_marker(root, marker)
    for name in ("server", "org1-a", ".kits"):
        (root / name).mkdir()
    problems, facts = hc.kit_root_facts(str(root), "p1", ["server", "org1-a", "admin", ".kits"], passwd=PASSWD)
    assert problems == []
    assert facts == {"kit_root_exists": True, "kit_root_marker": marker, "kit_root_created_by_collection": True,
                     "kit_root_foreign_entries": []}


def test_marker_of_the_same_project_not_created(tmp_path):
    root = tmp_path / "shared"
    write_marker(root, {"project": "p1", "created": False})
    (root / "notes.txt").write_text("mine")
    problems, facts = hc.kit_root_facts(str(root), "p1", ["server"], passwd=PASSWD)
    assert problems == [] and facts["kit_root_created_by_collection"] is False
    assert facts["kit_root_foreign_entries"] == ["notes.txt"]


def test_marker_of_another_project(tmp_path):
    root = tmp_path / "kits"
    write_marker(root, {"project": "other", "created": True})
    problems, facts = hc.kit_root_facts(str(root) + "/", "p1", passwd=PASSWD)
    assert problems == ["fl_kit_root %s belongs to project other (%s/.clarafl-project): give project p1 its own kit "
                        "root" % (root, root)]
    assert facts["kit_root_marker"] == {"project": "other", "created": True}


@pytest.mark.parametrize("content,why", [
    ("{not json", "it is not JSON: "),
    ("[\"p1\"]", "it is not a JSON object"),
    ("{\"created\": true}", "it names no project"),
    ("", "it is not JSON: "),
])
def test_garbled_marker(tmp_path, content, why):
    root = tmp_path / "kits"
    write_marker(root, content)
    problems, facts = hc.kit_root_facts(str(root), "p1", passwd=PASSWD)
    assert len(problems) == 1
    assert problems[0].startswith("fl_kit_root %s has an owner marker %s/.clarafl-project that cannot be read (%s"
                                  % (root, root, why))
    assert problems[0].endswith("): if the folder is project p1's, replace the file with {\"project\": \"p1\", "
                                "\"created\": false}; otherwise give project p1 its own kit root")
    assert facts["kit_root_marker"] is None and facts["kit_root_created_by_collection"] is False


def test_marker_that_is_a_folder(tmp_path):
    root = tmp_path / "kits"
    (root / ".clarafl-project").mkdir(parents=True)
    problems, _facts = hc.kit_root_facts(str(root), "p1", passwd=PASSWD)
    assert len(problems) == 1 and "that cannot be read (Is a directory)" in problems[0]


def test_foreign_entries(tmp_path):
    root = tmp_path / "shared"
    for name in ("backup.tar", ".cache"):
        (root / name).mkdir(parents=True)
    problems, facts = hc.kit_root_facts(str(root), "p1", ["server", "org1-a", "admin", ".kits"], passwd=PASSWD)
    assert problems == []
    assert facts == {"kit_root_exists": True, "kit_root_marker": None, "kit_root_created_by_collection": False,
                     "kit_root_foreign_entries": [".cache", "backup.tar"]}


def test_a_users_entries_named_like_kits_are_refused(tmp_path):
    root = tmp_path / "shared"
    (root / "org1-a").mkdir(parents=True)
    (root / "server").write_text("the user's")
    problems, _facts = hc.kit_root_facts(str(root), "p1", ["server", "org1-a", "admin", ".kits"], passwd=PASSWD)
    assert problems == ["fl_kit_root %s holds org1-a, server, which project p1 did not make (the folder has no record "
                        "of this project): move them away, or give the project a kit root of its own (e.g. "
                        "/opt/clarafl/p1)" % root]
    write_marker(root, {"project": "p1", "created": False, "entries": ["org1-a"]})
    problems, _facts = hc.kit_root_facts(str(root), "p1", ["server", "org1-a", "admin", ".kits"], passwd=PASSWD)
    assert problems == ["fl_kit_root %s holds server, which project p1 did not make (its record %s/.clarafl-project "
                        "does not name it): move it away, or give the project a kit root of its own (e.g. "
                        "/opt/clarafl/p1)" % (root, root)]


def test_a_marker_without_a_record_is_read_by_the_extraction_records(tmp_path):
    root = tmp_path / "kits"
    write_marker(root, {"project": "p1", "created": True})
    for name in ("server", "org1-a", ".kits"):
        (root / name).mkdir()
    (root / ".kits" / "server.zip.extracted").write_text("x")
    problems, _facts = hc.kit_root_facts(str(root), "p1", ["server", "org1-a", ".kits"], passwd=PASSWD)
    assert len(problems) == 1 and " holds org1-a, which project p1 did not make" in problems[0]


def test_empty_kit_root(tmp_path):
    problems, facts = hc.kit_root_facts(str(tmp_path), "p1", passwd=PASSWD)
    assert problems == [] and facts["kit_root_exists"] is True and facts["kit_root_foreign_entries"] == []


def test_kit_root_that_is_a_file(tmp_path):
    (tmp_path / "kits").write_text("x")
    problems, facts = hc.kit_root_facts(str(tmp_path / "kits"), "p1", passwd=PASSWD)
    assert problems == ["fl_kit_root %s exists on this host and is not a folder: remove it or choose another "
                        "fl_kit_root (e.g. /opt/clarafl/p1)" % (tmp_path / "kits")]
    assert facts["kit_root_exists"] is True


# --- paths ----------------------------------------------------------------------------------------

def test_paths(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "cfg.json").write_text("{}")
    problems = hc.path_problems([
        {"path": str(tmp_path / "data"), "what": "fl_dataset_dir of org1-a", "kind": "dir"},
        {"path": str(tmp_path / "cfg.json"), "what": "config", "kind": "file"},
        {"path": str(tmp_path / "missing"), "what": "fl_dataset_dir of org1-b", "kind": "dir"},
        {"path": str(tmp_path / "cfg.json"), "what": "fl_dataset_dir of org1-c"},  # kind defaults to dir
        {"path": str(tmp_path / "data"), "what": "the MMAR archive", "kind": "file"},
        {"path": str(tmp_path / "cfg.json" / "x"), "what": "under a file", "kind": "file"},
        {"path": "data/org1-d", "what": "fl_dataset_dir of org1-d", "kind": "dir"},
        {"path": "", "what": "fl_dataset_dir of org1-e", "kind": "dir"},
    ], "gpu-node-1")
    assert problems == [
        "fl_dataset_dir of org1-b %s does not exist on this host (gpu-node-1)" % (tmp_path / "missing"),
        "fl_dataset_dir of org1-c %s is not a folder on this host (gpu-node-1)" % (tmp_path / "cfg.json"),
        "the MMAR archive %s is a folder, not a file, on this host (gpu-node-1)" % (tmp_path / "data"),
        "under a file %s does not exist on this host (gpu-node-1)" % (tmp_path / "cfg.json" / "x"),
        "fl_dataset_dir of org1-d must be an absolute path (it is 'data/org1-d')",
        "fl_dataset_dir of org1-e must be an absolute path (it is '')",
    ]


# --- everything -----------------------------------------------------------------------------------

def test_host_check_gathers_every_problem(tmp_path):
    root = fake_proc(tmp_path, tcp=[tcp_line(0, ANY4 + ":1F42", ANY4 + ":0000", "0A", 200)],
                     procs={1234: ("python3 -m http.server 8002", HOST_CGROUP, [200])})
    result = hc.host_check("p1", kit_root="/opt", kit_components=["server"],
                           paths=[{"path": str(tmp_path / "nope"), "what": "fl_dataset_dir", "kind": "dir"}],
                           ports=FED, allowed_containers=[], proc_root=root, passwd=PASSWD, hostname="h1")
    assert result["problems"] == [
        "fl_kit_root /opt is a top-level system folder: the collection keeps each project in its own folder "
        "(e.g. /opt/clarafl/p1)",
        "fl_dataset_dir %s does not exist on this host (h1)" % (tmp_path / "nope"),
        "port 8002 is already in use on this host by pid 1234 (python3 -m http.server 8002); the FL server needs it: "
        "stop that process or choose another fl_fed_learn_port",
    ]
    assert result["hostname"] == "h1" and [x["pid"] for x in result["listeners"]] == [1234]
    assert result["kit_root_exists"] is os.path.isdir("/opt")


def test_host_check_without_ports_reads_no_proc(tmp_path):
    result = hc.host_check("p1", proc_root=str(tmp_path / "no-proc"), hostname="h1")
    assert result["problems"] == [] and result["listeners"] == []


# --- GPUs ---------------------------------------------------------------------------------------------------------

SMI = (0, "GPU 0: Tesla T4 (UUID: GPU-1)\nGPU 1: Tesla T4 (UUID: GPU-2)\n", "")
ADVICE = ("install the NVIDIA driver and Container Toolkit (the docker role does with docker_nvidia: true), or set the "
          "site's gpus (fl_client_gpus) to none to train it on CPU.")


def test_gpus_that_are_there_with_the_runtime_are_fine():
    assert hc.gpu_ids(SMI[1]) == ["0", "1"]
    assert hc.gpu_problems(["a"], ["0", "1"], "m1", SMI, ["runc", "nvidia"]) == []
    assert hc.gpu_problems(["a"], "all", "m1", SMI, ["runc", "/etc/cdi/nvidia.yaml"]) == []
    assert hc.gpu_problems([], "all", "m1", (127, "", ""), "no engine") == []


@pytest.mark.parametrize("smi, devices, runtimes, what", [
    ((127, "", ""), "all", ["nvidia"], "has no NVIDIA driver (nvidia-smi is not installed)"),
    ((9, "", "NVIDIA-SMI has failed\n"), ["0"], ["nvidia"],
     "has no usable NVIDIA driver (nvidia-smi failed: NVIDIA-SMI has failed)"),
    (SMI, ["0", "3"], ["nvidia"], "has no GPU 3 (it has 0, 1)"),
    (SMI, ["0"], ["runc"], "has GPUs but its Docker engine has no nvidia runtime"),
    (SMI, ["0"], "Cannot connect", "has GPUs but its Docker engine cannot be asked for the nvidia runtime "
                                   "(Cannot connect)"),
])
def test_gpus_asked_for_but_not_usable_are_one_sentence(smi, devices, runtimes, what):
    wanted = "all" if devices == "all" else ", ".join(devices)
    assert hc.gpu_problems(["a", "b"], devices, "m1", smi, runtimes) == [
        "Site(s) a, b ask for GPUs (%s) but m1 %s: %s" % (wanted, what, ADVICE)]


# --- what the later roles of site.yml would ask again: the engine, the GPUs, the image -----------------------------

def _sys_device(root, name, vendor, klass):
    device = root / "bus" / "pci" / "devices" / name
    device.mkdir(parents=True)
    (device / "vendor").write_text(vendor + "\n")
    (device / "class").write_text(klass + "\n")


def test_the_gpu_probe_reads_the_driver_and_the_nvidia_display_controllers(tmp_path):
    proc, sys_root = tmp_path / "proc", tmp_path / "sys"
    assert hc.nvidia_probe_lines(str(proc), str(sys_root)) == []
    (proc / "driver" / "nvidia").mkdir(parents=True)
    (proc / "driver" / "nvidia" / "version").write_text("NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.54\n"
                                                         "GCC version: 12\n")
    _sys_device(sys_root, "0000:01:00.0", "0x10de", "0x030000")
    _sys_device(sys_root, "0000:02:00.0", "0x10de", "0x030200")
    _sys_device(sys_root, "0000:03:00.0", "0x10de", "0x040300")  # NVIDIA's audio function: no GPU
    _sys_device(sys_root, "0000:04:00.0", "0x8086", "0x030000")  # another vendor's display controller
    assert hc.nvidia_probe_lines(str(proc), str(sys_root)) == [
        "driver: NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.54",
        "pci: 0000:01:00.0 0x030000", "pci: 0000:02:00.0 0x030200"]


class FakeDocker(object):
    """The docker command: each argv's (rc, stdout, stderr), and the argvs it was given."""

    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def __call__(self, argv):
        self.calls.append(list(argv))
        return self.answers[argv[1]]


INFO_FORMAT = '{"version": {{json .ServerVersion}}}'


def test_the_engine_read_is_the_docker_roles_command_result(tmp_path):
    run = FakeDocker({"info": (0, '{"version": "26.1.5"}\n', "")})
    found = hc.engine_read(run, "/usr/bin/docker", INFO_FORMAT, gpus=True, proc_root=str(tmp_path), sys_root=str(tmp_path))
    assert found == {"info_format": INFO_FORMAT, "rc": 0, "stdout": '{"version": "26.1.5"}', "stderr": "", "msg": "",
                     "gpu_lines": []}
    assert run.calls == [["/usr/bin/docker", "info", "--format", INFO_FORMAT]]
    down = FakeDocker({"info": (1, "", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock.\n")})
    found = hc.engine_read(down, "/usr/bin/docker", INFO_FORMAT)
    assert (found["rc"], found["stderr"], found["gpu_lines"]) == (
        1, "Cannot connect to the Docker daemon at unix:///var/run/docker.sock.", None)
    missing = hc.engine_read(FakeDocker({}), None, INFO_FORMAT)
    assert missing["rc"] == 2 and missing["msg"] == "the docker command is not installed on this host"


def test_the_image_read_lists_the_image_and_reads_its_self_check_record(tmp_path):
    image = {"Id": "sha256:" + "4f" * 32, "RepoTags": ["clarafl/clara-train-cpu:4.0"],
             "Config": {"Labels": {"org.clarafl.build-inputs": "abc"}}}
    run = FakeDocker({"image": (0, json.dumps([image]), "")})
    found = hc.image_read(run, "/usr/bin/docker", "clarafl/clara-train-cpu:4.0", str(tmp_path))
    record = str(tmp_path / ("verified-" + "4f" * 32))
    assert found == {"name": "clarafl/clara-train-cpu:4.0", "images": [image], "msg": "",
                     "record": {"path": record, "exists": False, "checksum": None}}
    assert run.calls == [["/usr/bin/docker", "image", "inspect", "clarafl/clara-train-cpu:4.0"]]
    with open(record, "w") as fh:
        fh.write('{"image": "clarafl/clara-train-cpu:4.0"}')
    # The SHA-1 ansible.builtin.stat gives as its checksum.
    assert hc.image_read(run, "/usr/bin/docker", "x", str(tmp_path))["record"]["checksum"] == (
        hashlib.sha1(b'{"image": "clarafl/clara-train-cpu:4.0"}').hexdigest())
    assert hc.image_read(run, "/usr/bin/docker", "x")["record"] is None


@pytest.mark.parametrize("answer,images,msg", [
    ((1, "[]\n", "Error: No such image: clarafl/x:1\n"), [], ""),
    ((1, "", "Error response from daemon: No such image: clarafl/x:1\n"), [], ""),
    ((1, "", "permission denied while trying to connect to the Docker daemon socket\n"), None,
     "permission denied while trying to connect to the Docker daemon socket"),
    ((0, "not json", ""), None, "docker image inspect printed no JSON: Expecting value: line 1 column 1 (char 0)"),
    ((0, '{"Id": "x"}', ""), None, "docker image inspect printed no list of images"),
])
def test_an_image_not_there_is_none_and_an_engine_not_asked_is_unknown(answer, images, msg):
    found = hc.image_read(FakeDocker({"image": answer}), "/usr/bin/docker", "clarafl/x:1", "/nowhere")
    assert (found["images"], found["record"], found["msg"]) == (images, None, msg)
    assert hc.image_read(FakeDocker({}), None, "clarafl/x:1")["msg"] == "the docker command is not installed"
