# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only preflight checks of one host, run before the collection changes anything on it.

Each check adds a sentence to a list of problems instead of failing, so that one run can report
every problem of every host at once:

* the kit root (``fl_kit_root``): an absolute path, not a folder that teardown must never remove
  (``/``, a top-level folder, a user's home or a folder holding one), and not a folder whose owner
  marker (``<kit_root>/.clarafl-project``) names another project;
* paths (kits, datasets) that must exist as folders or files;
* TCP ports that must be free, or held by the project's own containers. Listeners are read from
  ``/proc/net/tcp`` and ``/proc/net/tcp6`` and mapped to processes through ``/proc/<pid>/fd``;
  the container a process runs in comes from engine_processes' cgroup matching;
* the GPUs the machine's sites ask for: ``nvidia-smi -L`` must list them, and the Docker engine
  must have the nvidia runtime (gpu_problems, from what the caller read).

It also reads, for the roles that follow in site.yml, what they would otherwise ask the host again: the Docker
engine's answer and the NVIDIA GPUs (docker role), the runtime image and its self-check record (clara_image role).

Reads only. The /proc root, the passwd entries and the host name are arguments so that tests can
give fake ones.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import errno
import hashlib
import json
import os
import socket
import stat
import sys

from ansible_collections.clarafl.federation.plugins.module_utils.engine_processes import (
    container_matches,
    container_of,
    list_processes,
)

MARKER_NAME = ".clarafl-project"
MARKER_MAX_BYTES = 65536
TCP_LISTEN = "0A"
_SOCKET_PREFIX = "socket:["


# --- the kit root -------------------------------------------------------------------------------

def normalise(path):
    """An absolute path without '.', '..', doubled or trailing slashes ('//opt/' -> '/opt')."""
    path = os.path.normpath(path)
    if path.startswith("//"):  # normpath keeps a leading '//' (POSIX allows it a meaning; Linux gives none)
        path = "/" + path.lstrip("/")
    return path


def passwd_homes(passwd=None):
    """{home directory: [users]} from (user, home) pairs (default: the passwd database), plus /root."""
    if passwd is None:
        import pwd  # only where it is needed: tests give their own entries
        passwd = [(entry.pw_name, entry.pw_dir) for entry in pwd.getpwall()]
    homes = {}
    for user, home in list(passwd) + [("root", "/root")]:
        if not home or not home.startswith("/"):
            continue
        users = homes.setdefault(normalise(home), [])
        if user not in users:
            users.append(user)
    return homes


def _users(users):
    return ("user " if len(users) == 1 else "users ") + ", ".join(sorted(users))


# The operating system's own trees: no folder in them is a project's kit root.
SYSTEM_TREES = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/run", "/sbin",
                "/sys", "/usr")
# System folders whose direct children are system folders too (/var/lib, /var/log, /var/lib/docker, ...); deeper
# folders may be a project's (/var/lib/<app>/<project>).
SYSTEM_PARENTS = ("/var", "/var/lib", "/var/cache", "/var/log", "/var/spool")


def system_folder_reason(path):
    """Why the absolute, normalised PATH is a system folder that must not be a kit root, or None: / and the
    top-level folders, anything in the operating system's trees (/usr, /usr/local, /etc, ...), /var and the direct
    children of its system folders (/var/lib, /var/lib/docker, ...)."""
    if path == "/":
        return "is the root folder"
    if path.count("/") == 1:
        return "is a top-level system folder"
    for tree in SYSTEM_TREES:
        if path.startswith(tree + "/"):
            return "is a system folder (in %s)" % tree
    if os.path.dirname(path) in SYSTEM_PARENTS:
        return "is a system folder (in %s)" % os.path.dirname(path)
    return None


def protected_reason(path, homes):
    """Why the absolute, normalised path must not be a kit root (teardown removes the kit root), or None."""
    if path == "/":
        return "is the root folder"
    if path in homes:
        return "is the home directory of %s" % _users(homes[path])
    reason = system_folder_reason(path)
    if reason:
        return reason
    inside = sorted(h for h in homes if h.startswith(path + "/"))
    if inside:
        return "holds the home directory of %s (%s)" % (_users(homes[inside[0]]), inside[0])
    return None


