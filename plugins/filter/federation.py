# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that read the federation out of the inventory."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError


def fl_client_sites(hosts, hostvars):
    """[{name, org, host}] of the client hosts: fl_client_name (default the inventory name) and fl_org."""
    if not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError('fl_client_sites expects a list of host names, got %s' % type(hosts).__name__)
    sites = []
    for host in hosts:
        hv = hostvars[host]
        sites.append({
            'name': hv.get('fl_client_name') or host,
            'org': hv.get('fl_org') or '',
            'host': host,
        })
    return sites


class FilterModule(object):
    def filters(self):
        return {'fl_client_sites': fl_client_sites}
