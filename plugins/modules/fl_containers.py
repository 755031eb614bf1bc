#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: fl_containers
short_description: Run the FL containers of one machine in one call, left alone when their labels match
version_added: 0.1.0
author: clarafl.federation maintainers (@clarafl)
description:
  - Brings each container in O(containers) to running, the way Compose does with its config hash.
  - A container that carries every label in its O(containers[].labels), runs the image its O(containers[].image)
    names now and is running is left alone. One that matches but is stopped is started. Any other is removed and
    created again; an absent one is created. The caller puts what the container is made from into its labels (the
    FL server, FL client and admin roles label each container they run with a hash of its settings and the
    fingerprint of its kit's certificate).
  - Settings are not compared one by one as M(community.docker.docker_container) does, so a container changed
    by hand behind a matching label is left alone; remove it to have it made again.
  - The containers are created and started a few at a time (O(parallel)). The FL client role calls this once per
    machine for all the sites it runs, where one M(community.docker.docker_container) call per site cost about
    half a second of CPU each; the FL server and admin roles call it for their one container, so every FL
    container of a federation follows the same rule.
  - Every setting is checked before the first change. An engine error for one container does not stop the others;
    the module then fails and names each container that failed and why.
  - A container to create or start whose O(containers[].ulimits) ask to lock more memory than the Docker engine
    itself may (C(memlock:-1:-1) under an engine whose hard C(RLIMIT_MEMLOCK) is 8 MiB) could not start (the engine
    answers C(error setting rlimit type 8)). The module reads the engine's hard limit from
    C(/proc/<pid of dockerd>/limits) first and fails before any change, naming the container and the variable
    C(fl_<component>_ulimits) its label C(org.clarafl.component) points to, and saying what to do
    (C(LimitMEMLOCK=infinity) for C(docker.service), or no memlock in that variable). When no C(dockerd) process is
    visible on the host (another PID namespace, a remote O(docker_host)) this check is skipped.
requirements:
  - Docker SDK for Python (C(docker)) on the host; the P(clarafl.federation.docker#role) role installs it.
options:
  containers:
    description: The containers to run.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The container's name.
        type: str
        required: true
      image:
        description: The image, by name and tag. It must be on the host already.
        type: str
        required: true
      command:
        description: The command, as a list of arguments.
        type: list
        elements: str
      init:
        description: Run an init process as PID 1 that reaps zombies and forwards signals (C(docker run --init)).
        type: bool
        default: false
      env:
        description: Environment variables.
        type: dict
      volumes:
        description: Bind mounts as C(host_path:container_path[:ro]).
        type: list
        elements: str
      tmpfs:
        description: Memory-backed mounts as C(container_path[:options]), for example C(/tmp:mode=1777).
        type: list
        elements: str
      etc_hosts:
        description: Extra C(/etc/hosts) entries, name to address.
        type: dict
      device_requests:
        description:
          - Devices to ask the engine for, as in M(community.docker.docker_container)'s O(community.docker.docker_container#module:device_requests)
            (C(driver), C(count), C(device_ids), C(capabilities), C(options)); C(driver=nvidia) for GPUs.
        type: list
        elements: dict
      network_mode:
        description: The network mode, for example C(host).
        type: str
      ipc_mode:
        description: The IPC mode, for example C(host).
        type: str
      shm_size:
        description: The size of C(/dev/shm), for example C(1g).
        type: str
      ulimits:
        description:
          - Limits as C(name:soft[:hard]), for example C(memlock:-1:-1).
          - A memlock above the Docker engine's own hard limit is refused before any change (see the description).
        type: list
        elements: str
      restart_policy:
        description: The restart policy.
        type: str
        choices: ["no", always, unless-stopped, on-failure]
        default: "no"
      labels:
        description: Labels; they also decide whether the container is left alone (see the description).
        type: dict
      kit_file:
        description:
          - A file of the container's startup kit on the host (its certificate); its sha256 becomes the label
            C(org.clarafl.kit), so that a new kit (a re-provisioning) recreates the container.
          - A missing file fails before any change, saying to run the provisioning role; in check mode the container
            is planned as one that provisioning's kit would make.
        type: path
        version_added: 0.3.0
  supervisor_dir:
    description:
      - A folder on the host for the collection's engine supervisor (C(plugins/module_utils/engine_supervisor.py),
        which this module carries), in the project's kit root; the folder is made when missing.
      - The supervisor is written there (mode C(0644)) before any container is created or started, unless it is
        there already with the same content. The FL server and client containers mount the folder read-only and run
        it in place of their kit's C(startup/sub_start.sh) loop (see the P(clarafl.federation.fl_engine_container#filter)
        filter).
      - Left out when the containers run the kit's own loop (C(fl_engine_supervisor=kit)).
    type: path
    version_added: 0.3.0
  hold:
    description:
      - Names of containers that are not replaced by this call when they would be (their settings, kit or image
        changed); RV(containers) marks them C(held) with the action they need. A stopped or absent one is still
        started or created. The FL server role holds the server until it knows the server does not train.
    type: list
    elements: str
    default: []
    version_added: 0.3.0
  parallel:
    description: How many containers are created and started at the same time.
    type: int
    default: 4
  docker_host:
    description: The Docker engine's address; by default C(DOCKER_HOST) or the local socket.
    type: str
  timeout:
    description: Seconds to wait for each answer of the Docker engine.
    type: int
    default: 60
extends_documentation_fragment:
  - clarafl.federation.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The state and the wanted labels of each container that is started, created or replaced.
  platform:
    support: full
seealso:
  - module: community.docker.docker_container
"""

EXAMPLES = r"""
- name: Run the client containers of two sites on this machine
  clarafl.federation.fl_containers:
    containers:
      - name: clarafl-example-org1-a
        image: clarafl/clara-train-cpu:4.0
        command: [bash, -c, cd /workspace/site/startup && exec ./sub_start.sh]
        init: true
        volumes: [/opt/clarafl/example/org1-a:/workspace/site]
        tmpfs: [/tmp:mode=1777]
        network_mode: host
        restart_policy: unless-stopped
        labels:
          org.clarafl.site: org1-a
          org.clarafl.config: "{{ org1_a_settings | to_json | hash('sha256') }}"
      - name: clarafl-example-org1-b
        image: clarafl/clara-train-cpu:4.0
        command: [bash, -c, cd /workspace/site/startup && exec ./sub_start.sh]
        init: true
        volumes: [/opt/clarafl/example/org1-b:/workspace/site]
        network_mode: host
        restart_policy: unless-stopped
        labels:
          org.clarafl.site: org1-b
  register: started

- name: Name the sites whose container was (re)started
  ansible.builtin.debug:
    msg: "{{ started.containers | dict2items | rejectattr('value.action', 'equalto', 'none') | map(attribute='key') }}"
"""

RETURN = r"""
containers:
  description: One entry per container, by name.
  returned: always
  type: dict
  sample:
    clarafl-example-org1-a: {action: none, id: 5d1c0e...}
    clarafl-example-org1-b: {action: recreate, id: 9a7f31...}
  contains:
    action:
      description:
        - C(none) (left alone), C(start) (was stopped), C(create) (was absent) or C(recreate) (was made from
          something else). In check mode, what would be done.
      type: str
      returned: always
    id:
      description: The container's ID; in check mode the ID before, or null for one to create.
      type: str
      returned: always
    error:
      description: The engine's error, for a container whose action failed.
      type: str
      returned: when the action failed
    held:
      description: It needs to be replaced and O(hold) names it, so it was left as it is.
      type: bool
      returned: when held
      version_added: 0.3.0
    kit_missing:
      description: In check mode, its O(containers[].kit_file) is not there yet (provisioning makes it in the run).
      type: bool
      returned: when missing in check mode
      version_added: 0.3.0
supervisor:
  description: Where the engine supervisor is on the host, and whether it was written (would be, in check mode).
  returned: when O(supervisor_dir) is given
  type: dict
  sample: {path: /opt/clarafl/example/.engine/engine_supervisor.py, changed: false}
  version_added: 0.3.0
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.clarafl.federation.plugins.module_utils.containers import (
    NONE,
    ContainersError,
    diff,
    docker_client,
    engine_memlock,
    failures,
    install_supervisor,
    kit_labels,
    run,
)

CONTAINER_OPTIONS = dict(
    name=dict(type="str", required=True),
    image=dict(type="str", required=True),
    command=dict(type="list", elements="str"),
    init=dict(type="bool", default=False),
    env=dict(type="dict"),
    volumes=dict(type="list", elements="str"),
    tmpfs=dict(type="list", elements="str"),
    etc_hosts=dict(type="dict"),
    device_requests=dict(type="list", elements="dict"),
    network_mode=dict(type="str"),
    ipc_mode=dict(type="str"),
    shm_size=dict(type="str"),
    ulimits=dict(type="list", elements="str"),
    restart_policy=dict(type="str", default="no", choices=["no", "always", "unless-stopped", "on-failure"]),
    labels=dict(type="dict"),
    kit_file=dict(type="path"),
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            containers=dict(type="list", elements="dict", required=True, options=CONTAINER_OPTIONS),
            supervisor_dir=dict(type="path"),
            hold=dict(type="list", elements="str", default=[]),
            parallel=dict(type="int", default=4),
            docker_host=dict(type="str"),
            timeout=dict(type="int", default=60),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if p["parallel"] < 1 or p["timeout"] < 1:
        module.fail_json(msg="parallel and timeout must be at least 1, got %s and %s" % (p["parallel"], p["timeout"]))
    specs = p["containers"]
    shared = {}

    def client_factory():
        # The first client learns the engine's API version; the workers' clients reuse it.
        client = docker_client(p["docker_host"], p["timeout"], shared.get("version"))
        shared.setdefault("version", client.api.api_version)
        return client

    # The engine's limits can be read only when it runs on this host.
    local = not p["docker_host"] or p["docker_host"].startswith("unix://")
    supervisor = None
    try:
        # Before any container that runs it starts.
        if p["supervisor_dir"]:
            supervisor = install_supervisor(p["supervisor_dir"], check_mode=module.check_mode)
        specs, missing = kit_labels(specs, check_mode=module.check_mode)
        results, found = run(client_factory, specs, check_mode=module.check_mode, workers=p["parallel"],
                             memlock_limit=engine_memlock if local else None, hold=p["hold"])
        for name in missing:
            results[name]["kit_missing"] = True
    except ContainersError as exc:
        module.fail_json(msg=str(exc), containers={})
    changed = any(item["action"] != NONE and not item.get("held") for item in results.values()) or bool(
        supervisor and supervisor["changed"])
    out = dict(changed=changed, containers=results)
    if supervisor:
        out["supervisor"] = supervisor
    if module._diff:
        out["diff"] = diff(specs, found, results)
    failed = failures(results)
    if failed:
        module.fail_json(msg="The Docker engine refused %d of %d container(s): %s" % (len(failed), len(specs), "; ".join(failed)),
                         **out)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