def read_marker(kit_root):
    """(marker dict or None, reason it cannot be read or None) for <kit_root>/.clarafl-project.

    (None, None) when there is no marker.
    """
    path = os.path.join(kit_root, MARKER_NAME)
    if not os.path.lexists(path):
        return None, None
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MARKER_MAX_BYTES + 1)
    except (IOError, OSError) as exc:
        return None, exc.strerror or str(exc)
    if len(raw) > MARKER_MAX_BYTES:
        return None, "it is larger than %d bytes" % MARKER_MAX_BYTES
    try:
        marker = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        return None, "it is not JSON: %s" % exc
    if not isinstance(marker, dict):
        return None, "it is not a JSON object"
    name = marker.get("project")
    if not isinstance(name, str) or not name:
        return None, "it names no project"
    return marker, None


KITS_DIR = ".kits"
DEMO_DIR = ".demo"
RECORD_SUFFIX = ".zip.extracted"
DEMO_TOOL = "demo_data.py"


def legacy_entries(path):
    """The entries of the kit root PATH that a project made before its marker recorded them, told by the records
    written at the time: a kit folder whose extraction record .kits/<zip>.extracted is there (an admin's zip is
    named after its email), .kits when it holds such a record, .demo when it holds the demo tool."""
    found = set()
    kits = os.path.join(path, KITS_DIR)
    try:
        records = [n for n in os.listdir(kits) if n.endswith(RECORD_SUFFIX)]
    except OSError:
        records = []
    if records and not os.path.islink(kits):
        found.add(KITS_DIR)
    for name in records:
        component = name[:-len(RECORD_SUFFIX)]
        component = "admin" if "@" in component else component
        target = os.path.join(path, component)
        if component and os.path.isdir(target) and not os.path.islink(target):
            found.add(component)
    demo = os.path.join(path, DEMO_DIR)
    if os.path.isdir(demo) and not os.path.islink(demo) and os.path.isfile(os.path.join(demo, DEMO_TOOL)):
        found.add(DEMO_DIR)
    return found


def recorded_entries(path, marker):
    """The names of the entries of PATH the project made, by its marker's record (or, for an older marker
    without one, by legacy_entries)."""
    if not marker:
        return set()
    entries = marker.get("entries")
    if isinstance(entries, list):
        return set(str(e) for e in entries)
    return legacy_entries(path)


