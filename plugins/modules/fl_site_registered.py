#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: fl_site_registered
short_description: Wait until the FL sites of a machine say in their logs that the server registered them
version_added: 0.3.0
author: clarafl.federation maintainers (@clarafl)
description:
  - A site run by a partner organization cannot ask the server's admin console whether it registered; its engine
    says so in the site's log (C(Successfully registered client:<site>)). This module reads each site's log on the
    managed host until it does, at most O(timeout) seconds.
  - Only what a site's log holds after byte O(sites[].since) counts, so that a site whose container was started in
    this run is not taken as registered by an earlier process's line.
  - Fails with one sentence per site that did not register - the server still holds an earlier registration of it
    (it lets it go after its heartbeat timeout), the last thing its log said of the server, or nothing yet.
  - Reads only; never changes anything.
options:
  sites:
    description: The sites to wait for.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The site.
        type: str
        required: true
      log:
        description: The site's engine log (C(<kit folder>/log.txt)).
        type: path
        required: true
      since:
        description: Only the log after this many bytes counts (its size before the site's container started).
        type: int
        default: 0
  server:
    description: The server, as named in the messages (C(<cn>:<port>)).
    type: str
    required: true
  timeout:
    description: Seconds to wait for all the sites.
    type: int
    default: 180
  delay:
    description: Seconds between two readings of the logs.
    type: float
    default: 2
  host:
    description: The machine's name in the messages (its inventory name); default its host name.
    type: str
extends_documentation_fragment:
  - clarafl.federation.attributes
attributes:
  check_mode:
    support: full
    details: In check mode the logs are read once, without waiting.
  diff_mode:
    support: none
    details: Nothing is changed.
  platform:
    support: full
"""

EXAMPLES = r"""
- name: Wait until org2 has registered
  clarafl.federation.fl_site_registered:
    sites:
      - {name: org2, log: /opt/clarafl/spleen_federation/org2/log.txt}
    server: fl-server.example.org:8002
    timeout: 180
"""

RETURN = r"""
registered:
  description: The sites that registered.
  returned: always
  type: list
  elements: str
  sample: [org2]
waited:
  description: Seconds spent waiting.
  returned: always
  type: float
"""

import socket
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.clarafl.federation.plugins.module_utils.partner_join import (
    registration, registration_sentence)


def _read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (IOError, OSError):
        return b""


def main():
    module = AnsibleModule(
        argument_spec=dict(
            sites=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str", required=True),
                log=dict(type="path", required=True),
                since=dict(type="int", default=0),
            )),
            server=dict(type="str", required=True),
            timeout=dict(type="int", default=180),
            delay=dict(type="float", default=2.0),
            host=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    begun = time.time()
    while True:
        states = dict((s["name"], registration(_read(s["log"]), s["name"], s["since"])) for s in p["sites"])
        waiting = [name for name, state in states.items() if not state["registered"]]
        if not waiting or module.check_mode or time.time() - begun >= p["timeout"]:
            break
        time.sleep(p["delay"])
    registered = [s["name"] for s in p["sites"] if states[s["name"]]["registered"]]
    result = dict(changed=False, registered=registered, waited=round(time.time() - begun, 1))
    if waiting and not module.check_mode:
        logs = dict((s["name"], s["log"]) for s in p["sites"])
        host = p["host"] or socket.gethostname()
        module.fail_json(msg=" ".join(registration_sentence(states[name], name, host, logs[name], p["server"],
                                                            p["timeout"]) for name in waiting), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
