#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: fl_training
short_description: Converge a federated training to started or finished, following it and bringing back lost sites
version_added: 0.3.0
description:
  - Decides what to do with a run from its record (C(clarafl-training.json) in O(record_dir), which this module
    keeps) and the server's live status, in one place (the C(fl_training_plan) filter says the same) - start it, train
    it again (O(restart)), train again a run the server lost when it was restarted, follow a run that is training,
    leave alone a run that has finished or that this module did not start, or refuse an earlier run than the one
    recorded - and does it, until the training reaches O(state).
  - Starting a run waits until every site of O(sites) answers the server (registered is not yet reachable), stops a
    training that must stop, then sends C(set_run_number), C(upload_folder), C(deploy) to the server and the sites,
    C(start server) and the sites' starts (C(start_mgpu client <n> <site>) for a site O(gpus) lists on several GPUs).
    A site that answers a deploy or a start late is sent it again; a failed deploy or start is explained from the
    engine's logs.
  - Following a run prints a line each time its round moves, and at least every O(progress_interval) seconds, with
    each site's contributions. A site that lags behind and no longer answers the server for O(unanswered_timeout)
    seconds (a killed container), one whose start hung, or one that made no progress for O(stall_timeout) seconds is
    named in RV(restart_sites) - restart its container on its machine and call the module again with O(rejoin); the
    module brings it back into the running training (its old registration removed, the MMAR deployed to it, started).
    A site is restarted at most O(max_recoveries) times per run.
  - An app that fails (its traceback in the server's or a site's log, through its own C(custom/) code or the engine
    loading it) stops the training (C(abort client), C(abort server)) and fails the module quoting those lines; the
    engine's own complaints (its admin handler answering for a site that gave no reply) never do.
  - A server restarted during a training (its admin port closed, then a server that no longer knows the run) is
    waited for up to O(server_timeout) seconds, said, and the run trained again from its start, unless the record
    says it must not be repeated (O(repeat_lost_run) was false when it started).
  - Once the run ended, it waits for the cross-site validation when O(cross_site_validation) is set and writes the
    run's summary (C(run_<N>-summary.json) in O(record_dir)) - rounds and contributions from the engine, the metrics
    the app wrote in C(run_<N>/metrics.jsonl) of the server's kit, if any.
author:
  - clarafl.federation maintainers (@clarafl)
extends_documentation_fragment:
  - clarafl.federation.console
  - clarafl.federation.attributes
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the
      controller.
    support: full
    details: The action plugin calls the module step by step on the host and prints the progress on the controller.
  async:
    description: Supports being used with the C(async) keyword.
    support: none
  check_mode:
    support: full
    details: Says what a real run would do, from the live status when the server answers, else from the record alone.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
