#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: fl_server_handshake
short_description: Check from a site's machine that the FL server answers with the federation's certificate
version_added: 0.3.0
author: clarafl.federation maintainers (@clarafl)
description:
  - The FL server speaks gRPC over TLS and asks every site for its certificate. For each kit in O(kits), this module
    makes the TLS handshake the site's engine makes, from the managed host - to O(address) (else O(cn)) on O(port),
    the server's certificate verified against the kit's root CA for the name O(cn), the site's certificate and key
    presented - and then reads once, since a server that refuses a site's certificate says so right after the
    handshake.
  - The kit's root CA, certificate and key are read from its zip with its password into a private folder (0700,
    files 0600) for the handshake only, and removed after it. Nothing else is written, nothing is left behind.
  - Fails with one sentence per site that says where it stopped (the name does not resolve, the connection is
    refused or dropped, the server does not prove it is this federation's, it refuses the site's certificate) and
    what to ask the lead.
options:
  kits:
    description: The sites' kits on the managed host.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The site.
        type: str
        required: true
      src:
        description: Path of the kit's zip on the managed host.
        type: path
        required: true
      password:
        description: The zip's password.
        type: str
        required: true
      sha256:
        description: Not read (M(clarafl.federation.fl_partner_kit) checks the digest).
        type: str
  cn:
    description: The server's name, as the kits' C(fed_client.json) gives it (its certificate is issued for it).
    type: str
    required: true
  port:
    description: The server's FL port.
    type: int
    required: true
  address:
    description: Where to connect when the name O(cn) does not resolve on the host (C(fl_partner_server_address)).
    type: str
  timeout:
    description: Seconds to wait for the connection and for the handshake, each.
    type: float
    default: 10
  host:
    description: The machine's name in the messages (its inventory name); default its host name.
    type: str
extends_documentation_fragment:
  - clarafl.federation.attributes
attributes:
  check_mode:
    support: full
    details: It only connects and reads; the private folder of the handshake is removed at once.
  diff_mode:
    support: none
    details: Nothing is changed.
  platform:
    support: full
seealso:
  - module: clarafl.federation.fl_partner_kit
"""

EXAMPLES = r"""
- name: Check that the server answers this machine
  clarafl.federation.fl_server_handshake:
    kits:
      - {name: org2, src: /tmp/kits/org2.zip, password: "{{ fl_partner_kit_passwords['org2'] }}"}
    cn: fl-server.example.org
    port: 8002
"""

RETURN = r"""
sites:
  description: One entry per kit.
  returned: always
  type: list
  elements: dict
  contains:
    site:
      description: The site.
      type: str
    ok:
      description: Whether the server took the site's certificate.
      type: bool
    stage:
      description: Where the handshake ended - C(resolve), C(connect), C(tls), C(verify), C(refused), C(kit) or C(accepted).
      type: str
    error:
      description: What was said where it ended.
      type: str
    version:
      description: The TLS version agreed on.
      type: str
      returned: when it succeeded
    sentence:
      description: What is wrong and what to do; null when it succeeded.
      type: str
"""

import socket

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.clarafl.federation.plugins.module_utils.partner_join import check_server


def main():
    module = AnsibleModule(
        argument_spec=dict(
            kits=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str", required=True),
                src=dict(type="path", required=True),
                password=dict(type="str", required=True, no_log=True),
                sha256=dict(type="str"),
            )),
            cn=dict(type="str", required=True),
            port=dict(type="int", required=True),
            address=dict(type="str"),
            timeout=dict(type="float", default=10.0),
            host=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    sites = check_server(p["kits"], p["cn"], p["port"], address=p["address"] or None, timeout=p["timeout"],
                         host=p["host"] or socket.gethostname())
    failed = [s["sentence"] for s in sites if not s["ok"]]
    if failed:
        module.fail_json(msg=" ".join(failed), sites=sites)
    module.exit_json(changed=False, sites=sites)


if __name__ == "__main__":
    main()
