#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: fl_admin_command
short_description: Send FL admin console commands and return their replies
version_added: 0.3.0
description:
  - Logs in to the FL server's admin port with an admin startup kit, sends admin commands in order on that one login
    (C(set_run_number), C(upload_folder), C(deploy), C(start), C(abort), C(shutdown), C(remove_client), C(tail),
    C(validate), ...), logs out, and returns each command's reply, its text and its verdict. Commands in, replies out -
    no waits, no retries.
  - Any error reply fails the task, naming the command and quoting the reply; the commands after it are not sent.
    Errors are recognised by the engine's dialect even when the engine does not prefix them with C(Error:), for
    example C(Please set a FL run number.), C(MMAR folder 'x' does not exist.) or C(Server training has not
    started.) after C(start client). C(check_status) does not fail when a site answers C(exception_occurred) or
    C(No replies); that is the site's status.
  - Before anything is sent, every command is checked, all at once, so that a typo never leaves half a sequence
    applied. A command the server does not know fails, and so does one that names a site the server has not
    registered (the engine itself answers C(start client <unknown>) with success and an empty reply). With O(sites),
    a site name outside that list fails even before connecting.
  - Commands the interactive console asks to confirm (C(shutdown), C(restart), C(remove_client),
    C(delete_run_number)) need no answer here; each result reports the command's confirmation mode.
  - To read the federation's status use M(clarafl.federation.fl_admin_info); to deploy, start and follow a training,
    M(clarafl.federation.fl_training).
author:
  - clarafl.federation maintainers (@clarafl)
extends_documentation_fragment:
  - clarafl.federation.console
  - clarafl.federation.attributes
attributes:
  check_mode:
    support: partial
    details: Only the commands that change nothing run (C(check_status), C(ls), C(tail), C(validate), ...); the others
      are listed in RV(skipped).
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
options:
  commands:
    description:
      - Admin commands to send in order on one login, exactly as typed at the console, for example
        C(set_run_number 1), C(deploy my_mmar client), C(start client site-1), C(abort client), C(shutdown server).
      - Console-only commands (C(bye), C(help), C(?)) are refused.
    type: list
    elements: str
    required: true
  sites:
    description:
      - The client sites the caller expects. A command naming another site fails before anything is sent.
      - When a site of this list is not registered with the server, the commands that change something on every
        client (C(deploy <app> client), C(start client), C(abort client), C(shutdown client), C(restart client))
        fail before anything is sent, naming the missing sites.
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: Stop the training and shut the federation down
  clarafl.federation.fl_admin_command:
    container: clarafl-demo-admin
    username: admin@example.org
    commands: [abort client, abort server, shutdown client, shutdown server]

- name: Read the end of a site's log
  clarafl.federation.fl_admin_command:
    commands: ["tail org1-a -n 50 log.txt"]
  module_defaults:
    group/clarafl.federation.admin:
      container: clarafl-demo-admin
      username: admin@example.org
  register: org1_log
"""

RETURN = r"""
results:
  description: One entry per command, in order (also when the module fails).
  returned: always
  type: list
  elements: dict
  contains:
    command:
      description: The command as sent.
      type: str
      returned: always
    ok:
      description: Whether its reply is not an error; null when it was not sent (check mode).
      type: bool
      returned: always
    text:
      description: The reply as the console would print it.
      type: str
      returned: always
    reply:
      description: The engine's reply structure (AdminAPI).
      type: dict
      returned: always
    changed:
      description: It changed something (a read-only command, or an abort with nothing to abort, did not).
      type: bool
      returned: always
    error:
      description: What made it an error.
      type: str
      returned: when not ok
    instances:
      description: The per-site lines of the reply (site, message).
      type: list
      elements: dict
      returned: when the reply has them
    confirm:
      description: The confirmation the interactive console asks for this command (auth, yesno).
      type: str
      returned: when it asks for one
    seconds:
      description: How long the command took.
      type: float
      returned: when sent
registered_sites:
  description: The sites the server had registered, when the commands named sites or O(sites) was given.
  returned: when read
  type: list
  elements: str
missing_sites:
  description: The sites of O(sites) that the server had not registered.
  returned: when O(sites) is given and the registrations were read
  type: list
  elements: str
skipped:
  description: In check mode, the commands that were not sent because they change something.
  returned: in check mode
  type: list
  elements: str
server:
  description: Where the admin server is (host, port, server_cn), from the options or the kit.
  returned: when the container was found
  type: dict
server_shutdown:
  description: The server shut down (C(shutdown server)) and closed its admin port.
  returned: when it did
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.clarafl.federation.plugins.module_utils._admin_console import (
    CONSOLE_ARGS, Console, ConsoleError, check_commands, check_options)
from ansible_collections.clarafl.federation.plugins.module_utils.docker_sdk import HAS_DOCKER


def main():
    module = AnsibleModule(
        argument_spec=dict(CONSOLE_ARGS, commands=dict(type="list", elements="str", required=True),
                           sites=dict(type="list", elements="str")),
        supports_check_mode=True,
    )
    if not HAS_DOCKER:
        module.fail_json(msg=missing_required_lib("docker (the Docker SDK for Python)"))
    p = module.params
    problems = check_options(p)
    if problems:
        module.fail_json(msg="; ".join(problems))
    ret = dict(changed=False, results=[])
    console = Console(p)
    try:
        commands = check_commands(p["commands"], p["sites"], console.dialect)
        if module.check_mode:
            ret["skipped"] = [c for c in commands if console.dialect.changes(c)]
        results, result = console.run(commands, expected_sites=p["sites"], check_mode=module.check_mode)
    except ConsoleError as exc:
        ret["results"] = exc.details.get("results") or []
        _registrations(ret, exc.details.get("result") or {}, p["sites"])
        ret["server"] = console.server
        module.fail_json(msg=str(exc), reason=exc.kind, **ret)
    ret.update(results=results, server=console.server)
    _registrations(ret, result, p["sites"])
    if result.get("server_shutdown"):
        ret["server_shutdown"] = True
    ret["changed"] = any(r.get("changed") for r in results) or bool(ret.get("skipped"))
    module.exit_json(**ret)


def _registrations(ret, result, sites):
    if result.get("registered") is not None:
        ret["registered_sites"] = result["registered"]
        if sites is not None:
            ret["missing_sites"] = [s for s in sites if s not in result["registered"]]


if __name__ == "__main__":
    main()
