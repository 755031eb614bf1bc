# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that describe this ansible-playbook run for the project's run lock (see the fl_run_lock module)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import getpass
import os
import socket
import uuid

from ansible.errors import AnsibleFilterError

from ansible_collections.clarafl.federation.plugins.module_utils.run_lock import (
    holder_stale,
    new_holder,
    pid_exists,
    playbook_pid,
)


def _user():
    try:
        return getpass.getuser()
    except Exception:  # pylint: disable=broad-except
        # no passwd entry and no LOGNAME/USER: KeyError, or OSError on Python 3.13
        return str(os.getuid())


def run_holder(playbook):
    """A fresh holder {token, controller, pid, user, playbook, started} for this ansible-playbook run."""
    if playbook is not None and not isinstance(playbook, str):
        raise AnsibleFilterError('run_holder expects the name of the playbook, got %s' % type(playbook).__name__)
    return new_holder(playbook, token=uuid.uuid4().hex, controller=socket.gethostname(), pid=playbook_pid(),
                      user=_user())


def run_lock_stale(holder):
    """True when holder is a run of this controller whose ansible-playbook process is over."""
    if holder is None:
        return False
    if not isinstance(holder, dict):
        raise AnsibleFilterError('run_lock_stale expects a dictionary, got %s' % type(holder).__name__)
    return holder_stale(holder, socket.gethostname(), exists=pid_exists)


class FilterModule(object):
    def filters(self):
        return {
            'run_holder': run_holder,
            'run_lock_stale': run_lock_stale,
        }
