# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the first play says when Ansible cannot become root on a host (module_utils/federation.py).

The results are the ones Ansible 2.19 registers for `id -u` through sudo over SSH (ignore_errors), read from real
runs against a container whose user's sudo wants a password, or who is not in the sudoers file."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.clarafl.federation.plugins.filter.federation import fl_become_problems
from ansible_collections.clarafl.federation.plugins.module_utils import federation as fed

ROOT = {"changed": False, "rc": 0, "stdout": "0", "stderr": "", "failed": False}
NO_PASSWORD = {"changed": False, "failed": True, "msg": "Task failed: Missing sudo password"}
WRONG_PASSWORD = {"changed": False, "failed": True, "msg": "Task failed: Incorrect sudo password"}
NOT_IN_SUDOERS = {"changed": False, "failed": True, "module_stderr": "ops is not in the sudoers file.",
                  "module_stdout": "", "msg": "Module result deserialization failed: No start of json char found",
                  "rc": 1}
HOSTVARS = {"gpu-a": {"ansible_user": "ops"}, "gpu-b": {"ansible_user": "ubuntu"}, "gpu-c": {}}


def test_root_everywhere_is_no_problem():
    assert fed.become_problems(["gpu-a", "gpu-b"], [ROOT, ROOT], HOSTVARS) == []


def test_a_sudo_that_asks_for_a_password_says_what_to_set():
    [problem] = fed.become_problems(["gpu-a", "gpu-b"], [NO_PASSWORD, ROOT], HOSTVARS)
    assert problem.startswith("gpu-a: sudo asks ops for a password")
    for hint in ("--ask-become-pass", "ansible_become_password", "Ansible Vault", "passwordless sudo"):
        assert hint in problem


def test_a_wrong_password_and_a_user_without_sudo():
    problems = fed.become_problems(["gpu-a", "gpu-b"], [WRONG_PASSWORD, dict(NOT_IN_SUDOERS)], HOSTVARS)
    assert problems[0].startswith("gpu-a: sudo refused the become password given for ops")
    assert "ansible_become_password" in problems[0]
    assert problems[1].startswith("gpu-b: ubuntu may not use sudo there")
    assert "ansible_user" in problems[1]


def test_no_sudo_another_user_and_anything_else():
    missing = {"failed": True, "rc": 127, "module_stderr": "/bin/sh: 1: sudo: not found", "msg": "MODULE FAILURE"}
    other = {"failed": False, "rc": 0, "stdout": "1000"}
    odd = {"failed": True, "msg": "Timeout (12s) waiting for privilege escalation prompt: "}
    problems = fed.become_problems(["gpu-a", "gpu-b", "gpu-c"], [missing, other, odd], HOSTVARS)
    assert problems[0] == ("gpu-a: sudo is not installed there: install it, or connect as root and set "
                           "ansible_become: false for that host.")
    assert "uid 1000, not root" in problems[1]
    assert problems[2].startswith("gpu-c: Ansible cannot become root there as the connecting user (Timeout")


def test_skipped_and_unreachable_hosts_are_left_to_ansible():
    assert fed.become_problems(["a", "b"], [{"skipped": True}, {"unreachable": True, "msg": "no route"}], {}) == []


def test_the_filter():
    assert fl_become_problems(["gpu-a"], [NO_PASSWORD], HOSTVARS)[0].startswith("gpu-a: sudo asks ops")
    assert fl_become_problems(["gpu-a"], [ROOT]) == []


# fl_host_check run through become: its result says the uid it ran as.
CHECKED = {"changed": False, "failed": False, "uid": 0, "problems": []}


def test_a_module_that_ran_as_root_is_no_problem():
    assert fed.become_problems(["gpu-a"], [CHECKED], HOSTVARS, module=True) == []


def test_a_module_that_ran_as_another_user_says_so():
    [problem] = fed.become_problems(["gpu-a"], [dict(CHECKED, uid=1000)], HOSTVARS, module=True)
    assert problem.startswith("gpu-a: become gives uid 1000, not root")


def test_a_module_stopped_by_sudo_says_what_to_set():
    problems = fed.become_problems(["gpu-a", "gpu-b", "gpu-c"], [NO_PASSWORD, WRONG_PASSWORD, NOT_IN_SUDOERS],
                                   HOSTVARS, module=True)
    assert [p.split(":")[0] for p in problems] == ["gpu-a", "gpu-b", "gpu-c"]
    assert "sudo asks ops for a password" in problems[0] and "wrong password" in problems[1]
    assert "may not use sudo there" in problems[2]


def test_a_module_failure_sudo_did_not_cause_is_not_a_become_problem():
    failed = {"changed": False, "failed": True, "msg": "Unsupported parameters for (fl_host_check) module: x"}
    assert fed.become_problems(["gpu-a"], [failed], HOSTVARS, module=True) == []
    assert fl_become_problems(["gpu-a"], [failed], HOSTVARS, module=True) == []
    # an `id -u` that failed so is one
    assert len(fed.become_problems(["gpu-a"], [failed], HOSTVARS)) == 1
