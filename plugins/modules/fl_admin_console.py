#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: fl_admin_console
short_description: Run Clara Train 4.0 FL admin console commands without a human
version_added: 0.1.0
description:
  - Logs in to the FL server's admin port with an admin startup kit, runs admin commands in order on that one
    login (C(set_run_number), C(upload_folder), C(deploy), C(start), C(abort), C(shutdown), C(check_status), ...),
    logs out, and returns each command's reply, its text and a verdict.
  - The engine's admin API (C(dlmed.hci.client.api.AdminAPI) of Clara Train 4.0, C(nvflare==1.0.x)) only loads on
    CPython 3.8, so it runs inside the admin container (a container of the Clara image with the admin kit mounted,
    kept running by the C(fl_admin) role). The module uses the Docker SDK for Python to execute a small driver
    program there with C(python3); nothing is installed into the container.
  - Any error reply fails the task, naming the command and quoting the reply; the commands after it are not sent.
  - "Errors are recognised even when the engine does not prefix them with C(Error:), for example
    C(Please set a FL run number.), C(MMAR folder 'x' does not exist.), C(Server training has not started.) after
    C(start client), C(There's invalid clients: x) or C(run_number can not be changed during the FL training.)"
  - C(check_status) does not fail when a site answers C(exception_occurred) or C(No replies); that becomes the
    site's status.
  - Before anything is sent, every command is checked - all at once, so a typo never leaves half a sequence
    applied. A command the server does not know fails, and so does one that names a client site that is not
    registered with the server (the engine itself would answer C(start client <unknown>) with success and an
    empty reply in some states). With O(sites), a site name outside that list fails even before connecting.
  - Commands that the interactive console asks to confirm (C(shutdown), C(restart), C(remove_client),
    C(delete_run_number) ask C(Confirm with User Name:)) need no answer here - the confirmation prompt belongs to
    the interactive console only; the admin API sends the command as it is. Each result reports the command's
    confirmation mode as C(confirm).
  - A connection failure (server down, wrong port or host, certificate of another provisioning run, wrong
    user name) fails with one sentence naming C(host:port) and what to check.
  - Instead of commands, O(wait_for) waits for the federation (every site answers, the training stopped or
    stalled), and O(rejoin) brings back sites whose containers were restarted (their old registration removed,
    the MMAR deployed to them and started when the server trains) and says what it did for each.
author:
  - clarafl.federation maintainers (@clarafl)
options:
  container:
    description:
      - Name or ID of the running admin container (a container of the Clara Train image, with the admin kit
        mounted at O(kit_dir) and the server's admin port reachable from it).
    type: str
    required: true
  kit_dir:
    description:
      - Path of the extracted admin startup kit inside the container (the directory that holds C(startup/)).
    type: str
    default: /workspace/admin
  username:
    description:
      - The admin's e-mail address, as provisioned (the login name the console asks for as C(User Name:)). It must
        match the kit's certificate.
    type: str
    required: true
  commands:
    description:
      - Admin commands to run in order on one login, exactly as typed at the console, for example
        C(set_run_number 1), C(upload_folder my_mmar), C(deploy my_mmar server), C(deploy my_mmar client),
        C(start server), C(start client site-1), C(check_status client), C(shutdown client).
      - Console-only commands (C(bye), C(help), C(?)) are refused.
      - In check mode only read-only commands run (C(check_status), C(sys_info), C(ls), C(cat), C(head), C(tail),
        C(grep), C(pwd), C(env), C(info), C(taskname), C(show_*), C(eval_*)); the others are returned in
        RV(skipped).
    type: list
    elements: str
    default: []
  status:
    description:
      - Also run C(check_status server) and C(check_status client) after the commands (also in check mode) and
        return them parsed in RV(status).
    type: bool
    default: false
  server_host:
    description:
      - Address of the FL server's admin port. By default the host the kit's C(startup/fl_admin.sh) names (Clara
        Train 4.0 kits; C(startup/fed_admin.json) for NVFlare 2.x kits), which is the server's C(cn).
    type: str
  server_port:
    description:
      - The FL server's admin port (C(admin_port) in C(project.yml)). By default the port the kit names.
    type: int
  server_cn:
    description:
      - Name the server's certificate must carry. The admin API does not check host names itself, so the module
        passes this name for it to compare. By default the host named in the kit (the provisioned C(cn)), which
        keeps the check when O(server_host) is an IP address. An empty string turns the name check off (the
        certificate is still verified against the kit's root CA).
    type: str
  timeout:
    description:
      - Seconds to wait for each command's reply. A command that exceeds it fails the task, naming the command; the
        commands after it are not sent.
      - The login waits at least 10 seconds, whatever this is.
    type: float
    default: 60
  upload_dir:
    description:
      - Directory inside the container that C(upload_folder <name>) reads C(<name>) from, and where the
        C(download_*) commands write. Created when missing.
      - Defaults to O(kit_dir)C(/transfer), as the kit's C(fl_admin.sh) uses.
    type: str
  sites:
    description:
      - The client site names the caller expects. A command naming another site fails before anything is sent.
      - When a site in this list is not registered with the server, the mutating commands that act on every client
        (C(deploy <app> client), C(start client), C(abort client), C(shutdown client), C(restart client)) fail
        before anything is sent, naming the missing sites; RV(missing_sites) lists them.
      - Independently of this option, a command naming a site that is not registered with the server always fails
        before anything is sent.
    type: list
    elements: str
  docker_host:
    description:
      - Docker daemon to use, for example V(unix:///var/run/docker.sock) or V(tcp://host:2375). By default the
        environment's C(DOCKER_HOST), else the local socket.
    type: str
  watch:
    description:
      - After the commands, follow the training for up to this many seconds, reading C(check_status server)
        every O(watch_interval) seconds, and return as soon as the round or the server status changes.
      - The engine resets the client table when a run ends; reading it often keeps each site's contributions.
        The readings are returned in RV(history), the highest count per site in RV(contributions).
      - V(0) does not watch.
    type: float
    default: 0
  watch_interval:
    description: Seconds between two readings of O(watch).
    type: float
    default: 1
  wait_for:
    description:
      - The one wait of the admin side. Instead of commands, read the status until this holds or O(wait_timeout)
        passes, and say which it was in RV(waited) (a condition that does not hold in time does not fail the module).
      - V(registered) - every site in O(sites) answers the server (C(check_status client)); registered is not yet
        reachable, and a C(deploy) sent right after registration reaches only some sites.
      - V(stopped) - the training stopped after it was seen training, following it as O(watch) does, with
        RV(history) and RV(contributions) over the whole wait. With O(stall_timeout), the wait also ends when the
        round has not moved for that long while the server trains; RV(waited.lagging_sites) names the sites that
        lag behind the others (not registered, not training, or fewer contributions).
      - V(validated) - the cross-site validation after a training. Reads C(validate all) into RV(waited.matrix)
        until every model has a result on every site in O(sites), or no site has been validating (status
        C(cross site validation)) for 15 s. A site that opted out or whose validation failed leaves its cells
        missing (said in the C(missing) list of RV(waited.matrix)); on O(wait_timeout), RV(waited.validating_sites) names the sites
        still validating (the engine's remedy, C(abort client <site>), is left to the caller).
    type: str
    choices: [registered, stopped, validated]
  wait_timeout:
    description:
      - Seconds O(wait_for) waits at most.
      - With O(rejoin), seconds the sites together have to answer the server again (counted from the start of the
        task, the server's own start included when it is still starting).
    type: float
    default: 180
  stall_timeout:
    description: With O(wait_for=stopped), seconds without a new round after which the training counts as stalled; V(0) never.
    type: float
    default: 0
  seen_training:
    description: With O(wait_for=stopped), the training was already seen training (by an earlier wait of the same run).
    type: bool
    default: false
  started:
    description:
      - With O(wait_for=stopped), this play has just started the training. A run short enough to end before the first
        reading is then recognised from the server's log (every round aggregated since its latest start) instead of
        being waited on until O(wait_timeout).
    type: bool
    default: false
  log_files:
    description:
      - Where the engine's logs are, for the messages only - C(server) and each site name mapped to the place of its
        C(log.txt) (for example V(fl-server:/opt/clarafl/demo/server/log.txt)). The module reads the logs through the
        console (C(tail server -n 200 log.txt)), never from these paths.
    type: dict
    default: {}
  diagnose_after:
    description:
      - With O(wait_for=stopped), seconds without a new round after which the engine's logs (server and registered
        sites) are read; a training attempt that failed there (a traceback, or the engine's C(execution exception))
        stops the training (C(abort client), C(abort server)) and fails the module quoting those lines and naming
        the log. An app that cannot start is not a site that hangs. V(0) never reads them.
      - When a C(deploy), C(start) or C(upload_folder) command fails, the logs are read too and quoted in the
        message (not with V(0)).
    type: float
    default: 20
  hung_start:
    description:
      - What to do when sites answer C(start client) with C(No replies) and, after the module waited and sent them
        their own C(start client) once more (about 30 s in all), still do not train.
      - V(fail) fails the module and names each such site with its status.
      - V(report) succeeds and lists them in RV(hung_sites). The engine's client can hang in its start and then answers
        nothing; the P(clarafl.federation.fl_admin#role) role restarts those sites and brings them back into the
        training that is running with O(rejoin).
    type: str
    choices: [fail, report]
    default: fail
  rejoin:
    description:
      - The one place of recovery. Instead of commands, bring back these sites, whose containers the caller has just
        restarted (a site that hung, or that died), and say in RV(rejoined) what was done for each.
      - "For each site: an old registration that no longer answers is removed (C(remove_client SITE): the server
        refuses a restarted site's new registration while the old one lives; the engine answers C(Server did not
        respond) although it removes it, so that answer is no failure); the module then waits, reading the
        status every 5 seconds, until every site answers the server (C(check_status client)), at most
        O(wait_timeout) seconds; a site that answers while the server trains and it does not is given the MMAR
        (C(deploy MMAR client SITE)) and started (C(start client SITE), or C(start_mgpu client <n> SITE) for a site
        of O(rejoin_gpus)) in the running training, so that it contributes again."
      - Fails, naming them, when sites do not answer in time (the others are brought back first), when a deploy or
        start fails while the server still trains, and when a site must join the training but O(mmar) is not set.
      - The deploy and the start wait at least 120 seconds each (O(timeout) when longer); a start that hangs
        fails as O(hung_start=fail) does.
      - In check mode the status is read once and nothing is sent; RV(rejoined) says what would be done.
      - An empty list does nothing and does not connect.
    type: list
    elements: str
  rejoin_gpus:
    description:
      - With O(rejoin), the sites that train on several GPUs, each with its GPU count, as the
        P(clarafl.federation.fl_multi_gpu_sites#filter) filter gives them. Such a site is started in the running
        training with C(start_mgpu client <n> SITE), as it was at the run's start; a site not listed, with
        C(start client SITE).
    type: dict
    default: {}
    version_added: 0.3.0
  mmar:
    description:
      - With O(rejoin), the name the running training's MMAR was uploaded under (the O(commands) C(upload_folder)
        and C(deploy) name), deployed to a site that must join the running training.
      - Only needed when a site is to be started in a running training; the module fails then without it.
    type: str
requirements:
  - docker (the Docker SDK for Python) on the managed host
  - A running admin container of the Clara Train 4.0 image (C(python3) with C(clara_hci)/C(dlmed) installed)
notes:
  - The driver runs as the container's default user; the kit's private key must be readable by it.
  - C(start client) right after C(start server) is normally accepted. When the server has not entered training
    (its app failed to load, or it is still stopping an aborted run), the engine answers
    C(Server training has not started.) and the task fails; poll RV(status) for C(training started) first to avoid
    that race.
  - The engine answers C(start server) with C(Server training is starting....) even when the app then fails to
    load; check RV(status) afterwards.
  - C(shutdown client) ends a healthy site's FL process (the kit's supervisor loop then exits). A site whose
    status is C(exception_occurred) answers with that, so the command fails, and its process keeps running.
  - C(restart client) is answered with C(Server did not respond) by the engine although the site restarts;
    the module reports that as a failure.
extends_documentation_fragment:
  - clarafl.federation.attributes
attributes:
  check_mode:
    support: partial
    details:
      - Only read-only commands (and O(status)) are sent; mutating commands are returned in RV(skipped) and make
        the result C(changed).
      - O(wait_for) waits as in a real run; O(rejoin) reads the status once and says what it would do.
  diff_mode:
    support: none
  platform:
    support: full
seealso:
  - module: clarafl.federation.kit_extract
  - module: clarafl.federation.provision_kits
"""

EXAMPLES = r"""
- name: Start a training run
  clarafl.federation.fl_admin_console:
    container: clarafl-example_project-admin
    username: admin@nvidia.com
    sites: [org1-a, org1-b, org2]
    commands:
      - set_run_number 1
      - upload_folder clara_pt_spleen_ct_segmentation
      - deploy clara_pt_spleen_ct_segmentation server
      - deploy clara_pt_spleen_ct_segmentation client
      - start server

- name: Wait until the server trains, then start every client
  clarafl.federation.fl_admin_console:
    container: clarafl-example_project-admin
    username: admin@nvidia.com
    status: true
  register: fl
  until: fl.status.server_status == 'training started'
  retries: 30
  delay: 2

- name: Start the clients
  clarafl.federation.fl_admin_console:
    container: clarafl-example_project-admin
    username: admin@nvidia.com
    sites: [org1-a, org1-b, org2]
    commands: [start client]

- name: Read the federation's status through an IP address, checking the certificate name
  clarafl.federation.fl_admin_console:
    container: clarafl-example_project-admin
    kit_dir: /workspace/admin
    username: admin@nvidia.com
    server_host: 10.147.17.5
    server_cn: fl-server.example.org
    status: true
  register: fl

- name: Bring back two sites whose containers were restarted, into the running training if there is one
  clarafl.federation.fl_admin_console:
    container: clarafl-example_project-admin
    username: admin@nvidia.com
    rejoin: [org1-b, org2]
    mmar: clara_pt_spleen_ct_segmentation
    wait_timeout: 180
  register: back

- name: Say what was done for each site
  ansible.builtin.debug:
    msg: "{{ back.rejoined }}"

- name: Stop everything (no confirmation prompt to answer)
  clarafl.federation.fl_admin_console:
    container: clarafl-example_project-admin
    username: admin@nvidia.com
    commands:
      - abort client
      - abort server
      - shutdown client
      - shutdown server
"""

RETURN = r"""
results:
  description: One entry per command, in order (up to the one that failed); with O(rejoin), the commands it sent.
  returned: always
  type: list
  elements: dict
  contains:
    command:
      description: The command as sent.
      type: str
      sample: deploy hello-numpy client
    ok:
      description: Whether the reply was a success; null for a command skipped in check mode.
      type: bool
      sample: true
    changed:
      description: Whether the command is mutating and succeeded (C(abort) with nothing running is not a change).
      type: bool
      sample: true
    text:
      description: The reply as the console would print it (strings, errors, tables).
      type: str
      sample: "instance:org1-b : MMAR deployed.\ninstance:org1-a : MMAR deployed."
    reply:
      description:
        - "The raw reply structure of C(AdminAPI.do_command): C({time, status, data}) where C(data) is a list of
          items C({type, data}) (C(type) V(string) or V(error)) or C({type: table, rows}); null when not sent."
      type: dict
      sample: {"time": "2026-11-27 18:40:13.510405", "status": "SUCCESS",
               "data": [{"type": "string", "data": "instance:org1-b : MMAR deployed.\n"}]}
    error:
      description: The lines that made the reply an error.
      type: str
      returned: when the reply is an error
      sample: MMAR folder 'nonexistent' does not exist.
    instances:
      description: "The per-site lines of the reply (C(instance:<site> : <message>))."
      type: list
      elements: dict
      returned: when the reply has per-site lines
      sample: [{"site": "org1-b", "message": "MMAR deployed."}]
    confirm:
      description:
        - The command's confirmation mode in the server's registry (V(none), V(auth), V(yesno)); the interactive
          console prompts for V(auth) and V(yesno), the module needs no answer.
      type: str
      returned: when known
      sample: auth
    skipped:
      description: True when check mode skipped this mutating command.
      type: bool
      returned: in check mode, for skipped commands
      sample: true
    seconds:
      description: How long the command took.
      type: float
      returned: when sent
      sample: 0.64
status:
  description:
    - The parsed C(check_status server) and C(check_status client) replies. Keys are absent when the engine did not
      print them (the round counters only appear while training).
    - C(run_number) is null when the server says C(FL run number has not been set.). C(server_status) is the
      engine's words (C(training not started), C(training started), C(training stopped)); the same words appear
      before a run is ever started and after it ends, so compare C(run_number) too.
  returned: when O(status=true), the commands succeeded and none shut the server down; with O(wait_for) and O(rejoin)
  type: dict
  contains:
    run_number:
      description: The FL run number, or null when not set.
      type: int
    server_status:
      description: The server's training status.
      type: str
    start_round:
      description: First round of the running training.
      type: int
    max_round:
      description: Number of rounds of the running training.
      type: int
    current_round:
      description: The current round.
      type: int
    min_num_clients:
      description: Minimum number of clients of the running training.
      type: int
    max_num_clients:
      description: Maximum number of clients of the running training.
      type: int
    registered_count:
      description: The server's count of registered clients.
      type: int
    registered_clients:
      description: Registered clients with C(name), C(token), C(last_accepted_round) (null before the first
        accepted round) and C(contribution_count).
      type: list
      elements: dict
    submitted_models:
      description: Number of clients that submitted models for the current round.
      type: int
    clients:
      description: C(check_status client) per site, C({token, status}); C(status) is the engine's words, or a
        problem such as C(exception_occurred) / C(No replies).
      type: dict
  sample:
    run_number: 1
    server_status: training started
    start_round: 0
    max_round: 3
    current_round: 0
    min_num_clients: 1
    max_num_clients: 100
    registered_count: 2
    registered_clients:
      - {name: org1-a, token: 160b3b6a-699d-44ba-b092-b71ef9d0ddba, last_accepted_round: 0, contribution_count: 1}
    submitted_models: 2
    clients:
      org1-a: {token: 160b3b6a-699d-44ba-b092-b71ef9d0ddba, status: training started}
server_shutdown:
  description:
    - True when C(shutdown server) shut the server down (its admin port closes, so no status is read afterwards
      and commands listed after it fail without being sent).
  returned: when the server was shut down
  type: bool
  sample: true
registered_sites:
  description: The client sites registered with the server when the commands were checked.
  returned: when the registered sites were read (site checks, O(sites) or O(status))
  type: list
  elements: str
  sample: [org1-a, org1-b, org2]
missing_sites:
  description: Sites in O(sites) that are not registered with the server.
  returned: when O(sites) is set and the registered sites were read
  type: list
  elements: str
  sample: []
failures:
  description:
    - The lines of the engine's logs that explain a failed training attempt, per log (C(server) or a site), as
      quoted in the message.
  returned: when the training failed (see O(diagnose_after)), or a deploy or start failed and the logs explain it
  type: dict
  sample:
    org2:
      - "FL client execution exception: Config error in /tmp/fl/org2/config_train.json: ... No module named 'torchio'"
      - "ModuleNotFoundError: No module named 'torchio'"
hung_sites:
  description: The sites that did not start although every other site did (see O(hung_start)).
  returned: when O(hung_start=report)
  type: list
  elements: str
  sample: [site09]
skipped:
  description: The mutating commands that check mode did not send.
  returned: in check mode
  type: list
  elements: str
  sample: [set_run_number 2]
server:
  description: The admin server address used and the certificate name checked.
  returned: when the address was determined
  type: dict
  contains:
    host:
      description: Host name or address.
      type: str
    port:
      description: Admin port.
      type: int
    server_cn:
      description: Name the server certificate was checked against (null when not checked).
      type: str
  sample: {"host": "fl-server.example.org", "port": 8003, "server_cn": "fl-server.example.org"}
history:
  description: With O(watch), the parsed server status of each reading, with its C(time) (seconds since the epoch).
  returned: when O(watch) is set
  type: list
  elements: dict
contributions:
  description: With O(watch), the highest contribution count seen for each site.
  returned: when O(watch) is set
  type: dict
  sample: {"org1-a": 3, "org1-b": 3}
waited:
  description: With O(wait_for), how the wait ended.
  returned: when O(wait_for) is set
  type: dict
  contains:
    done:
      description: The condition holds.
      type: bool
    stalled:
      description: The training made no progress for O(stall_timeout) seconds.
      type: bool
    timed_out:
      description: O(wait_timeout) passed first.
      type: bool
    lagging_sites:
      description: When stalled, the sites that lag behind the others.
      type: list
      elements: str
    missing_sites:
      description: With O(wait_for=registered), the sites that do not answer yet.
      type: list
      elements: str
    validating_sites:
      description: With O(wait_for=validated), the sites still validating when the wait ended.
      type: list
      elements: str
    matrix:
      description:
        - With O(wait_for=validated), the results of C(validate all) as the C(clarafl.federation.fl_validation_matrix)
          filter returns them (models, sites, values, metric, metrics, missing, problems, state) plus C(lines), the
          table.
      type: dict
    seen_training:
      description: The training was seen training (during this wait or, with O(seen_training), before).
      type: bool
    failed:
      description:
        - A training attempt failed in the engine's logs (see O(diagnose_after)); the module then fails with the lines
          in RV(failures), so a successful result always has V(false).
      type: bool
    rounds_done:
      description:
        - With O(wait_for=stopped) and the training ended, the rounds the server aggregated in its latest training,
          from the server's own log (one C(Aggregation time for the round N) line per round); null when the log does
          not show it.
      type: int
    num_rounds:
      description: The highest C(max round) the server showed during the wait (its num_rounds); null when never seen.
      type: int
    seconds:
      description: How long the wait took.
      type: float
rejoined:
  description:
    - With O(rejoin), what was done for each site, in order, in words (in check mode, what would be done).
    - The steps, in these words - removed its old registration; asked the server to remove its old registration,
      with the engine's answer when that was an error; answers the server, with the site's status; trains in the
      running training; deployed MMAR to it and started it in the running training, with the round; the training
      ended before the site could be started in it; did not answer the server within N s.
  returned: when O(rejoin) is set (also when the module fails while bringing sites back)
  type: dict
  sample:
    org2:
      - removed its old registration
      - answers the server (training not started)
      - deployed clarafl_demo to it and started it in the running training (round 3)
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.clarafl.federation.plugins.module_utils.cross_validation import (
    matrix_lines,
    validation_matrix,
)
from ansible_collections.clarafl.federation.plugins.module_utils.engine_log import (
    failure_lines,
    quote_failures,
    rounds_aggregated,
    rounds_commands,
    tail_command,
)
from ansible_collections.clarafl.federation.plugins.module_utils.federation import gpu_counts
from ansible_collections.clarafl.federation.plugins.module_utils.docker_sdk import HAS_DOCKER
from ansible_collections.clarafl.federation.plugins.module_utils.admin_console import (
    DEFAULT_KIT_DIR,
    LATE_START_WAIT,
    AdminConsoleError,
    build_driver_args,
    build_results,
    classify_reply,
    command_sites,
    command_verb,
    docker_client,
    failure_message,
    get_running_container,
    http_timeout_for,
    is_mutating,
    parse_status,
    rejoin,
    resolve_endpoint,
    run_console,
    summarize_watch,
    validate_commands,
    wait,
)

# The deploy and the start that bring a site into a running training wait at least this long each.
REJOIN_COMMAND_TIMEOUT = 120
# Commands whose failure the engine explains only in its logs.
EXPLAINED_VERBS = ("deploy", "start", "upload_folder")


def console_session(p, ret, n_commands=0, extra_seconds=0.0):
    """(container, host, port, server_cn) of the admin console the options name; fills ret["server"]."""
    client = docker_client(p["docker_host"], timeout=http_timeout_for(n_commands, p["timeout"]) + 60 + extra_seconds)
    container = get_running_container(client, p["container"])
    host, port, kit_host = resolve_endpoint(container, p["kit_dir"], p["server_host"], p["server_port"])
    server_cn = kit_host if p["server_cn"] is None else (p["server_cn"] or None)
    ret["server"] = dict(host=host, port=port, server_cn=server_cn)
    return container, host, port, server_cn


def status_reader(p, session):
    """read(watch=0): (status, history, contributions) of one console session that reads the status."""
    container, host, port, server_cn = session

    def read(watch=0):
        driver_args = build_driver_args(
            [], p["username"].strip(), host, port, kit_dir=p["kit_dir"], server_cn=server_cn,
            upload_dir=p["upload_dir"], timeout=p["timeout"], status=True, expected_sites=p["sites"],
            run_mask=[], watch=watch, watch_interval=p["watch_interval"])
        result = run_console(container, driver_args)
        if not result.get("ok"):
            raise AdminConsoleError(failure_message(result, [], host, port, p["username"], p["container"],
                                                    p["kit_dir"]), kind=result.get("error_kind") or "console")
        replies = result.get("status_replies") or {}
        for which in ("server", "client"):
            verdict = classify_reply("check_status " + which, replies.get(which))
            if not verdict["ok"]:
                raise AdminConsoleError("Reading the status with 'check_status %s' from the FL server at %s:%s "
                                        "failed: %s" % (which, host, port, verdict["error"]), kind="status")
        history, contributions = summarize_watch(result.get("watch_replies")) if watch else ([], {})
        return parse_status(replies.get("server"), replies.get("client")), history, contributions
    return read


def reader(p, session):
    """read(commands): {command: reply text} of the read-only commands that got a reply, in one console session
    (a command the engine refuses ends the session; the ones before it count)."""
    container, host, port, server_cn = session

    def read(commands):
        driver_args = build_driver_args(
            commands, p["username"].strip(), host, port, kit_dir=p["kit_dir"], server_cn=server_cn,
            upload_dir=p["upload_dir"], timeout=p["timeout"])
        results = build_results(run_console(container, driver_args), commands)
        # A reply judged an error still holds what was read (a log's lines are file content).
        return dict((r["command"], r.get("text") or "") for r in results if r.get("ok") or r.get("reply"))
    return read


def explained_targets(command, results, registered):
    """The logs that explain a failed deploy, start or upload: the server's when the command was for the server or
    the server had not started its training; else the server's and those of the registered sites it was for (a
    site that was not sent a start has no new attempt in its log, only older ones)."""
    error = (results[-1].get("error") or "") if results else ""
    sites, every = command_sites(command)
    if not (sites or every) or "training has not started" in error.lower():
        return ["server"]
    return ["server"] + [s for s in (registered or []) if every or s in sites]


def log_targets(status, sites):
    """The server and the sites of SITES that are registered (the console reads only their logs)."""
    registered = [c.get("name") for c in status.get("registered_clients") or []]
    return ["server"] + [s for s in sites or [] if s in registered]


def read_failures(read, targets):
    """{target: [lines]} of the logs that show a failed training attempt (engine_log.failure_lines)."""
    texts = read([tail_command(t) for t in targets])
    failures = {}
    for target in targets:
        lines = failure_lines(texts.get(tail_command(target), ""))
        if lines:
            failures[target] = lines
    return failures


def failures_message(failures, log_files):
    return "\n".join(["The engine's logs say why (the latest training attempt):"] + quote_failures(failures, log_files))


def run_wait(module, p, ret):
    """wait_for: read the status, one console session at a time, until the condition holds; exits the module."""
    try:
        session = console_session(p, ret, extra_seconds=p["timeout"])
        read = status_reader(p, session)
        read_logs = reader(p, session)
        diagnose = None
        if p["wait_for"] == "stopped" and p["diagnose_after"] > 0:
            def diagnose(status):
                return read_failures(read_logs, log_targets(status, p["sites"]))

        def finished(status):
            texts = read_logs(rounds_commands())
            done = rounds_aggregated(*[texts.get(c) for c in rounds_commands()])
            last = status.get("max_round")
            return isinstance(last, int) and last > 0 and done is not None and done >= last

        validation = None
        if p["wait_for"] == "validated":
            def validation():
                return validation_matrix(read_logs(["validate all"]).get("validate all"), sites=p["sites"] or [])
        out = wait(read, p["wait_for"], p["wait_timeout"], sites=p["sites"] or [], stall_timeout=p["stall_timeout"],
                   seen_training=p["seen_training"], diagnose=diagnose, diagnose_after=p["diagnose_after"] or 20,
                   validation=validation, interval=5.0 if validation else 2.0,
                   finished=finished if p["wait_for"] == "stopped" and p["started"] else None)
        if out.get("matrix") is not None:
            out["matrix"]["lines"] = matrix_lines(out["matrix"])
        if p["wait_for"] == "stopped":
            rounds = [h.get("max_round") for h in out["history"] + [out["status"]] if isinstance(h.get("max_round"), int)]
            out["num_rounds"] = max(rounds) if rounds else None
            out["rounds_done"] = None
            if out["done"]:
                texts = read_logs(rounds_commands())
                out["rounds_done"] = rounds_aggregated(*[texts.get(c) for c in rounds_commands()])
    except AdminConsoleError as exc:
        module.fail_json(msg=str(exc), reason=exc.kind, **ret)
    if out.get("failed"):
        msg = "The training failed: %s" % failures_message(out["failures"], p["log_files"])
        if not module.check_mode:
            # A failed app leaves the server waiting for rounds that never come: stop it so that a fixed app
            # can be deployed by the next run.
            stop = ["abort client", "abort server"]
            try:
                stopped = build_results(run_console(session[0], build_driver_args(
                    stop, p["username"].strip(), session[1], session[2], kit_dir=p["kit_dir"], server_cn=session[3],
                    upload_dir=p["upload_dir"], timeout=p["timeout"])), stop)
                ret["results"].extend(stopped)
                ret["changed"] = True
                msg += "\nThe training was stopped (abort client, abort server): fix the app, then run again."
            except AdminConsoleError as exc:
                msg += "\nStopping the training failed too: %s" % exc
        ret["status"] = out.pop("status")
        ret["failures"] = out.pop("failures")
        module.fail_json(msg=msg, reason="training_failed", **ret)
    ret["status"] = out.pop("status")
    ret["history"] = out.pop("history")
    ret["contributions"] = out.pop("contributions")
    out["seconds"] = out.pop("waited")
    ret["waited"] = out
    module.exit_json(**ret)


def run_rejoin(module, p, ret):
    """rejoin: bring back the sites whose containers were restarted (admin_console.rejoin); exits the module."""
    command_timeout = max(p["timeout"], REJOIN_COMMAND_TIMEOUT)
    ret["rejoined"] = {}
    words = [name for name in p["rejoin"] + [p["mmar"] or "mmar"] if len(name.split()) != 1 or "'" in name or '"' in name]
    if words:
        module.fail_json(msg="rejoin and mmar take site and MMAR names (one word each), got %s"
                             % ", ".join(repr(w) for w in words), **ret)
    gpus, problems = gpu_counts(p["rejoin_gpus"])
    if problems:
        module.fail_json(msg="rejoin_gpus maps each site to its number of GPUs (a whole number, at least 1): %s"
                             % "; ".join(problems), **ret)
    if not p["rejoin"]:
        module.exit_json(**ret)
    try:
        validate_commands(["remove_client %s" % site for site in p["rejoin"]], p["sites"])
        session = console_session(p, ret, n_commands=2, extra_seconds=command_timeout * 2 + LATE_START_WAIT * 2)
        container, host, port, server_cn = session
        read = status_reader(p, session)

        def send(commands):
            commands = validate_commands(commands, p["sites"])
            driver_args = build_driver_args(
                commands, p["username"].strip(), host, port, kit_dir=p["kit_dir"], server_cn=server_cn,
                upload_dir=p["upload_dir"], timeout=command_timeout, expected_sites=p["sites"])
            result = run_console(container, driver_args)
            ret["results"].extend(build_results(result, commands))
            if not result.get("ok"):
                raise AdminConsoleError(failure_message(result, commands, host, port, p["username"], p["container"],
                                                        p["kit_dir"]), kind=result.get("error_kind") or "console")

        out = rejoin(lambda: read()[0], send, p["rejoin"], mmar=p["mmar"], timeout=p["wait_timeout"],
                     check_mode=module.check_mode, gpus=gpus)
    except AdminConsoleError as exc:
        if "rejoined" in exc.details:
            ret["rejoined"] = exc.details["rejoined"]
            ret["status"] = exc.details.get("status") or {}
        ret["changed"] = any(r.get("changed") for r in ret["results"])
        module.fail_json(msg=str(exc), reason=exc.kind, **ret)
    ret.update(rejoined=out["rejoined"], status=out["status"], changed=out["changed"])
    module.exit_json(**ret)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            container=dict(type="str", required=True),
            kit_dir=dict(type="str", default=DEFAULT_KIT_DIR),
            username=dict(type="str", required=True),
            commands=dict(type="list", elements="str", default=[]),
            status=dict(type="bool", default=False),
            server_host=dict(type="str"),
            server_port=dict(type="int"),
            server_cn=dict(type="str"),
            timeout=dict(type="float", default=60),
            upload_dir=dict(type="str"),
            sites=dict(type="list", elements="str"),
            docker_host=dict(type="str"),
            watch=dict(type="float", default=0),
            watch_interval=dict(type="float", default=1),
            hung_start=dict(type="str", default="fail", choices=["fail", "report"]),
            wait_for=dict(type="str", choices=["registered", "stopped", "validated"]),
            wait_timeout=dict(type="float", default=180),
            stall_timeout=dict(type="float", default=0),
            seen_training=dict(type="bool", default=False),
            started=dict(type="bool", default=False),
            rejoin=dict(type="list", elements="str"),
            rejoin_gpus=dict(type="dict", default={}),
            mmar=dict(type="str"),
            log_files=dict(type="dict", default={}),
            diagnose_after=dict(type="float", default=20),
        ),
        mutually_exclusive=[("wait_for", "commands"), ("wait_for", "watch"), ("rejoin", "commands"),
                            ("rejoin", "wait_for"), ("rejoin", "watch")],
        supports_check_mode=True,
    )
    if not HAS_DOCKER:
        module.fail_json(msg=missing_required_lib("docker (the Docker SDK for Python)"))
    p = module.params
    if p["timeout"] <= 0:
        module.fail_json(msg="timeout must be a positive number of seconds, got %s" % p["timeout"])
    if p["server_port"] is not None and not 0 < p["server_port"] < 65536:
        module.fail_json(msg="server_port must be a TCP port (1-65535), got %s" % p["server_port"])
    if not p["username"].strip():
        module.fail_json(msg="username must be the admin's e-mail address, got an empty string")

    ret = dict(changed=False, results=[])
    if p["wait_for"]:
        run_wait(module, p, ret)
    if p["rejoin"] is not None:
        run_rejoin(module, p, ret)
    try:
        commands = validate_commands(p["commands"], p["sites"])
        run_mask = [not module.check_mode or not is_mutating(c) for c in commands]
        skipped = [c for c, run in zip(commands, run_mask) if not run]
        if module.check_mode:
            ret["skipped"] = skipped
        # the Docker API read timeout must outlast the whole driver run
        client = docker_client(p["docker_host"],
                               timeout=http_timeout_for(len(commands), p["timeout"])
                               + ((p["watch"] + p["timeout"]) if p["watch"] else 0))
        container = get_running_container(client, p["container"])
        host, port, kit_host = resolve_endpoint(container, p["kit_dir"], p["server_host"], p["server_port"])
        server_cn = kit_host if p["server_cn"] is None else (p["server_cn"] or None)
        ret["server"] = dict(host=host, port=port, server_cn=server_cn)
        driver_args = build_driver_args(
            commands, p["username"].strip(), host, port, kit_dir=p["kit_dir"], server_cn=server_cn,
            upload_dir=p["upload_dir"], timeout=p["timeout"], status=p["status"], expected_sites=p["sites"],
            run_mask=run_mask, watch=p["watch"], watch_interval=p["watch_interval"], hung_start=p["hung_start"])
        result = run_console(container, driver_args)
    except AdminConsoleError as exc:
        module.fail_json(msg=str(exc), reason=exc.kind, **ret)

    ret["results"] = build_results(result, commands)
    if result.get("registered") is not None:
        ret["registered_sites"] = result["registered"]
        if p["sites"] is not None:
            ret["missing_sites"] = [s for s in p["sites"] if s not in result["registered"]]
    if not result.get("ok"):
        msg = failure_message(result, commands, host, port, p["username"], p["container"], p["kit_dir"])
        index = result.get("failed_index")
        if (p["diagnose_after"] > 0 and index is not None and index < len(commands)
                and command_verb(commands[index]) in EXPLAINED_VERBS):
            try:
                failures = read_failures(reader(p, (container, host, port, server_cn)),
                                         explained_targets(commands[index], ret["results"], result.get("registered")))
            except AdminConsoleError:
                failures = {}
            if failures:
                msg += "\n" + failures_message(failures, p["log_files"])
                ret["failures"] = failures
        module.fail_json(msg=msg, reason=result.get("error_kind"), **ret)
    if p["hung_start"] == "report":
        ret["hung_sites"] = result.get("hung_sites") or []
    if p["watch"]:
        ret["history"], ret["contributions"] = summarize_watch(result.get("watch_replies"))
    if result.get("server_shutdown"):
        ret["server_shutdown"] = True
    elif p["status"]:
        replies = result.get("status_replies") or {}
        for which in ("server", "client"):
            verdict = classify_reply("check_status " + which, replies.get(which))
            if not verdict["ok"]:
                module.fail_json(msg="Reading the status with 'check_status %s' from the FL server at %s:%s failed: %s"
                                     % (which, host, port, verdict["error"]), reason="status", **ret)
        ret["status"] = parse_status(replies.get("server"), replies.get("client"))
    ret["changed"] = any(r.get("changed") for r in ret["results"]) or (module.check_mode and bool(skipped))
    module.exit_json(**ret)


if __name__ == "__main__":
    main()