def kit_root_facts(kit_root, project, kit_components=(), passwd=None):
    """Check a kit root: (problems, facts) where facts are the module's kit_root_* return values."""
    facts = dict(kit_root_exists=False, kit_root_marker=None, kit_root_created_by_collection=False,
                 kit_root_foreign_entries=[])
    problems = []
    if kit_root is None:
        return problems, facts
    example = "/opt/clarafl/%s" % project
    if not kit_root.startswith("/"):
        problems.append("fl_kit_root must be an absolute path (it is '%s'): a relative path would put private keys "
                        "wherever ansible-playbook runs from." % kit_root)
        return problems, facts
    path = normalise(kit_root)
    homes = passwd_homes(passwd)
    reason = protected_reason(path, homes)
    real = os.path.realpath(path)
    if reason is None and real != path:
        reason = protected_reason(real, homes)
        if reason is not None:
            reason = "leads to %s, which %s" % (real, reason)
    if reason is not None:
        problems.append("fl_kit_root %s %s: the collection keeps each project in its own folder (e.g. %s)"
                        % (path, reason, example))
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
            problems.append("fl_kit_root %s cannot be looked at on this host (%s): run the check as root (become)"
                            % (path, exc.strerror))
        return problems, facts
    facts["kit_root_exists"] = True
    if not stat.S_ISDIR(st.st_mode):
        problems.append("fl_kit_root %s exists on this host and is not a folder: remove it or choose another "
                        "fl_kit_root (e.g. %s)" % (path, example))
        return problems, facts
    marker, why = read_marker(path)
    marker_path = os.path.join(path, MARKER_NAME)
    if why is not None:
        problems.append("fl_kit_root %s has an owner marker %s that cannot be read (%s): if the folder is project "
                        "%s's, replace the file with {\"project\": \"%s\", \"created\": false}; otherwise give "
                        "project %s its own kit root" % (path, marker_path, why, project, project, project))
    elif marker is not None:
        facts["kit_root_marker"] = marker
        facts["kit_root_created_by_collection"] = marker.get("created") is True
        if marker["project"] != project:
            problems.append("fl_kit_root %s belongs to project %s (%s): give project %s its own kit root"
                            % (path, marker["project"], marker_path, project))
    try:
        entries = os.listdir(path)
    except OSError as exc:
        problems.append("fl_kit_root %s cannot be listed on this host (%s): run the check as root (become)"
                        % (path, exc.strerror))
        return problems, facts
    components = set(kit_components or ())
    facts["kit_root_foreign_entries"] = sorted(e for e in entries if e != MARKER_NAME and e not in components)
    # An entry with the name of one the project makes, which the project's record does not name, is the user's:
    # refused now, before the collection would write into it (or teardown remove it).
    if marker is None or marker.get("project") == project:
        ours = recorded_entries(path, marker)
        taken = sorted(e for e in entries if e in components and e not in ours)
        if taken and why is None:
            problems.append("fl_kit_root %s holds %s, which project %s did not make (%s): move %s away, or give the "
                            "project a kit root of its own (e.g. %s)"
                            % (path, ", ".join(taken), project,
                               "its record %s does not name %s" % (marker_path, "it" if len(taken) == 1 else "them")
                               if marker is not None else "the folder has no record of this project",
                               "it" if len(taken) == 1 else "them", example))
    return problems, facts


# --- paths that must exist ----------------------------------------------------------------------

def path_problems(paths, hostname):
    """Problems of paths: dicts {path, what, kind: dir|file} that must exist as that kind."""
    problems = []
    for item in paths or ():
        path, what, kind = item["path"], item["what"], item.get("kind") or "dir"
        if not path or not path.startswith("/"):
            problems.append("%s must be an absolute path (it is '%s')" % (what, path))
            continue
        try:
            st = os.stat(path)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                problems.append("%s %s does not exist on this host (%s)" % (what, path, hostname))
            else:
                problems.append("%s %s cannot be looked at on this host (%s): %s"
                                % (what, path, hostname, exc.strerror))
            continue
        is_dir = stat.S_ISDIR(st.st_mode)
        if kind == "dir" and not is_dir:
            problems.append("%s %s is not a folder on this host (%s)" % (what, path, hostname))
        elif kind == "file" and not stat.S_ISREG(st.st_mode):
            problems.append("%s %s is %s, not a file, on this host (%s)"
                            % (what, path, "a folder" if is_dir else "a special file", hostname))
    return problems


# --- ports ----------------------------------------------------------------------------------------

def _address(hex_address):
    """The text of an address as /proc/net/tcp{,6} prints it (32-bit words in host byte order)."""
    raw = binascii.unhexlify(hex_address)
    if sys.byteorder == "little":
        raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


def parse_net_tcp(text):
    """[(port, address, inode)] of the LISTEN sockets in the text of /proc/net/tcp or /proc/net/tcp6."""
    found = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[3].upper() != TCP_LISTEN:
            continue
        try:
            hex_address, hex_port = fields[1].rsplit(":", 1)
            port = int(hex_port, 16)
            inode = int(fields[9])
            address = _address(hex_address)
        except (ValueError, TypeError, binascii.Error):
            continue
        found.append((port, address, inode))
    return found


def listening_sockets(proc_root="/proc"):
    """([(port, address, inode)] of this network namespace's TCP listeners, [files that could not be read]).

    /proc/net/tcp6 is missing where IPv6 is off; that is not an error.
    """
    found, unreadable = [], []
    for name in ("tcp", "tcp6"):
        path = os.path.join(proc_root, "net", name)
        try:
            with open(path, "rb") as fh:
                text = fh.read().decode("ascii", "replace")
        except (IOError, OSError) as exc:
            if name == "tcp" or exc.errno != errno.ENOENT:
                unreadable.append("%s: %s" % (path, exc.strerror or exc))
            continue
        found.extend(parse_net_tcp(text))
    return found, unreadable


