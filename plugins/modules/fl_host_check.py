#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: fl_host_check
short_description: Check a host before the federation is set up on it, and list every problem found
version_added: 0.2.0
author: clarafl.federation maintainers (@clarafl)
description:
  - Read-only preflight that the first play of C(site.yml) runs on every host before anything changes, so that bad
    input fails in seconds with one message that lists every problem of every host.
  - Each check that fails adds a sentence to RV(problems); the module itself does not fail on problems (unless
    O(fail_on_problems=true)), so that the playbook can gather the problems of all hosts and fail once.
  - "The kit root O(kit_root): it must be an absolute path; it must not be C(/), a top-level folder (C(/opt),
    C(/srv), C(/var), ...), the home directory of a user (from the passwd database, and C(/root)) or a folder that
    holds one, since teardown removes the whole kit root; and when its owner marker C(<kit_root>/.clarafl-project)
    (JSON C({\"project\": ..., \"created\": true|false, \"created_at\": ...}), written by the collection when it
    first uses a kit root) names another project, it belongs to that project."
  - Entries of an existing kit root that are not among O(kit_components) are listed in
    RV(kit_root_foreign_entries), so that teardown can leave them alone.
  - Every entry of O(paths) must exist on the host as a folder or a file.
  - Every port of O(ports) must be free on the host - no TCP socket listening on it, on any local address (the FL
    server uses host networking) - or held only by processes of O(allowed_containers). Listeners are read from
    C(/proc/net/tcp) and C(/proc/net/tcp6), and mapped to processes through C(/proc/<pid>/fd).
  - The GPUs of O(gpus) - those the machine's sites ask for - must be listed by C(nvidia-smi -L), and the Docker
    engine must have the nvidia runtime.
  - With O(lock), once this host has no problem, the module takes the project's run lock there (see
    M(clarafl.federation.fl_run_lock), whose functions it shares); a lock another run holds is one more problem,
    naming that run. The first play of C(site.yml) so checks each machine and takes the lock in one call per machine.
    The module's action plugin, on the controller, takes over a lock left by a run of this controller that is over,
    and says so.
  - Run with become, the call itself says whether Ansible can become root on the host (RV(uid)); with
    O(checks=false) it does nothing else (the inventory's own check found problems, and the host's checks would read
    bad values).
  - With O(engine) and O(image), it also reads what the C(docker) and C(clara_image) roles would ask the host again
    later in C(site.yml) - the Docker engine's answer, the NVIDIA GPUs, the runtime image and its self-check record -
    so that a rerun asks the engine nothing more (RV(engine), RV(image)). Those roles read them from this result, and
    ask themselves when they run on their own.
  - Changes nothing but the run lock; returns C(changed=false).
options:
  project:
    description: The project's name.
    type: str
    required: true
  kit_root:
    description:
      - The folder that holds this project's kits on the host (C(fl_kit_root), by default
        C(/opt/clarafl/<project>)).
      - When not given, the kit root is not checked.
    type: path
  kit_components:
    description:
      - Names of the entries this project puts in the kit root (for example C(server), C(org1-a), C(admin),
        C(.kits)); only used to compute RV(kit_root_foreign_entries).
    type: list
    elements: str
    default: []
  paths:
    description: Paths that must exist on the host.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The path; it must be absolute.
        type: path
        required: true
      what:
        description: What the path is, as problem sentences name it (for example C(fl_dataset_dir of org1-a)).
        type: str
        required: true
      kind:
        description: Whether the path must be a folder or a regular file.
        type: str
        choices: [dir, file]
        default: dir
  ports:
    description: TCP ports that must be free on the host, or held by a process of O(allowed_containers).
    type: list
    elements: dict
    default: []
    suboptions:
      port:
        description: The port number.
        type: int
        required: true
      name:
        description: The variable that sets the port, as problem sentences name it (for example C(fl_admin_port)).
        type: str
        required: true
      needed_by:
        description: Who needs the port, as problem sentences name it.
        type: str
        default: the FL server
  allowed_containers:
    description:
      - Ids of containers (full ids, or prefixes of at least 12 characters) whose processes may hold O(ports) -
        the project's own running FL server.
    type: list
    elements: str
    default: []
  allowed_container_names:
    description:
      - Names of containers (the project's own FL server) whose processes may hold O(ports), looked up in the Docker
        engine when it answers (a host without one runs none of them).
    type: list
    elements: str
    default: []
  gpus:
    description: The GPUs the machine's sites ask for.
    type: dict
    suboptions:
      sites:
        description: The sites that ask for GPUs; none, no GPU check.
        type: list
        elements: str
        default: []
      devices:
        description: V(all), or the device ids the sites ask for.
        type: raw
        default: all
      host:
        description: The machine, as the problem sentence names it (its inventory name).
        type: str
  lock:
    description:
      - The project's run lock to take on this host once it has no problem. Nothing is taken in check mode, with
        problems, or without it.
    type: dict
    suboptions:
      path:
        description: The lock file.
        type: path
        required: true
      holder:
        description: This run, as the P(clarafl.federation.run_holder#filter) filter makes it.
        type: dict
        required: true
      steal:
        description: Take the lock whoever holds it (a stale lock, or C(stop.yml)).
        type: bool
        default: false
      expiry:
        description: Seconds without a heartbeat after which another controller's lock is taken over (V(0) never).
        type: int
        default: 3600
  engine:
    description:
      - Ask the Docker engine C(docker info --format) O(engine.info_format), as the C(docker) role does, and return
        the answer in RV(engine).
    type: dict
    version_added: 0.3.0
    suboptions:
      info_format:
        description: The Go template given to C(docker info --format).
        type: str
        required: true
      gpus:
        description:
          - Also look for NVIDIA GPUs as the C(docker) role does - a loaded driver in C(/proc/driver/nvidia/version),
            NVIDIA display or 3D controllers on the PCI bus - and return the lines in RV(engine) (C(gpu_lines)).
        type: bool
        default: false
  image:
    description:
      - Look for the image O(image.name) (C(docker image inspect)), when the engine answers, and for its self-check
        record; returned in RV(image).
    type: dict
    version_added: 0.3.0
    suboptions:
      name:
        description: The image reference.
        type: str
        required: true
      record_dir:
        description:
          - The folder of the C(clara_image) role's self-check records; the record of the image found is the file
            C(verified-<image id without sha256:>) in it.
        type: path
  checks:
    description: V(false) runs no check and takes no lock; the call only says that Ansible became root (RV(uid)).
    type: bool
    default: true
  fail_on_problems:
    description: Fail, with every problem in the message, when there is any; for standalone use.
    type: bool
    default: false
notes:
  - Needs to read C(/proc/<pid>/fd) and C(/proc/<pid>/cgroup) of other users' processes to name the process that
    holds a port - run it as root (C(become)). Without that, a port held by another user's process is still
    reported as in use, "by a process this check cannot see".
  - Linux only.
extends_documentation_fragment:
  - clarafl.federation.attributes
attributes:
  check_mode:
    support: full
    details: Reads only; runs the same in check mode.
  diff_mode:
    support: none
  platform:
    support: full
seealso:
  - module: clarafl.federation.fl_engine_processes
"""

EXAMPLES = r"""
- name: Check the host before anything changes
  clarafl.federation.fl_host_check:
    project: clarafl_prod
    kit_root: /opt/clarafl/clarafl_prod
    kit_components: [server, org1-a, admin, .kits]
    paths:
      - path: /data/org1-a
        what: fl_dataset_dir of org1-a
    ports:
      - port: 8002
        name: fl_fed_learn_port
      - port: 8003
        name: fl_admin_port
    allowed_containers: "{{ project_containers.containers | map(attribute='Id') | list }}"
  become: true
  register: host_check

- name: Fail once, with the problems of every host
  ansible.builtin.fail:
    msg: "{{ ansible_play_hosts | map('extract', hostvars, ['host_check', 'problems']) | flatten | join(' ') }}"
  run_once: true
  when: ansible_play_hosts | map('extract', hostvars, ['host_check', 'problems']) | flatten | length > 0

- name: Check one host on its own, failing on any problem
  clarafl.federation.fl_host_check:
    project: clarafl_prod
    kit_root: /opt/clarafl/clarafl_prod
    fail_on_problems: true
"""

RETURN = r"""
problems:
  description: One sentence per problem found; empty when the host is fine.
  returned: always
  type: list
  elements: str
  sample:
    - "fl_kit_root /opt is a top-level system folder: the collection keeps each project in its own folder
      (e.g. /opt/clarafl/clarafl_prod)"
    - "port 8002 is already in use on this host by pid 1234 (python3 -m http.server 8002); the FL server needs it:
      stop that process or choose another fl_fed_learn_port"
listeners:
  description: The TCP sockets listening on O(ports), one entry per socket and process holding it.
  returned: always
  type: list
  elements: dict
  contains:
    port:
      description: The port.
      type: int
    address:
      description: The local address the socket listens on (C(0.0.0.0) or C(::) for every address).
      type: str
    pid:
      description: Id of a process holding the socket, or V(null) when this check cannot see which.
      type: int
    cmdline:
      description: That process's command line, or V(null).
      type: str
    container:
      description: Id of the container the process runs in, or V(null) for a process on the host.
      type: str
    ours:
      description: Whether the process runs in one of O(allowed_containers).
      type: bool
  sample:
    - {port: 8002, address: 0.0.0.0, pid: 1234, cmdline: python3 -m http.server 8002, container: null, ours: false}
kit_root_exists:
  description: Whether O(kit_root) exists on the host.
  returned: always
  type: bool
  sample: true
kit_root_marker:
  description: The content of the kit root's owner marker C(<kit_root>/.clarafl-project), or V(null) when there is
    none or it cannot be read.
  returned: always
  type: dict
  sample: {project: clarafl_prod, created: true, created_at: "2026-01-05T10:00:00Z"}
kit_root_created_by_collection:
  description: Whether the owner marker says the collection created the kit root (C(created) is V(true)).
  returned: always
  type: bool
  sample: true
kit_root_foreign_entries:
  description: Names of the entries of the kit root that are not among O(kit_components) (the owner marker aside);
    teardown leaves them alone.
  returned: always
  type: list
  elements: str
  sample: [notes.txt]
hostname:
  description: The host's name, as problem sentences name it.
  returned: always
  type: str
  sample: gpu-node-1
uid:
  description: The user id the module ran as (0 when Ansible became root).
  returned: always
  type: int
  sample: 0
engine:
  description:
    - With O(engine), the engine's answer to C(docker info --format) as M(ansible.builtin.command) returns it (C(rc),
      C(stdout), C(stderr), C(msg)), the O(engine.info_format) asked, and C(gpu_lines), the lines of the GPU probe
      (V(null) unless O(engine.gpus)); else V(null).
  returned: always
  type: dict
  sample: {info_format: "{\"version\": {{json .ServerVersion}}}", rc: 0, stdout: "{\"version\": \"26.1.5\"}", stderr: "",
           msg: "", gpu_lines: null}
image:
  description:
    - "With O(image), when the engine answered, C(name), C(images) - what M(community.docker.docker_image_info) lists
      for it (each image's inspection; empty when there is none, V(null) when the engine could not be asked, C(msg)
      saying why) - and C(record), the self-check record of the image found (C(path), C(exists), C(checksum) - its
      SHA-1, as M(ansible.builtin.stat) gives it) or V(null); else V(null)."
  returned: always
  type: dict
  sample: {name: "clarafl/clara-train-cpu:4.0", images: [{Id: "sha256:4f1c...", Config: {Labels: {}}}],
           record: {path: /var/lib/clarafl/images/verified-4f1c..., exists: true, checksum: 3b0f...}, msg: ""}
lock:
  description:
    - What became of O(lock) - C(acquired), C(held_by_other), C(holder) (the other run, or V(null)), C(stolen_from),
      C(expired), C(msg) (a takeover, or the refusal) - or V(null) when no lock was asked for or taken.
  returned: always
  type: dict
  sample: {acquired: true, held_by_other: false, holder: null, stolen_from: null, expired: false}
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.clarafl.federation.plugins.module_utils.docker_sdk import (
    DockerException,
    DockerUnavailable,
    NotFound,
    connect,
)
from ansible_collections.clarafl.federation.plugins.module_utils.host_check import (
    engine_read,
    gpu_problems,
    host_check,
    image_read,
)
from ansible_collections.clarafl.federation.plugins.module_utils.run_lock import RunLockError, acquire, describe

REFUSAL = ("Another run holds the lock of this project: %s. Wait for it to finish; if no run is going on (the holder "
           "died), clear the stale lock with -e fl_run_lock_steal=true or remove %s.")


def _docker():
    """A Docker client, or the sentence that says why there is none."""
    try:
        return connect(timeout=10)
    except DockerUnavailable as exc:
        return str(exc)


def container_ids(client, names):
    """The ids of the containers NAMES that exist (a host without a Docker engine runs none)."""
    ids = []
    if isinstance(client, str):
        return ids
    for name in names:
        try:
            ids.append(client.containers.get(name).id)
        except (NotFound, DockerException):
            continue
    return ids


def nvidia_smi(module):
    """(rc, stdout, stderr) of `nvidia-smi -L`; rc 127 when it is not installed."""
    path = module.get_bin_path("nvidia-smi")
    if not path:
        return 127, "", "nvidia-smi is not installed"
    return module.run_command([path, "-L"])


def runtimes(client):
    """The Docker engine's runtimes and CDI spec folders (words), or why they cannot be read."""
    if isinstance(client, str):
        return client
    try:
        info = client.info()
    except DockerException as exc:
        return "the Docker engine does not answer: %s" % exc
    return list((info.get("Runtimes") or {}).keys()) + list(info.get("CDISpecDirs") or [])


def take_lock(lock):
    """The run lock taken for this run: (lock result, problem or None)."""
    try:
        outcome = acquire(lock["path"], lock["holder"], steal=lock["steal"], expiry=lock["expiry"])
    except (RunLockError, ValueError) as exc:
        return dict(acquired=False, held_by_other=False, holder=None, stolen_from=None, expired=False,
                    msg=str(exc)), "the run lock cannot be taken: %s" % exc
    result = dict(acquired=outcome["acquired"], held_by_other=outcome["held_by_other"], holder=outcome["holder"],
                  stolen_from=outcome["stolen_from"], expired=outcome["expired"], msg=None)
    if not outcome["acquired"]:
        result["msg"] = REFUSAL % (describe(outcome["holder"]), lock["path"])
        return result, result["msg"]
    if outcome["stolen_from"] is not None:
        why = (" (it had expired: no heartbeat from its run, on another controller, within its expiry)"
               if outcome["expired"] else "")
        result["msg"] = "Took over the run lock %s from %s%s." % (lock["path"], describe(outcome["stolen_from"]), why)
    return result, None


def reads(module, result):
    """What the docker and clara_image roles would ask the host again (engine, image), into RESULT."""
    p = module.params
    docker = module.get_bin_path("docker") if p["engine"] or p["image"] else None
    if p["engine"]:
        result["engine"] = engine_read(module.run_command, docker, p["engine"]["info_format"], p["engine"]["gpus"])
    if p["image"] and (result["engine"] or {}).get("rc", 0) == 0:
        result["image"] = image_read(module.run_command, docker, p["image"]["name"], p["image"]["record_dir"])


def main():
    module = AnsibleModule(
        argument_spec=dict(
            project=dict(type="str", required=True),
            kit_root=dict(type="path"),
            kit_components=dict(type="list", elements="str", default=[]),
            paths=dict(type="list", elements="dict", default=[], options=dict(
                path=dict(type="path", required=True),
                what=dict(type="str", required=True),
                kind=dict(type="str", choices=["dir", "file"], default="dir"),
            )),
            ports=dict(type="list", elements="dict", default=[], options=dict(
                port=dict(type="int", required=True),
                name=dict(type="str", required=True),
                needed_by=dict(type="str", default="the FL server"),
            )),
            allowed_containers=dict(type="list", elements="str", default=[]),
            allowed_container_names=dict(type="list", elements="str", default=[]),
            gpus=dict(type="dict", options=dict(
                sites=dict(type="list", elements="str", default=[]),
                devices=dict(type="raw", default="all"),
                host=dict(type="str"),
            )),
            lock=dict(type="dict", no_log=False, options=dict(
                path=dict(type="path", required=True),
                holder=dict(type="dict", required=True, no_log=False),
                steal=dict(type="bool", default=False),
                expiry=dict(type="int", default=3600),
            )),
            engine=dict(type="dict", options=dict(
                info_format=dict(type="str", required=True),
                gpus=dict(type="bool", default=False),
            )),
            image=dict(type="dict", options=dict(
                name=dict(type="str", required=True),
                record_dir=dict(type="path"),
            )),
            checks=dict(type="bool", default=True),
            fail_on_problems=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not p["checks"]:
        module.exit_json(changed=False, problems=[], listeners=[], hostname="", uid=os.geteuid(), lock=None,
                         engine=None, image=None, kit_root_exists=False, kit_root_marker=None, kit_root_created_by_collection=False,
                         kit_root_foreign_entries=[])
    if not p["project"]:
        module.fail_json(msg="project must not be empty")
    bad_ports = [str(x["port"]) for x in p["ports"] if not 0 < x["port"] < 65536]
    if bad_ports:
        module.fail_json(msg="ports must be between 1 and 65535; got %s" % ", ".join(bad_ports))
    short = [c for c in p["allowed_containers"] if len(c) < 12]
    if short:
        module.fail_json(msg="allowed_containers needs ids of at least 12 characters; got %s" % ", ".join(short))
    gpus = p["gpus"] or {}
    client = _docker() if p["allowed_container_names"] or gpus.get("sites") else None
    allowed = list(p["allowed_containers"]) + container_ids(client, p["allowed_container_names"])
    result = host_check(p["project"], kit_root=p["kit_root"], kit_components=p["kit_components"], paths=p["paths"],
                        ports=p["ports"], allowed_containers=allowed)
    if gpus.get("sites"):
        devices = gpus.get("devices")
        devices = "all" if devices in ("all", None) else [str(d) for d in (devices or [])]
        result["problems"].extend(gpu_problems(gpus["sites"], devices, gpus.get("host") or result["hostname"],
                                               nvidia_smi(module), runtimes(client)))
    result.update(changed=False, uid=os.geteuid(), lock=None, engine=None, image=None)
    reads(module, result)
    if p["lock"] and not result["problems"] and not module.check_mode:
        result["lock"], refusal = take_lock(p["lock"])
        result["changed"] = False  # bookkeeping of the run, not a change to the host
        if refusal:
            result["problems"].append(refusal)
    if p["fail_on_problems"] and result["problems"]:
        module.fail_json(msg="%d problem(s) on this host: %s" % (len(result["problems"]), " ".join(
            "(%d) %s" % (i + 1, text) for i, text in enumerate(result["problems"]))), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
