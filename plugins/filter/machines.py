# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that tell which inventory hosts are the same machine."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError


def machine_key(hostname, hostvars):
    """One key per machine: all local-connection hosts are the controller; others are their address and port."""
    hv = hostvars[hostname]
    connection = hv.get('ansible_connection') or 'ssh'
    if connection == 'local':
        return 'local'
    if connection in ('docker', 'community.docker.docker', 'podman', 'containers.podman.podman'):
        return '%s:%s' % (connection, hv.get('ansible_host') or hostname)
    return '%s:%s' % (hv.get('ansible_host') or hostname, hv.get('ansible_port') or 22)


def first_per_machine(hosts, hostvars):
    """Of HOSTS, the first inventory host on each machine, in order."""
    if not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError('first_per_machine expects a list of host names, got %s' % type(hosts).__name__)
    seen = set()
    leaders = []
    for host in hosts:
        key = machine_key(host, hostvars)
        if key not in seen:
            seen.add(key)
            leaders.append(host)
    return leaders


def machine_mates(hosts, host, hostvars):
    """Of HOSTS, the ones on the same machine as HOST, in order (HOST included when it is in HOSTS)."""
    if not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError('machine_mates expects a list of host names, got %s' % type(hosts).__name__)
    key = machine_key(host, hostvars)
    return [other for other in hosts if machine_key(other, hostvars) == key]


class FilterModule(object):
    def filters(self):
        return {
            'first_per_machine': first_per_machine,
            'machine_mates': machine_mates,
        }