def socket_owners(inodes, proc_root="/proc"):
    """{socket inode: sorted pids holding it} for the wanted inodes, from /proc/<pid>/fd/* links 'socket:[inode]'.

    Processes whose fd folder cannot be read (other users' without root, or gone) are skipped.
    """
    wanted = set(inodes)
    owners = {}
    if not wanted:
        return owners
    try:
        names = os.listdir(proc_root)
    except OSError:
        return owners
    for name in names:
        if not name.isdigit():
            continue
        fd_dir = os.path.join(proc_root, name, "fd")
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if not target.startswith(_SOCKET_PREFIX) or not target.endswith("]"):
                continue
            try:
                inode = int(target[len(_SOCKET_PREFIX):-1])
            except ValueError:
                continue
            if inode in wanted:
                pids = owners.setdefault(inode, [])
                if int(name) not in pids:
                    pids.append(int(name))
    for pids in owners.values():
        pids.sort()
    return owners


def port_listeners(ports, allowed_containers=(), proc_root="/proc"):
    """(listeners, unreadable files): who listens on the given TCP ports, on any local address.

    listeners: dicts {port, address, pid, cmdline, container, ours}, one per socket and holding process; pid,
    cmdline and container are None for a socket whose holder this process cannot see. ours: the holder runs in one
    of allowed_containers.
    """
    wanted = set(ports)
    sockets, unreadable = listening_sockets(proc_root)
    sockets = [s for s in sockets if s[0] in wanted]
    if not sockets:
        return [], unreadable
    owners = socket_owners([s[2] for s in sockets], proc_root)
    holders = set(pid for pids in owners.values() for pid in pids)
    processes = dict((p.pid, p) for p in list_processes(proc_root) if p.pid in holders) if holders else {}
    prefixes = [c.lower() for c in allowed_containers or () if c]
    listeners, seen = [], set()
    for port, address, inode in sorted(sockets, key=lambda s: (s[0], s[1], s[2])):
        pids = owners.get(inode) or [None]
        for pid in pids:
            if (port, address, pid) in seen:
                continue
            seen.add((port, address, pid))
            proc = processes.get(pid) if pid is not None else None
            cmdline = proc.cmdline if proc is not None else ("" if pid is not None else None)
            container = proc.container if proc is not None else None
            if pid is not None and proc is None:  # vanished from list_processes or no command line: ask again
                container = container_of(_read_text(os.path.join(proc_root, str(pid), "cgroup")))
            listeners.append(dict(port=port, address=address, pid=pid, cmdline=cmdline, container=container,
                                  ours=container_matches(container, prefixes)))
    return listeners, unreadable


def _read_text(path):
    try:
        with open(path, "rb") as fh:
            return fh.read().decode("utf-8", "replace")
    except (IOError, OSError):
        return ""


def _shorten(text, limit=120):
    return text if len(text) <= limit else text[:limit - 3] + "..."


def port_problems(ports, listeners, unreadable=()):
    """Problems of ports (dicts {port, name, needed_by}) given port_listeners' listeners."""
    problems = []
    if unreadable:
        problems.append("the ports this host needs cannot be checked: %s cannot be read; is this a Linux host?"
                        % ", ".join(unreadable))
    names = {}
    for item in ports or ():
        names.setdefault(item["port"], [])
        if item["name"] not in names[item["port"]]:
            names[item["port"]].append(item["name"])
    checked = set()
    for item in ports or ():
        port = item["port"]
        if port in checked:
            continue
        checked.add(port)
        if len(names[port]) > 1:
            problems.append("%s are %s %d on this host: each needs a port of its own"
                            % (" and ".join(names[port]), "both" if len(names[port]) == 2 else "all", port))
        here = [x for x in listeners if x["port"] == port]
        foreign = [x for x in here if not x["ours"]]
        if not foreign:
            continue
        seen, holders = set(), []
        for x in foreign:
            if x["pid"] is not None and x["pid"] not in seen:
                seen.add(x["pid"])
                holders.append("pid %d (%s)" % (x["pid"], _shorten(x["cmdline"]) or "command line unknown"))
        if holders:
            who = ", ".join(holders)
        else:
            who = "a process this check cannot see (run the check as root, or look at 'ss -ltnp sport = :%d')" % port
        problems.append("port %d is already in use on this host by %s; %s needs it: stop that process or choose "
                        "another %s" % (port, who, item.get("needed_by") or "the FL server", " / ".join(names[port])))
    return problems


