# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of clarafl.federation.fl_partner_export: the zips are on the provisioner (the task's host), the
export folder is on the controller. The zips a folder lacks are read from the provisioner with slurp; the folders are
written here, by plain functions (module_utils/partners.py); the passwords file is encrypted with Ansible Vault's own
library when a vault password is given."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import posixpath

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.parsing.vault import VaultLib, VaultSecret
from ansible.plugins.action import ActionBase

from ansible_collections.clarafl.federation.plugins.module_utils.kit_archive import KitArchiveError
from ansible_collections.clarafl.federation.plugins.module_utils.partners import (
    EXPORT_SPEC, ExportError, export, summary)


class Vault(object):
    """Ansible Vault with one password: encrypt a text, decrypt one (None when it is no vault of that password)."""

    def __init__(self, password):
        self.lib = VaultLib([("default", VaultSecret(to_bytes(password)))])

    def encrypt(self, text):
        data = to_text(self.lib.encrypt(to_bytes(text)))
        return data if data.endswith("\n") else data + "\n"

    def decrypt(self, text):
        try:
            return to_text(self.lib.decrypt(to_bytes(text)))
        except AnsibleError:
            return None


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=EXPORT_SPEC)
        vault = Vault(args["vault_password"]) if args["vault_password"] else None
        host = (task_vars or {}).get("inventory_hostname", "the provisioner")

        def fetch(kit):
            path = posixpath.join(args["packages_dir"], kit["zip"])
            read = self._execute_module(module_name="ansible.builtin.slurp", module_args={"src": path},
                                        task_vars=task_vars)
            if read.get("failed") or "content" not in read:
                raise ExportError("cannot read %s on %s: %s" % (path, host, read.get("msg") or "no content"))
            return base64.b64decode(read["content"])

        try:
            outcome = export(args["dest"], args["project"], args["server"], args["orgs"], fetch, vault=vault,
                             check_mode=bool(self._task.check_mode), lead=args["lead"])
        except (ExportError, KitArchiveError, ValueError) as exc:
            result.update(failed=True, msg="The partners' kits cannot be exported to %s: %s" % (args["dest"], exc),
                          summary=[])
            return result
        except (IOError, OSError) as exc:
            result.update(failed=True, msg="The partners' kits cannot be exported to %s: %s (%s)" % (
                args["dest"], exc.strerror or exc, getattr(exc, "filename", "") or args["dest"]), summary=[])
            return result
        result.update(changed=outcome["changed"], orgs=outcome["orgs"], removed_orgs=outcome["removed_orgs"],
                      summary=summary(outcome, vault=vault is not None))
        return result
