#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: fl_engine_processes
short_description: Find or end the Clara Train FL engine processes of one federation on a host
version_added: 0.1.0
author: clarafl.federation maintainers (@clarafl)
description:
  - Lists the processes of a federation's FL engine on a Linux host - the FL server, client, training and admin
    processes and the kits' supervisor scripts - and with O(state=absent) ends them (C(SIGTERM), then C(SIGKILL)
    after O(timeout) seconds).
  - A process belongs to the federation when its command line looks like the engine's and it runs in one of
    O(containers), or on the host itself from a folder under one of O(kit_roots) (its working directory or its
    command line), as a kit started by hand leaves it.
  - The kits' own stop path calls a command that does not exist, so engine processes survive it; this module is
    how C(playbooks/stop.yml) proves that none is left.
  - Engine processes of other federations on the same host (other containers, other kit folders) are never
    listed nor touched.
options:
  containers:
    description:
      - Ids of the federation's containers (full ids, or prefixes of at least 12 characters).
    type: list
    elements: str
    default: []
  kit_roots:
    description:
      - Host folders that hold the federation's startup kits.
    type: list
    elements: path
    default: []
  patterns:
    description:
      - Regular expressions; a process is an engine process when its command line matches one of them.
      - The default covers Clara Train 3.1 and 4.0 (C(nvflare.private.fed.app.*), C(dlmed.*), C(sub_start.sh),
        C(fl_admin.sh)) and the collection's engine supervisor (C(engine_supervisor.py)).
    type: list
    elements: str
  state:
    description:
      - V(present) only lists the processes.
      - V(absent) ends them and fails, naming them, when any survives C(SIGKILL).
    type: str
    choices: [present, absent]
    default: present
  timeout:
    description: Seconds between C(SIGTERM) and C(SIGKILL).
    type: float
    default: 10
notes:
  - Needs to read C(/proc/<pid>/cgroup) and C(/proc/<pid>/cwd) of other users' processes, and to signal them -
    run it as root (C(become)).
extends_documentation_fragment:
  - clarafl.federation.attributes
attributes:
  check_mode:
    support: full
    details: Lists what would be ended; ends nothing.
  diff_mode:
    support: none
  platform:
    support: full
"""

EXAMPLES = r"""
- name: Find the project's containers
  community.docker.docker_host_info:
    containers: true
    containers_all: true
    containers_filters:
      label: org.clarafl.project=clarafl_prod
  register: project_containers

- name: End every engine process of the federation on this host
  clarafl.federation.fl_engine_processes:
    containers: "{{ project_containers.containers | map(attribute='Id') | list }}"
    kit_roots: [/opt/clarafl/clarafl_prod]
    state: absent
  become: true

- name: Fail when an engine process still runs
  clarafl.federation.fl_engine_processes:
    kit_roots: [/opt/clarafl/clarafl_prod]
  register: left
  failed_when: left.processes | length > 0
"""

RETURN = r"""
processes:
  description: The federation's engine processes found (before any was ended).
  returned: always
  type: list
  elements: dict
  contains:
    pid:
      description: Process id on the host.
      type: int
    cmdline:
      description: The command line.
      type: str
    container:
      description: Id of the container the process runs in, or V(null) for a process on the host.
      type: str
    cwd:
      description: Working directory, as the process sees it, or V(null) when it cannot be read.
      type: str
  sample:
    - {pid: 4242, cmdline: "python3 -u -m nvflare.private.fed.app.client.client_train -m /opt/clarafl/p/org1-a",
       container: null, cwd: /opt/clarafl/p/org1-a/startup}
ended:
  description: Pids that were ended (with O(state=absent)).
  returned: always
  type: list
  elements: int
  sample: [4242]
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.clarafl.federation.plugins.module_utils.engine_processes import (
    DEFAULT_PATTERNS,
    end_processes,
    federation_processes,
    list_processes,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            containers=dict(type="list", elements="str", default=[]),
            kit_roots=dict(type="list", elements="path", default=[]),
            patterns=dict(type="list", elements="str"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            timeout=dict(type="float", default=10),
        ),
        supports_check_mode=True,
    )
    p = module.params
    short = [c for c in p["containers"] if len(c) < 12]
    if short:
        module.fail_json(msg="containers needs ids of at least 12 characters; got %s" % ", ".join(short))
    patterns = p["patterns"] or list(DEFAULT_PATTERNS)
    found = federation_processes(list_processes(), containers=p["containers"], kit_roots=p["kit_roots"],
                                 patterns=patterns, own_pid=os.getpid())
    result = dict(changed=False, processes=[proc.as_dict() for proc in found], ended=[])
    if p["state"] == "absent" and found:
        result["changed"] = True
        pids = [proc.pid for proc in found]
        if not module.check_mode:
            left = end_processes(pids, timeout=p["timeout"])
            result["ended"] = [pid for pid in pids if pid not in left]
            if left:
                module.fail_json(msg="Engine processes %s survived SIGKILL: they are stuck in the kernel (for example "
                                     "on a hung mount); reboot the host or look at 'ps -o pid,stat,wchan -p %s'."
                                     % (", ".join(str(x) for x in left), ",".join(str(x) for x in left)), **result)
        else:
            result["ended"] = pids
    module.exit_json(**result)


if __name__ == "__main__":
    main()