# --- GPUs -------------------------------------------------------------------------------------------

NVIDIA_SMI = ("nvidia-smi", "-L")
GPU_ADVICE = ("install the NVIDIA driver and Container Toolkit (the docker role does with docker_nvidia: true), or set "
              "the site's gpus (fl_client_gpus) to none to train it on CPU.")


def gpu_ids(listing):
    """The device ids `nvidia-smi -L` lists ("GPU 0: ..." -> "0")."""
    found = []
    for line in (listing or "").splitlines():
        line = line.strip()
        if line.startswith("GPU ") and ":" in line:
            found.append(line[4:].split(":", 1)[0].strip())
    return found


def gpu_problems(sites, devices, hostname, smi, runtimes):
    """The problem (a list of at most one sentence) of a machine whose SITES ask for GPUS DEVICES ('all' or ids).

    SMI: (rc, stdout, stderr) of `nvidia-smi -L` (rc 127 or 2: not installed). RUNTIMES: the Docker engine's
    runtime names and CDI spec folders (a list of words), or a string that says why they could not be read.
    """
    if not sites:
        return []
    rc, out, err = smi
    wanted = "all" if devices == "all" else ", ".join(str(d) for d in devices or [])
    found = gpu_ids(out)
    missing = [] if devices == "all" else [str(d) for d in devices or [] if str(d) not in found]
    if rc != 0:
        what = ("has no NVIDIA driver (nvidia-smi is not installed)" if rc in (2, 127)
                else "has no usable NVIDIA driver (nvidia-smi failed: %s)" % (err or "").strip())
    elif missing:
        what = "has no GPU %s (it has %s)" % (", ".join(missing), ", ".join(found))
    elif isinstance(runtimes, str):
        what = "has GPUs but its Docker engine cannot be asked for the nvidia runtime (%s)" % runtimes
    elif not any("nvidia" in str(r) for r in runtimes or []):
        what = "has GPUs but its Docker engine has no nvidia runtime"
    else:
        return []
    return ["Site(s) %s ask for GPUs (%s) but %s %s: %s" % (", ".join(sites), wanted, hostname, what, GPU_ADVICE)]


# --- everything -----------------------------------------------------------------------------------

def host_check(project, kit_root=None, kit_components=(), paths=(), ports=(), allowed_containers=(),
               proc_root="/proc", passwd=None, hostname=None):
    """Run every check; return the module's result (without 'changed')."""
    if hostname is None:
        hostname = socket.gethostname()
    problems, facts = kit_root_facts(kit_root, project, kit_components, passwd=passwd)
    problems.extend(path_problems(paths, hostname))
    listeners, unreadable = ([], [])
    if ports:
        listeners, unreadable = port_listeners([p["port"] for p in ports], allowed_containers, proc_root)
    problems.extend(port_problems(ports, listeners, unreadable))
    result = dict(problems=problems, listeners=listeners, hostname=hostname)
    result.update(facts)
    return result


# --- what the later roles of site.yml would ask the host again: the engine, the image ------------------------------
# site.yml's first play checks each machine in one call; the same call reads what the docker and clara_image roles
# need to decide, so that a rerun asks the engine nothing more. RUN is a callable (argv) -> (rc, stdout, stderr),
# as AnsibleModule.run_command; DOCKER the path of the docker command, or None when it is not installed.

