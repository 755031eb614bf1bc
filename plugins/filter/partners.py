# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of a federation across organizations: the lead's partner sites, what each partner is handed, and what a
partner's own inventory needs to join (the work is in module_utils/partners.py and partner_join.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.errors import AnsibleFilterError

from ansible_collections.clarafl.federation.plugins.module_utils import federation, partner_join, partners


def _names(sites):
    if not isinstance(sites, (list, tuple)):
        raise AnsibleFilterError("expected a list of sites, got %s" % type(sites).__name__)
    return [s.get("name") if isinstance(s, dict) else s for s in sites]


def fl_partners(value):
    """fl_partner_sites, each {name, org, contact, required} (module_utils/partners.py partners)."""
    return partners.partners(value)


def fl_partner_clients(value, lead_sites=()):
    """The partner sites as clients of the provisioning project ({name, org, host}), beside the lead's LEAD_SITES."""
    return partners.project_clients(value, _names(lead_sites))


def fl_partner_export_plan(kits, value, admins, lead_orgs, super_admin=""):
    """What each partner organization is handed: [{org, contacts, kits}] (module_utils/partners.py export_plan)."""
    if not isinstance(kits, (list, tuple)):
        raise AnsibleFilterError("fl_partner_export_plan expects the provisioner's kits, got %s" % type(kits).__name__)
    try:
        return partners.export_plan(kits, value, admins, list(lead_orgs or []), super_admin or "")
    except ValueError as exc:
        raise AnsibleFilterError("fl_partner_export_plan: %s" % exc)


def fl_partner_join_problems(hosts, hostvars, passwords=None, digests=None, kit_dir=None, project=None):
    """What stops a partner's inventory from joining, one sentence each (module_utils/partner_join.py)."""
    hosts = list(hosts or [])
    host_vars = {}
    for host in hosts:
        hv = hostvars[host]
        host_vars[host] = dict((k, hv.get(k)) for k in ("fl_sites", "fl_client_name", "fl_org") if k in hv)
    return partner_join.join_problems(hosts, host_vars, passwords, digests, kit_dir, project)


def fl_partner_kit_checks(sites, kit_dir, passwords=None, digests=None):
    """The kits clarafl.federation.fl_partner_kit checks for the sites of one machine: [{name, src, password, sha256}]."""
    if not isinstance(sites, (list, tuple)):
        raise AnsibleFilterError("fl_partner_kit_checks expects the machine's sites, got %s" % type(sites).__name__)
    return partner_join.kit_checks(sites, kit_dir, passwords or {}, digests or {})


def fl_partner_kit_installs(sites, kit_root, passwords, checked):
    """clarafl.federation.kit_extract's kits for the sites of one partner machine, from the zips handed over."""
    if not isinstance(sites, (list, tuple)):
        raise AnsibleFilterError("fl_partner_kit_installs expects the machine's sites, got %s" % type(sites).__name__)
    return partner_join.kit_installs(sites, kit_root, passwords or {}, checked or [])


def fl_partner_registrations(sites, files, containers):
    """The logs clarafl.federation.fl_site_registered reads for the sites of one machine: [{name, log, since}]; a
    site whose container fl_containers (re)started counts only after the size its log had before (FILES)."""
    out = []
    for site in sites or []:
        action = ((containers or {}).get(site["container"]) or {}).get("action", "none")
        since = 0 if action == "none" else int(((files or {}).get(site["name"]) or {}).get("log_size") or 0)
        out.append({"name": site["name"], "log": "%s/log.txt" % str(site["kit_dir"]).rstrip("/"), "since": since})
    return out


def fl_partner_container_filters(project, sites=None):
    """docker_host_info's containers_filters for a project's containers on a machine: with SITES (a partner
    organization's sites on it), only those sites' containers, by name."""
    filters = {"label": "org.clarafl.project=%s" % project}
    if sites is not None:
        names = [federation.container_name(project, s["name"] if isinstance(s, dict) else s) for s in sites]
        # No site: a name no container has, so that nothing is matched.
        filters["name"] = ["^/?%s$" % re.escape(n) for n in names] or ["^/?%s$" % re.escape(federation.container_name(project, ""))]
    return filters


class FilterModule(object):
    def filters(self):
        return {"fl_partners": fl_partners, "fl_partner_clients": fl_partner_clients,
                "fl_partner_export_plan": fl_partner_export_plan,
                "fl_partner_join_problems": fl_partner_join_problems,
                "fl_partner_kit_checks": fl_partner_kit_checks, "fl_partner_kit_installs": fl_partner_kit_installs,
                "fl_partner_registrations": fl_partner_registrations,
                "fl_partner_container_filters": fl_partner_container_filters}
