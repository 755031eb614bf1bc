#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write an inventory like inventories/local for a federation of N sites on this machine.

    python bench/gen_inventory.py --sites 20 --out bench/work/inventories/sites20

writes ``OUT/hosts.yml`` (one host, ``localhost``, in the groups fl_server, fl_clients and fl_admin, with
the sites ``site01`` .. ``siteNN`` in its ``fl_sites``, spread over orgs ``org1`` .. ``orgK``, two sites per
org as in the local demo) and
``OUT/group_vars/all/main.yml`` (the local inventory's settings with a project name and ports
of its own: ``clarafl_bench<N>``, FL port 8302, admin port 8303, so that it never meets the
local demo on 8002/8003 or the integration tests on 8202/8203).
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import sys

DEFAULT_FED_PORT = 8302
DEFAULT_ADMIN_PORT = 8303
SITES_PER_ORG = 2
# An inventory host is a machine: this one runs the server, every site and the admin.
HOST = "localhost"
ADMIN_EMAIL = "admin@clarafl.bench"
SERVER_ORG = "clarafl"


def project_name(num_sites, prefix="clarafl_bench"):
    return "%s%d" % (prefix, num_sites)


def site_names(num_sites):
    """site01, site02, ... (at least two digits, so that they sort in order)."""
    width = max(2, len(str(num_sites)))
    return ["site%0*d" % (width, i) for i in range(1, num_sites + 1)]


def org_of(index, sites_per_org=SITES_PER_ORG):
    """org of the site at 0-based INDEX: org1 for the first sites_per_org sites, then org2, ..."""
    return "org%d" % (index // sites_per_org + 1)


def build_inventory(num_sites, project=None, fed_port=DEFAULT_FED_PORT, admin_port=DEFAULT_ADMIN_PORT,
                    sites_per_org=SITES_PER_ORG, extra_vars=None):
    """(hosts, group_vars) documents for NUM_SITES client sites, the server and the admin on this machine."""
    if int(num_sites) < 1:
        raise ValueError("the number of sites must be at least 1, got %r" % (num_sites,))
    if int(fed_port) == int(admin_port):
        raise ValueError("the FL port and the admin port must differ (both %s)" % fed_port)
    num_sites = int(num_sites)
    project = project or project_name(num_sites)
    names = site_names(num_sites)
    sites = []
    orgs = []
    for index, name in enumerate(names):
        org = org_of(index, sites_per_org)
        if org not in orgs:
            orgs.append(org)
        sites.append({"name": name, "org": org})
    hosts = {"all": {
        "vars": {
            "ansible_connection": "local",
            # As root, as inventories/local: the plays' become needs no sudo.
            "ansible_become": False,
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
        },
        "children": {
            "fl_server": {"hosts": {HOST: None}},
            "fl_clients": {"hosts": {HOST: {"fl_sites": sites}}},
            "fl_admin": {"hosts": {HOST: None}},
        },
    }}
    policies = {SERVER_ORG: "relaxed"}
    for org in orgs:
        policies[org] = "relaxed"
    group_vars = {
        # As inventories/local, with a project and ports of its own.
        "fl_project_name": project,
        "fl_fed_learn_port": int(fed_port),
        "fl_admin_port": int(admin_port),
        "clara_image_source": "build",
        "clara_image_sdk_version": "v4.0",
        "clara_image_build_ca_bundle": "/etc/ssl/certs/ca-certificates.crt",
        "zerotier_enabled": False,
        "docker_manage_engine": False,
        "docker_nvidia": False,
        "fl_server_org": SERVER_ORG,
        "fl_server_cn": "localhost",
        "fl_admins": [{"email": ADMIN_EMAIL, "org": SERVER_ORG, "roles": ["super"]}],
        "fl_org_policies": policies,
        "fl_server_ulimits": ["stack:67108864:67108864"],
        "fl_client_ulimits": ["stack:67108864:67108864"],
        "fl_client_demo_data": True,
        "fl_dataset_root": "/var/lib/clarafl/{{ fl_project_name }}/data",
        # Generous limits: 20 sites on a busy 2-core machine register slowly. Limits only, they
        # change no timing unless a step would otherwise fail.
        "fl_server_start_timeout": 600,
        "fl_admin_registration_timeout": 1200,
        "fl_admin_wait_timeout": 3600,
    }
    group_vars.update(extra_vars or {})
    return hosts, group_vars


def _dump(doc):
    """YAML as the repository writes it (lists indented under their key, as yamllint and ansible-lint want)."""
    try:
        import yaml  # pylint: disable=import-outside-toplevel
    except ImportError:  # JSON is YAML too
        return json.dumps(doc, indent=2, sort_keys=False) + "\n"

    class _IndentedDumper(yaml.SafeDumper):  # pylint: disable=too-many-ancestors
        def increase_indent(self, flow=False, indentless=False):
            return super(_IndentedDumper, self).increase_indent(flow, False)

    return yaml.dump(doc, Dumper=_IndentedDumper, default_flow_style=False, sort_keys=False)


def write_inventory(out_dir, num_sites, **kwargs):
    """Write OUT_DIR/hosts.yml and OUT_DIR/group_vars/all/main.yml; returns the path of hosts.yml."""
    hosts, group_vars = build_inventory(num_sites, **kwargs)
    vars_dir = os.path.join(out_dir, "group_vars", "all")
    if not os.path.isdir(vars_dir):
        os.makedirs(vars_dir)
    hosts_path = os.path.join(out_dir, "hosts.yml")
    header = "---\n# Written by bench/gen_inventory.py: %d site(s) on this machine, project %s.\n" % (
        int(num_sites), group_vars["fl_project_name"])
    with open(hosts_path, "w", encoding="utf-8") as fh:
        fh.write(header + _dump(hosts))
    with open(os.path.join(vars_dir, "main.yml"), "w", encoding="utf-8") as fh:
        fh.write(header + _dump(group_vars))
    return hosts_path


def main(argv=None):
    parser = argparse.ArgumentParser(description="Write a local inventory for a federation of N sites.")
    parser.add_argument("--sites", type=int, required=True, help="number of client sites")
    parser.add_argument("--out", required=True, help="folder to write hosts.yml and group_vars/ into")
    parser.add_argument("--project", default=None, help="fl_project_name (default clarafl_bench<N>)")
    parser.add_argument("--fed-port", type=int, default=DEFAULT_FED_PORT)
    parser.add_argument("--admin-port", type=int, default=DEFAULT_ADMIN_PORT)
    parser.add_argument("--sites-per-org", type=int, default=SITES_PER_ORG)
    args = parser.parse_args(argv)
    try:
        path = write_inventory(args.out, args.sites, project=args.project, fed_port=args.fed_port,
                               admin_port=args.admin_port, sites_per_org=args.sites_per_org)
    except ValueError as exc:
        print("gen_inventory.py: error: %s" % exc, file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