NVIDIA_VENDOR = "0x10de"


def _first_line(path):
    try:
        with open(path, "rb") as fh:
            return fh.readline().decode("utf-8", "replace").rstrip("\n")
    except (IOError, OSError):
        return None


def nvidia_probe_lines(proc_root="/proc", sys_root="/sys"):
    """The lines the docker role's GPU probe prints: 'driver: <first line of /proc/driver/nvidia/version>' when an
    NVIDIA driver is loaded, then 'pci: <device> <class>' for each NVIDIA display or 3D controller (class 0x03xxxx)
    on the PCI bus."""
    lines = []
    version = _first_line(os.path.join(proc_root, "driver", "nvidia", "version"))
    if version is not None:
        lines.append("driver: %s" % version)
    devices = os.path.join(sys_root, "bus", "pci", "devices")
    try:
        names = sorted(os.listdir(devices))
    except OSError:
        names = []
    for name in names:
        vendor = _first_line(os.path.join(devices, name, "vendor"))
        klass = _first_line(os.path.join(devices, name, "class"))
        if vendor is None or klass is None:
            continue
        if vendor.strip() == NVIDIA_VENDOR and klass.strip().startswith("0x03"):
            lines.append("pci: %s %s" % (name, klass.strip()))
    return lines


def engine_read(run, docker, info_format, gpus=False, proc_root="/proc", sys_root="/sys"):
    """What `docker info --format INFO_FORMAT` answers, as ansible.builtin.command would return it (rc, stdout,
    stderr, msg), and with GPUS the GPU probe's lines (gpu_lines; else None)."""
    result = dict(info_format=info_format, rc=None, stdout="", stderr="", msg="",
                  gpu_lines=nvidia_probe_lines(proc_root, sys_root) if gpus else None)
    if not docker:
        result.update(rc=2, msg="the docker command is not installed on this host")
        return result
    rc, out, err = run([docker, "info", "--format", info_format])
    result.update(rc=rc, stdout=(out or "").rstrip("\n"), stderr=(err or "").rstrip("\n"))
    return result


def _sha1_file(path):
    digest = hashlib.sha1()  # nosec: the same checksum ansible.builtin.stat gives, not a security measure
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(65536), b""):
            digest.update(chunk)
    return digest.hexdigest()


def image_record(record_dir, image_id):
    """{path, exists, checksum}: the self-check record <record_dir>/verified-<image id without sha256:> the
    clara_image role writes, and its SHA-1 (ansible.builtin.stat's checksum; None when it is not a file)."""
    path = os.path.join(record_dir, "verified-%s" % str(image_id).replace("sha256:", ""))
    try:
        if stat.S_ISREG(os.stat(path).st_mode):
            return dict(path=path, exists=True, checksum=_sha1_file(path))
    except (IOError, OSError):
        pass
    return dict(path=path, exists=os.path.lexists(path), checksum=None)


def image_read(run, docker, name, record_dir=None):
    """{name, images, record, msg}: the images under NAME as community.docker.docker_image_info lists them (the
    engine's inspection of each), [] when there is none, or None when the engine could not be asked; and, for the
    image found, its self-check record in RECORD_DIR (see image_record; None without one)."""
    result = dict(name=name, images=None, record=None, msg="")
    if not docker:
        result["msg"] = "the docker command is not installed"
        return result
    rc, out, err = run([docker, "image", "inspect", name])
    if rc != 0:
        if "no such image" in (err or "").lower() or "no such object" in (err or "").lower():
            result["images"] = []
        else:
            result["msg"] = (err or out or "docker image inspect exited %d" % rc).strip()
        return result
    try:
        images = json.loads(out)
    except ValueError as exc:
        result["msg"] = "docker image inspect printed no JSON: %s" % exc
        return result
    if not isinstance(images, list) or not all(isinstance(i, dict) for i in images):
        result["msg"] = "docker image inspect printed no list of images"
        return result
    result["images"] = images
    if images and record_dir and images[0].get("Id"):
        result["record"] = image_record(record_dir, images[0]["Id"])
    return result
