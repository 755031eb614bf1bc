#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: fl_site_files
short_description: Look at the startup kits and datasets of several FL sites on one host in one call
version_added: 0.1.0
author: clarafl.federation maintainers (@clarafl)
description:
  - For each site in O(sites), reports whether its startup kit is on the host (C(startup/client.crt) under
    O(sites[].kit_dir)) with the certificate's SHA-256, whether its dataset folder exists, and the text of the demo
    data's record (C(.clarafl-demo-data) in the dataset folder) when there is one.
  - The FL client role calls it once per machine for all the sites that machine runs, instead of one
    M(ansible.builtin.stat) per file and site.
  - With O(kit_root), also lists the site kits there of sites not in O(keep) (sites that left the federation); only
    kits the collection extracted (their record C(.kits/<site>.zip.extracted) is there), never one unzipped by hand.
  - Reads only; never changes anything.
options:
  kit_root:
    description:
      - The project's kit root on the host, to look for the kits of sites that left the federation.
    type: path
  keep:
    description:
      - Every site of the federation (on any host); a site kit in O(kit_root) of another name is reported in
        RV(departed).
    type: list
    elements: str
    default: []
  sites:
    description:
      - The sites to look at, as given by the output of the
        C(clarafl.federation.fl_machine_sites) filter (its other keys are accepted and not read).
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The site's name.
        type: str
        required: true
      kit_dir:
        description: The folder holding the site's startup kit.
        type: path
        required: true
      dataset_dir:
        description: The site's dataset folder, if it has one.
        type: path
      org:
        description: Not read.
        type: str
      gpus:
        description: Not read.
        type: raw
      demo_data:
        description: Not read.
        type: bool
      container:
        description: Not read.
        type: str
extends_documentation_fragment:
  - clarafl.federation.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    support: full
seealso:
  - module: ansible.builtin.stat
"""

EXAMPLES = r"""
- name: Look at two sites on one machine
  clarafl.federation.fl_site_files:
    sites:
      - name: org1-a
        kit_dir: /opt/clarafl/example_project/org1-a
        dataset_dir: /data/org1-a
      - name: org1-b
        kit_dir: /opt/clarafl/example_project/org1-b
  register: found

- name: Fail when a kit is missing
  ansible.builtin.assert:
    that: found.sites['org1-a'].kit
"""

RETURN = r"""
departed:
  description: Names of the site kits in O(kit_root) of sites not in O(keep); empty without O(kit_root).
  returned: always
  type: list
  elements: str
  sample: [org3]
departed_demo_data:
  description:
    - The demo data shares the collection wrote for the sites of RV(departed), by the record the demo tool kept of
      where each went (C(<kit_root>/.demo/records/<site>.json)).
  returned: always
  type: list
  elements: dict
  contains:
    site:
      description: The departed site.
      type: str
    dataset_dir:
      description: The folder its share was written to.
      type: str
    record:
      description: The record's path, relative to O(kit_root).
      type: str
  sample: [{site: org3, dataset_dir: /var/lib/clarafl/p/data/org3, record: .demo/records/org3.json}]
sites:
  description: One entry per site, by name.
  returned: always
  type: dict
  sample:
    org1-a: {kit: true, cert_sha256: 9f2c4e0a..., connection_sha256: 77ab01c2..., dataset: true, demo_marker: "site_index=0 num_sites=3 tool=4b1d..."}
  contains:
    kit:
      description: Whether C(startup/client.crt) is a readable file under the kit folder.
      type: bool
    cert_sha256:
      description: The certificate's SHA-256, or an empty string without a kit.
      type: str
    connection_sha256:
      description: The SHA-256 of the kit's C(startup/fed_client.json) (the server it connects to), or an empty string.
      type: str
    cert_error:
      description: Why a certificate that exists could not be read.
      type: str
      returned: when the certificate exists but cannot be read
    dataset:
      description: Whether the dataset folder exists (false without one).
      type: bool
    demo_marker:
      description: The text of the demo data's record, or an empty string when there is none.
      type: str
    log_size:
      description: The size in bytes of the engine's log in the kit folder (C(log.txt)), 0 when there is none.
      type: int
      version_added: 0.3.0
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.clarafl.federation.plugins.module_utils.site_files import (
    SiteFilesError,
    departed_demo_data,
    departed_kits,
    site_files,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            sites=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str", required=True),
                kit_dir=dict(type="path", required=True),
                dataset_dir=dict(type="path"),
                org=dict(type="str"),
                gpus=dict(type="raw"),
                demo_data=dict(type="bool"),
                container=dict(type="str"),
            )),
            kit_root=dict(type="path"),
            keep=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    try:
        found = site_files(module.params["sites"])
    except SiteFilesError as exc:
        module.fail_json(msg=str(exc))
    departed = departed_kits(module.params["kit_root"], module.params["keep"]) if module.params["kit_root"] else []
    demo = departed_demo_data(module.params["kit_root"], departed) if departed else []
    module.exit_json(changed=False, sites=found, departed=departed, departed_demo_data=demo)


if __name__ == "__main__":
    main()
