# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run an Ansible module's main() in-process the way Ansible does: arguments through the
module-args channel, the real exit_json/fail_json (so no_log masking applies), and the JSON
the module prints on stdout parsed back. Also a helper that runs a module through the real
`ansible` CLI against localhost."""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess
import sys

from ansible.module_utils import basic

try:  # ansible-core >= 2.19
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # pragma: no cover - older ansible-core
    import contextlib

    from ansible.module_utils.common.text.converters import to_bytes

    @contextlib.contextmanager
    def patch_module_args(args=None):
        old = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}))
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = old

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(REPO, ".collections")


def run_module(module, args, capsys, check_mode=False, diff=False):
    """Return the module's result dict (with 'failed' for failures) and the raw stdout."""
    args = dict(args)
    args["_ansible_check_mode"] = check_mode
    args["_ansible_diff"] = diff
    capsys.readouterr()
    with patch_module_args(args):
        try:
            module.main()
        except SystemExit:
            pass
        else:  # pragma: no cover - a module must always exit through exit_json/fail_json
            raise AssertionError("the module returned without exit_json/fail_json")
    out = capsys.readouterr().out
    return json.loads(out), out


def ansible_cli():
    path = os.path.join(os.path.dirname(sys.executable), "ansible")
    return path if os.path.exists(path) else None


def run_cli(module_name, args, tmp_path, extra=()):
    """Run `ansible localhost -m clarafl.federation.<module>` in a subprocess; return (rc, output)."""
    cfg = tmp_path / "ansible.cfg"
    cfg.write_text(u"[defaults]\n")  # keep any ansible.cfg of the caller out of the test
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS,
        "ANSIBLE_CONFIG": str(cfg),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-local"),
        "ANSIBLE_REMOTE_TEMP": str(tmp_path / "ansible-remote"),
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.minimal",
        "ANSIBLE_HOST_KEY_CHECKING": "0",
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
    })
    cmd = [ansible_cli(), "localhost", "-c", "local", "-i", "localhost,", "-m", "clarafl.federation." + module_name,
           "-a", json.dumps(args)] + list(extra)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=str(tmp_path),
                          timeout=300, check=False)
    return proc.returncode, proc.stdout.decode("utf-8", "replace")


class FakeClock(object):
    """A clock for the waits' clock= and sleep=: sleeping moves it on, no time passes."""

    def __init__(self, now=1000.0):
        self.now = now

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds
