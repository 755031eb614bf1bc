#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: fl_admin_info
short_description: Read the federation's status, registrations and training records through the FL admin console
version_added: 0.3.0
description:
  - Reads, on one console login, the server's status (C(check_status server)), each site's answer
    (C(check_status client)) and, with O(validation), the cross-site validation results of the server's current run
    (C(validate all)); and, from O(record_dir) on the host, the training record the
    M(clarafl.federation.fl_training) module keeps and the summary of the run.
  - Read-only, never reports a change, and runs in check mode. A server that does not answer, or an admin container
    that does not run, is not a failure here; RV(reachable) is false and RV(msg) says why.
author:
  - clarafl.federation maintainers (@clarafl)
extends_documentation_fragment:
  - clarafl.federation.console
  - clarafl.federation.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
options:
  record_dir:
    description:
      - Folder on the host that holds the training record (C(clarafl-training.json)) and the runs' summaries
        (C(run_<N>-summary.json)), the admin kit folder. Not read when not given.
    type: path
  run_number:
    description: The run whose summary is read. By default the run the record names.
    type: int
  validation:
    description: Also read the cross-site validation results (C(validate all)) into RV(validation).
    type: bool
    default: false
  sites:
    description: The federation's sites, as the validation matrix names its columns (and its missing sites).
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Read the federation's status
  clarafl.federation.fl_admin_info:
    container: clarafl-demo-admin
    username: admin@example.org
    record_dir: /opt/clarafl/demo/admin
  register: federation

- name: Show it
  ansible.builtin.debug:
    msg: "{{ federation.status | clarafl.federation.fl_status_table }}"
"""

RETURN = r"""
reachable:
  description: The server answered.
  returned: always
  type: bool
msg:
  description: Why the server could not be read.
  returned: when RV(reachable) is false
  type: str
status:
  description:
    - The federation's status - C(run_number), C(server_status) (C(training started), C(training stopped), ...),
      C(current_round), C(max_round), C(registered_clients) (name, token, last_accepted_round, contribution_count),
      and C(clients) (each site's answer, C(No replies) when it gave none). Empty when not reachable.
  returned: always
  type: dict
registered_sites:
  description: The sites the server has registered.
  returned: always
  type: list
  elements: str
record:
  description: The training record (run_number, mmar, phase, started_at, contributions seen, sites restarted, ...).
  returned: always
  type: dict
run_number:
  description: The run whose summary was read (O(run_number), else the record's, else 1).
  returned: always
  type: int
summary:
  description: The summary of that run (rounds, contributions, metrics, cross-site validation), as the training
    wrote it when the run ended; empty when there is none.
  returned: always
  type: dict
validation:
  description: With O(validation), the cross-site validation matrix (models, sites, values, metric, missing, state,
    lines).
  returned: with O(validation) and a reachable server
  type: dict
server:
  description: Where the admin server is (host, port, server_cn).
  returned: when the container was found
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.clarafl.federation.plugins.module_utils._admin_console import (
    CONSOLE_ARGS, Console, ConsoleError, check_options)
from ansible_collections.clarafl.federation.plugins.module_utils._training import Records
from ansible_collections.clarafl.federation.plugins.module_utils._training_plan import run_number_of
from ansible_collections.clarafl.federation.plugins.module_utils.cross_validation import (
    matrix_lines, validation_matrix)
from ansible_collections.clarafl.federation.plugins.module_utils.docker_sdk import HAS_DOCKER

# A console that cannot be reached is an answer here, not a failure.
UNREACHABLE = ("login", "container", "timeout", "driver", "kit", "docker")


def main():
    module = AnsibleModule(
        argument_spec=dict(CONSOLE_ARGS, record_dir=dict(type="path"), run_number=dict(type="int"),
                           validation=dict(type="bool", default=False),
                           sites=dict(type="list", elements="str", default=[])),
        supports_check_mode=True,
    )
    if not HAS_DOCKER:
        module.fail_json(msg=missing_required_lib("docker (the Docker SDK for Python)"))
    p = module.params
    problems = check_options(p)
    if problems:
        module.fail_json(msg="; ".join(problems))
    records = Records(p["record_dir"]) if p["record_dir"] else None
    record = records.record() if records else {}
    number = run_number_of(p["run_number"], record)
    ret = dict(changed=False, reachable=False, status={}, registered_sites=[], record=record, run_number=number,
               summary=records.summary(number) if records else {})
    console = Console(p)
    commands = list(console.dialect.STATUS_COMMANDS) + (["validate all"] if p["validation"] else [])
    try:
        results, _result = console.run(commands)
    except ConsoleError as exc:
        if exc.kind not in UNREACHABLE:
            module.fail_json(msg=str(exc), reason=exc.kind, server=console.server, **ret)
        ret.update(msg=str(exc), reason=exc.kind, server=console.server)
        module.exit_json(**ret)
    status = console.dialect.parse_status(results[0]["reply"], results[1]["reply"])
    ret.update(reachable=True, status=status, server=console.server,
               registered_sites=[c.get("name") for c in status.get("registered_clients") or []])
    if p["validation"]:
        ret["validation"] = validation_matrix(results[2]["reply"], sites=p["sites"])
        ret["validation"]["lines"] = matrix_lines(ret["validation"])
    module.exit_json(**ret)


if __name__ == "__main__":
    main()
