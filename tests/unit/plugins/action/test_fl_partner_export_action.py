# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller side of fl_partner_export (plugins/action/fl_partner_export.py): it reads from the provisioner (the
task's host, played here by a slurp of the real provisioner's zips) only the zips a folder lacks, writes the folders
on the controller, encrypts the passwords with Ansible Vault when asked, and says each failure in one sentence - with
no password in its result."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import os

import pytest
import yaml

from ansible_collections.clarafl.federation.plugins.action import fl_partner_export as action
from ansible_collections.clarafl.federation.plugins.module_utils.partners import export_plan

import partner_kits

SERVER = {"cn": "localhost", "address": "localhost", "fed_learn_port": 8002, "admin_port": 8003}
PARTNERS = [{"name": "org2", "org": "org2", "contact": "it@org2.example"}]


class Task(object):
    def __init__(self, args, check_mode=False):
        self.args = args
        self.check_mode = check_mode
        self.async_val = 0
        self.action = "clarafl.federation.fl_partner_export"


class Shell(object):
    tmpdir = "/tmp/x"


class Connection(object):
    _shell = Shell()


@pytest.fixture
def run(partner_runs, tmp_path):
    def go(run_name="first", dest=None, vault_password="", check_mode=False, packages=None):
        provisioned = partner_runs[run_name]
        plan = export_plan(list(provisioned["kits"].values()), PARTNERS, partner_kits.ADMINS, ["lead", "org1"],
                           "admin@lead.test")
        args = {"dest": dest or str(tmp_path / "partners"), "project": "pfed", "server": SERVER, "orgs": plan,
                "packages_dir": packages or provisioned["packages"], "vault_password": vault_password,
                "lead": "admin@lead.test"}
        plugin = action.ActionModule(Task(args, check_mode), Connection(), None, None, None, None)
        read = []

        def execute(module_name=None, module_args=None, task_vars=None):  # pylint: disable=unused-argument
            assert module_name == "ansible.builtin.slurp"
            read.append(os.path.basename(module_args["src"]))
            try:
                with open(module_args["src"], "rb") as handle:
                    return {"content": base64.b64encode(handle.read()).decode(), "encoding": "base64"}
            except IOError as exc:
                return {"failed": True, "msg": "file not found: %s" % exc.filename}
        plugin._execute_module = execute
        result = plugin.run(task_vars={"inventory_hostname": "provisioner"})
        return result, read, provisioned
    return go


def _secrets(provisioned):
    return [k["password"] for k in provisioned["kits"].values()]


def test_the_folders_are_written_on_the_controller_and_a_rerun_reads_nothing(run, tmp_path):
    result, read, provisioned = run()
    assert result["changed"] is True and not result.get("failed")
    assert sorted(read) == ["org2.zip", "res@org2.test.zip"]
    assert sorted(os.listdir(str(tmp_path / "partners" / "org2"))) == [
        "README.md", "org2.zip", "passwords.yml", "res@org2.test.zip"]
    assert result["summary"][0].startswith("org2: %s holds org2.zip (site org2, sha256 " % (tmp_path / "partners" / "org2"))
    shown = json.dumps(result)
    assert not any(secret in shown for secret in _secrets(provisioned))
    again, read, _provisioned = run()
    assert again["changed"] is False and read == []


def test_a_site_added_keeps_the_zip_handed_over(run, tmp_path):
    run()
    before = (tmp_path / "partners" / "org2" / "org2.zip").read_bytes()
    result, read, _provisioned = run("second")
    assert sorted(read) == ["org2.zip", "res@org2.test.zip"]  # read to compare, then kept
    assert result["changed"] is False and (tmp_path / "partners" / "org2" / "org2.zip").read_bytes() == before


def test_the_passwords_in_ansible_vault(run, tmp_path):
    result, _read, provisioned = run(vault_password="apart")
    vault_file = tmp_path / "partners" / "org2" / "passwords.vault.yml"
    plain_file = tmp_path / "partners" / "org2" / "passwords.yml"
    assert result["changed"] is True and vault_file.is_file() and not plain_file.exists()
    plain = action.Vault("apart").decrypt(vault_file.read_text())
    assert yaml.safe_load(plain)["fl_partner_kit_passwords"]["org2"] == provisioned["kits"]["org2"]["password"]
    assert action.Vault("not it").decrypt(vault_file.read_text()) is None
    assert "passwords.vault.yml" in result["summary"][0]


def test_check_mode_writes_nothing(run, tmp_path):
    result, _read, _provisioned = run(check_mode=True)
    assert result["changed"] is True and not (tmp_path / "partners").exists()


def test_failures_are_one_sentence(run, tmp_path):
    result, _read, _provisioned = run(dest="partners")
    assert result["failed"] is True and result["msg"] == (
        "The partners' kits cannot be exported to partners: the export folder partners must be an absolute path on the "
        "controller")
    result, _read, provisioned = run(packages=str(tmp_path / "gone"))
    assert result["failed"] is True
    assert result["msg"].startswith("The partners' kits cannot be exported to %s: cannot read %s/org2.zip on "
                                    "provisioner: file not found" % (tmp_path / "partners", tmp_path / "gone"))
    assert not any(secret in json.dumps(result) for secret in _secrets(provisioned))