options:
  state:
    description:
      - V(finished) - until the run has ended and its summary is written (or it is left alone).
      - V(started) - until the run trains (a run that trains already is left to it).
      - V(rejoined) - only bring back the sites of O(rejoin) into the training that runs, if any; nothing is started.
    type: str
    choices: [started, finished, rejoined]
    default: finished
  run_number:
    description: The run to train. By default the latest run the record names, or run 1 when there is none.
    type: int
  restart:
    description: Train the run again from the start even when it trains or has finished.
    type: bool
    default: false
  repeat_lost_run:
    description: A run that a restarted server lost is trained again from its start (recorded when the run starts).
    type: bool
    default: true
  mmar:
    description:
      - The name the MMAR is uploaded and deployed under (its folder in the console's O(upload_dir)).
      - Needed to start a run; a site brought back into a running training is given the MMAR the record names.
    type: str
  staged:
    description: The MMAR's staged folder on the host; a start fails clearly when it has no C(config/).
    type: path
  sites:
    description: Every site of the federation that the training waits for.
    type: list
    elements: str
    required: true
  partner_sites:
    description:
      - Sites run by another organization, which joins them with its own controller (the README's federations across
        organizations). Before a run starts they are waited for O(partner_wait) seconds; the ones that have not
        joined are named with their contact, and the run starts without them when O(min_num_clients) allows it
        (else the module stops with that sentence). They are never restarted from here.
    type: list
    elements: str
    default: []
  partner_contacts:
    description: Whom to ask about each partner site (site name to contact), named when it has not joined.
    type: dict
    default: {}
  partner_wait:
    description: Seconds the partner sites are waited for before a run starts, counted from the start of the call
      that starts it; the last reading of the federation's status is begun so that it ends by then.
    type: float
    default: 120
  min_num_clients:
    description: The run's C(min_num_clients) (the MMAR's server config), to tell whether it can train without the
      partner sites that have not joined.
    type: int
  gpus:
    description: The sites that start on several GPUs, with their GPU counts (C(start_mgpu client <n> <site>)).
    type: dict
    default: {}
  num_rounds:
    description: The rounds the MMAR's server config asks for (for the messages and the summary).
    type: int
  record_dir:
    description: Folder on the host for the training record and the runs' summaries (the admin kit folder).
    type: path
    required: true
  rejoin:
    description: Sites whose containers were just restarted (as RV(restart_sites) asked), to bring back first.
    type: list
    elements: str
    default: []
  registration_timeout:
    description: Seconds the sites have to answer the server before a start, and after their containers restarted.
    type: float
    default: 180
  unanswered_timeout:
    description:
      - Seconds a site that lags behind may leave the server unanswered while the round waits for it. A site that
        starts its training on a busy machine may not answer for a minute; a killed one never answers again.
    type: float
    default: 90
  stall_timeout:
    description: Seconds without a new round after which the sites that lag behind are restarted; V(0) never.
    type: float
    default: 120
  diagnose_after:
    description: Seconds without a new round after which the engine's logs are read for an app's failure; V(0) never.
    type: float
    default: 20
  max_recoveries:
    description: How often a site may be restarted in one run before the module gives up naming it.
    type: int
    default: 2
  progress_interval:
    description: A progress line is printed when the round moves and at least this often (seconds).
    type: float
    default: 60
  wait_timeout:
    description: Seconds the module follows the training at most before it fails naming the last round seen.
    type: float
    default: 1800
  server_timeout:
    description: Seconds a server that stopped answering during a training is waited for.
    type: float
    default: 300
  cross_site_validation:
    description: Wait after the training for the cross-site validation results and keep them in the summary.
    type: bool
    default: false
  validation_timeout:
    description: Seconds the cross-site validation may take after the training; the sites still validating are then
      stopped (C(abort client <site>), the engine's remedy) and named.
    type: float
    default: 300
  log_files:
    description: Where each log is (C(server) and each site mapped to C(host:path)), named in messages only.
    type: dict
    default: {}
  lock:
    description:
      - The project's run lock on this host, C(path) and the C(holder) the playbook took it as (the
        C(_provisioning_run_holder) fact). While the module follows a training it says the lock is alive (at most
        once a minute), so that a run of hours keeps it; a lock that is no longer this run's (broken by
        C(playbooks/stop.yml)) stops the following, the training itself left as it is. Empty, no lock is kept.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Train run 2 to its last round
  clarafl.federation.fl_training:
    container: clarafl-demo-admin
    username: admin@example.org
    record_dir: /opt/clarafl/demo/admin
    mmar: clarafl_demo
    sites: [org1-a, org1-b, org2]
    run_number: 2
  register: training
"""

RETURN = r"""
state:
  description: Where the training is - V(finished), V(started), V(training), V(left_alone) (a run this module did
    not start), V(needs_restart) (see RV(restart_sites)), V(rejoined) (O(state=rejoined)), V(starting) (the
    partner sites that had not joined were named; the next call deploys without them), or V(preview) in check
    mode.
  returned: always
  type: str
run_number:
  description: The run acted on.
  returned: always
  type: int
plan:
  description: The decision (action, message, deploy, stop_first, stale_sites) of the first step.
  returned: always
  type: dict
messages:
  description: What was done and why, in order (also printed while the module runs).
  returned: always
  type: list
  elements: str
restart_sites:
  description: The sites whose containers must be restarted (then call the module again with O(rejoin)).
  returned: always
  type: list
  elements: str
rejoined:
  description: For each site of O(rejoin), what was done to bring it back, in words.
  returned: always
  type: dict
progress:
  description: The last progress seen (run_number, round, max_round, contributions, elapsed).
  returned: always
  type: dict
summary:
  description: The run's summary (rounds_done, num_rounds, contributions, metrics, healed, cross_site_validation).
  returned: when the run finished
  type: dict
status:
  description: The last status read (see M(clarafl.federation.fl_admin_info)).
  returned: always
  type: dict
failures:
  description: The lines of the engine's logs that explain a failed training, per log (C(server), a site).
  returned: when the app failed
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.clarafl.federation.plugins.module_utils._admin_console import (
    CONSOLE_ARGS, Console, check_options)
from ansible_collections.clarafl.federation.plugins.module_utils._training import Records, Training
from ansible_collections.clarafl.federation.plugins.module_utils.docker_sdk import HAS_DOCKER
from ansible_collections.clarafl.federation.plugins.module_utils.federation import gpu_counts

TRAINING_ARGS = dict(
    state=dict(type="str", choices=["started", "finished", "rejoined"], default="finished"),
    run_number=dict(type="int"),
    restart=dict(type="bool", default=False),
    repeat_lost_run=dict(type="bool", default=True),
    mmar=dict(type="str"),
    staged=dict(type="path"),
    sites=dict(type="list", elements="str", required=True),
    partner_sites=dict(type="list", elements="str", default=[]),
    partner_contacts=dict(type="dict", default={}),
    partner_wait=dict(type="float", default=120),
    min_num_clients=dict(type="int"),
    gpus=dict(type="dict", default={}),
    num_rounds=dict(type="int"),
    record_dir=dict(type="path", required=True),
    rejoin=dict(type="list", elements="str", default=[]),
    registration_timeout=dict(type="float", default=180),
    unanswered_timeout=dict(type="float", default=90),
    stall_timeout=dict(type="float", default=120),
    diagnose_after=dict(type="float", default=20),
    max_recoveries=dict(type="int", default=2),
    progress_interval=dict(type="float", default=60),
    wait_timeout=dict(type="float", default=1800),
    server_timeout=dict(type="float", default=300),
    cross_site_validation=dict(type="bool", default=False),
    validation_timeout=dict(type="float", default=300),
    log_files=dict(type="dict", default={}),
    lock=dict(type="dict", default={}),
)


def main():
    module = AnsibleModule(argument_spec=dict(CONSOLE_ARGS, **TRAINING_ARGS), supports_check_mode=True)
    if not HAS_DOCKER:
        module.fail_json(msg=missing_required_lib("docker (the Docker SDK for Python)"))
    p = module.params
    problems = check_options(p)
    names = [n for n in p["sites"] + p["rejoin"] + [p["mmar"] or "-"] if len(n.split()) != 1 or "'" in n or '"' in n]
    if names:
        problems.append("sites, rejoin and mmar take names (one word each), got %s" % ", ".join(map(repr, names)))
    strangers = [n for n in p["rejoin"] if n not in p["sites"]]
    if strangers:
        problems.append("rejoin names sites that are not among sites (%s): %s" % (
            ", ".join(p["sites"]), ", ".join(map(repr, strangers))))
    p["gpus"], gpu_problems = gpu_counts(p["gpus"])
    if gpu_problems:
        problems.append("gpus maps each site to its number of GPUs (a whole number, at least 1): %s"
                        % "; ".join(gpu_problems))
    if problems:
        module.fail_json(msg="; ".join(problems))
    out = Training(Console(p), p, Records(p["record_dir"]), check_mode=module.check_mode).step()
    out["messages"] = out.pop("said")
    if out.pop("failed"):
        module.fail_json(**out)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
