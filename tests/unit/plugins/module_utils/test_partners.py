# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lead's side of a federation across organizations (module_utils/partners.py): fl_partner_sites checked and
normalized, what each organization is handed, and the export folder - with kits of the real provisioner."""

from __future__ import absolute_import, division, print_function

import os
import stat

import pytest
import yaml

import partner_kits
from ansible_collections.clarafl.federation.plugins.action.fl_partner_export import Vault
from ansible_collections.clarafl.federation.plugins.module_utils import partners as p

LEAD_SITES = [{"name": "org1-a", "host": "gpu-a"}, {"name": "org1-b", "host": "gpu-a"}]
GOOD = [{"name": "org2", "org": "org2", "contact": "it@org2.example"},
        {"name": "org3", "org": "org3", "contact": "+41 44 000 00 00", "required": True}]


# ----------------------------------------------------------------------------- the variable

def test_partners_are_normalized():
    assert p.partners(GOOD) == [
        {"name": "org2", "org": "org2", "contact": "it@org2.example", "required": False},
        {"name": "org3", "org": "org3", "contact": "+41 44 000 00 00", "required": True}]
    # Not a list, an entry that is no dictionary or has no name: left to the checks.
    assert p.partners(None) == [] and p.partners("org2") == [] and p.partners([None, "x", {"org": "o"}]) == []
    # Only true is true.
    assert p.partners([{"name": " org2 ", "required": "yes"}])[0] == {
        "name": "org2", "org": "", "contact": "", "required": False}


def test_a_good_list_has_no_problem():
    assert p.partner_problems({"gpu-a": GOOD, "admin": GOOD}, LEAD_SITES) == []
    assert p.partner_problems({}, LEAD_SITES) == []
    assert p.partner_problems({"gpu-a": []}, LEAD_SITES) == []


@pytest.mark.parametrize("entry, words", [
    ({"name": "org1-a", "org": "org1", "contact": "x@y"},
     ["partner site org1-a is also a site of the lead's machine gpu-a (fl_sites)", "not both"]),
    ({"org": "org2", "contact": "x@y"}, ["partner site 1 of fl_partner_sites has no name"]),
    ({"name": "org 2", "org": "org2", "contact": "x@y"}, ["partner site org 2: a site name must be letters"]),
    ({"name": "o" * 65, "org": "org2", "contact": "x@y"}, ["65 characters, over the 64 certificates allow"]),
    ({"name": "server", "org": "org2", "contact": "x@y"}, ["the name server is taken by the server's kit"]),
    ({"name": "admin", "org": "org2", "contact": "x@y"}, ["the name admin is taken by the admin's kit"]),
    ({"name": "org2", "contact": "x@y"}, ["partner site org2 has no org"]),
    ({"name": "org2", "org": "org2"}, ["partner site org2 has no contact: give whom to ask"]),
    ({"name": "org2", "org": "org2", "contact": "  "}, ["partner site org2 has no contact"]),
    ({"name": "org2", "org": "org2", "contact": "a\nb"}, ["the contact must be one line of at most 200 characters"]),
    ({"name": "org2", "org": "org2", "contact": "x" * 201}, ["one line of at most 200"]),
    ({"name": "org2", "org": "org2", "contact": "x@y", "required": "yes"}, ["required must be true", "not 'yes'"]),
    ({"name": "org2", "org": "org2", "contact": "x@y", "host": "gpu-b", "email": "e"},
     ["partner site org2 sets email, host, which a partner site does not have (it sets name, org, contact, required)"]),
])
def test_each_problem_is_one_sentence(entry, words):
    problems = p.partner_problems({"gpu-a": [entry]}, LEAD_SITES)
    assert len(problems) == 1, problems
    for word in words:
        assert word in problems[0]


def test_a_site_listed_twice_and_values_that_differ_between_hosts():
    twice = GOOD + [dict(GOOD[0], contact="other@org2.example")]
    assert p.partner_problems({"gpu-a": twice}, []) == [
        "partner site org2 is listed twice in fl_partner_sites: each partner site once"]
    problems = p.partner_problems({"gpu-a": GOOD, "gpu-b": GOOD[:1], "admin": GOOD}, [])
    assert problems == ["fl_partner_sites differs between gpu-a and gpu-b: set it once for the whole inventory "
                        "(group_vars/all)"]


def test_what_the_type_check_says_is_not_said_again():
    # A dict, a string, entries that are no dictionary: the variable's type check (inventory_check) names them.
    assert p.partner_problems({"h": {"name": "org2"}}, []) == []
    assert p.partner_problems({"h": ["org2", 3]}, []) == []


def test_project_clients_leave_out_what_the_check_refuses():
    value = GOOD + [{"name": "org1-a", "org": "org1", "contact": "c"}, {"name": "bad name", "org": "o", "contact": "c"},
                    {"name": "org4", "contact": "c"}, dict(GOOD[0]), {"name": "server", "org": "o", "contact": "c"}]
    assert p.project_clients(value, ["org1-a"]) == [{"name": "org2", "org": "org2", "host": "fl_partner_sites"},
                                                    {"name": "org3", "org": "org3", "host": "fl_partner_sites"}]
    assert p.project_clients(None) == []


# ----------------------------------------------------------------------------- what goes to whom

KITS = [{"name": "server", "zip": "server.zip", "kind": "server", "password": "S" * 16, "sha256": "s"},
        {"name": "org1-a", "zip": "org1-a.zip", "kind": "client", "password": "A" * 16, "sha256": "a"},
        {"name": "org2", "zip": "org2.zip", "kind": "client", "password": "B" * 16, "sha256": "b"},
        {"name": "org3", "zip": "org3.zip", "kind": "client", "password": "C" * 16, "sha256": "c"},
        {"name": "org9", "zip": "org9.zip", "kind": "client", "password": "D" * 16, "sha256": "d", "former": True},
        {"name": "admin@lead.test", "zip": "admin@lead.test.zip", "kind": "admin", "password": "E" * 16, "sha256": "e"},
        {"name": "res@org2.test", "zip": "res@org2.test.zip", "kind": "admin", "password": "F" * 16, "sha256": "f"},
        {"name": "ops@lead.test", "zip": "ops@lead.test.zip", "kind": "admin", "password": "G" * 16, "sha256": "g"},
        {"name": "rev@org5.test", "zip": "rev@org5.test.zip", "kind": "admin", "password": "H" * 16, "sha256": "h"}]
ADMINS = [{"email": "admin@lead.test", "org": "lead", "roles": ["super"]},
          {"email": "res@org2.test", "org": "org2", "roles": ["lead_researcher"]},
          {"email": "ops@lead.test", "org": "lead", "roles": ["lead_it"]},
          {"email": "rev@org5.test", "org": "org5", "roles": ["site_researcher"]}]


def test_each_organization_is_handed_its_own_kits_only():
    plan = p.export_plan(KITS, GOOD, ADMINS, ["lead", "org1"], "admin@lead.test")
    assert [o["org"] for o in plan] == ["org2", "org3", "org5"]
    org2, org3, org5 = plan
    assert [(k["name"], k["kind"], k["password"], k["sha256"]) for k in org2["kits"]] == [
        ("org2", "site", "B" * 16, "b"), ("res@org2.test", "admin", "F" * 16, "f")]
    assert org2["contacts"] == ["it@org2.example", "res@org2.test"]
    assert [k["name"] for k in org3["kits"]] == ["org3"]
    # An organization the lead does not run and that runs no site still gets its researcher's console.
    assert [(k["name"], k["roles"]) for k in org5["kits"]] == [("rev@org5.test", ["site_researcher"])]
    handed = [k["name"] for o in plan for k in o["kits"]]
    # Never the server's, the lead's sites', a former site's, or the lead's admins'.
    assert not set(handed) & {"server", "org1-a", "org9", "admin@lead.test", "ops@lead.test"}


def test_the_lead_console_user_is_never_handed_over():
    # Even when its org is not one the lead runs sites of.
    plan = p.export_plan(KITS, [], [{"email": "res@org2.test", "org": "org2", "roles": ["super"]}], ["lead"],
                         "res@org2.test")
    assert plan == []


def test_a_kit_the_provisioner_did_not_make_is_said():
    with pytest.raises(ValueError, match="the provisioner made no kit for partner site org7: provision again"):
        p.export_plan(KITS, [{"name": "org7", "org": "org7", "contact": "c"}], [], ["lead"])
    with pytest.raises(ValueError, match="no kit for admin x@org8.test"):
        p.export_plan(KITS, [], [{"email": "x@org8.test", "org": "org8", "roles": ["lead_it"]}], ["lead"])


# ----------------------------------------------------------------------------- what the folder says

SERVER = {"cn": "fl.lead.example", "address": "203.0.113.10", "fed_learn_port": 8002, "admin_port": 8003}


def test_the_passwords_file_sets_the_variable_join_reads():
    kits = p.export_plan(KITS, GOOD, ADMINS, ["lead"], "admin@lead.test")[0]["kits"]
    text = p.passwords_text("pfed", "org2", kits)
    assert yaml.safe_load(text) == {"fl_partner_kit_passwords": {"org2": "B" * 16, "res@org2.test": "F" * 16}}


def test_the_readme_names_the_kits_the_server_and_what_to_run_and_no_secret():
    kits = p.export_plan(KITS, GOOD, ADMINS, ["lead"], "admin@lead.test")[0]["kits"]
    text = p.readme("pfed", "org2", SERVER, kits, lead="admin@lead.test")
    for word in ("org2.zip", "res@org2.test.zip", "site org2", "admin console of res@org2.test (lead_researcher)",
                 "fl.lead.example", "FL port 8002", "Admin port 8003", "fl_partner_server_address: 203.0.113.10",
                 "ansible-playbook clarafl.federation.join -i inventory.yml -e @passwords.yml",
                 "fl_project_name: pfed", "clarafl.federation.stop", "(admin@lead.test)", "fl_partner_kit_sha256:"):
        assert word in text, word
    assert "B" * 16 not in text and "F" * 16 not in text
    vault = p.readme("pfed", "org2", dict(SERVER, address="fl.lead.example"), kits, vault=True)
    assert "passwords.vault.yml --ask-vault-pass" in vault and "Ansible Vault file" in vault
    assert "fl_partner_server_address" not in vault  # the name is the address: nothing to set
    # The same inputs, the same text: a rerun writes nothing.
    assert vault == p.readme("pfed", "org2", dict(SERVER, address="fl.lead.example"), kits, vault=True)


def test_an_admin_only_folder_says_how_to_use_the_console():
    kits = p.export_plan(KITS, GOOD, ADMINS, ["lead"], "admin@lead.test")[2]["kits"]
    text = p.readme("pfed", "org5", SERVER, kits)
    assert "## Admin consoles" in text and "fl_admin.sh" in text and "## Run the sites" not in text


# ----------------------------------------------------------------------------- real kits, real folders

@pytest.fixture
def runs(partner_runs):
    return partner_runs


def _plan(run, value=GOOD[:1], admins=partner_kits.ADMINS):
    return p.export_plan(list(run["kits"].values()), value, admins, ["lead", "org1"], "admin@lead.test")


class Fetcher(object):
    """Reads the provisioner's zips (as the action's slurp would) and counts what it was asked for."""

    def __init__(self):
        self.asked = []
        self.run = None

    def __call__(self, kit):
        self.asked.append(kit["zip"])
        with open(os.path.join(self.run["packages"], kit["zip"]), "rb") as handle:
            return handle.read()


def _tree(root):
    out = {}
    for folder, dirs, files in os.walk(str(root)):
        for name in dirs + files:
            path = os.path.join(folder, name)
            st = os.stat(path)
            data = None if stat.S_ISDIR(st.st_mode) else open(path, "rb").read()
            out[os.path.relpath(path, str(root))] = (oct(st.st_mode & 0o777), data)
    return out


def test_a_kit_zipped_anew_with_the_same_audit_file_is_the_same_kit(runs):
    first, second, rekeyed = runs["first"], runs["second"], runs["rekeyed"]
    kit, again, other = first["kits"]["org2"], second["kits"]["org2"], rekeyed["kits"]["org2"]
    assert kit["sha256"] != again["sha256"]  # zipped anew: another zip
    assert p.kit_identity(kit["path"], kit["password"]) == p.kit_identity(again["path"], again["password"])
    assert p.kit_identity(kit["path"], kit["password"]) != p.kit_identity(other["path"], other["password"])
    admin = first["kits"]["res@org2.test"]
    assert p.kit_identity(admin["path"], admin["password"]) == p.kit_identity(
        second["kits"]["res@org2.test"]["path"], second["kits"]["res@org2.test"]["password"])


def test_the_export_holds_exactly_the_organization_s_kits(runs, tmp_path):
    fetch = Fetcher()
    fetch.run = runs["first"]
    dest = tmp_path / "partners"
    done = p.export(str(dest), "pfed", SERVER, _plan(runs["first"]), fetch)
    assert done["changed"] is True and sorted(fetch.asked) == ["org2.zip", "res@org2.test.zip"]
    tree = _tree(dest)
    assert sorted(tree) == [".clarafl-export.json", "org2", "org2/README.md", "org2/org2.zip", "org2/passwords.yml",
                            "org2/res@org2.test.zip"]
    assert tree["org2"][0] == "0o700" and all(mode == "0o600" for name, (mode, _d) in tree.items() if name != "org2")
    # The zips exactly as the provisioner made them; the passwords open them.
    assert tree["org2/org2.zip"][1] == open(runs["first"]["kits"]["org2"]["path"], "rb").read()
    passwords = yaml.safe_load(tree["org2/passwords.yml"][1])["fl_partner_kit_passwords"]
    assert passwords == {"org2": runs["first"]["kits"]["org2"]["password"],
                         "res@org2.test": runs["first"]["kits"]["res@org2.test"]["password"]}
    readme = tree["org2/README.md"][1].decode()
    assert runs["first"]["kits"]["org2"]["sha256"] in readme and passwords["org2"] not in readme
    record = tree[".clarafl-export.json"][1].decode()
    assert passwords["org2"] not in record and passwords["res@org2.test"] not in record
    assert [k["sha256"] for k in done["orgs"]["org2"]["kits"]] == [runs["first"]["kits"]["org2"]["sha256"],
                                                                   runs["first"]["kits"]["res@org2.test"]["sha256"]]

    # Again: nothing read from the provisioner, nothing written.
    fetch.asked = []
    again = p.export(str(dest), "pfed", SERVER, _plan(runs["first"]), fetch)
    assert again["changed"] is False and fetch.asked == [] and _tree(dest) == tree
    assert again["orgs"]["org2"]["written"] == [] and again["orgs"]["org2"]["removed"] == []


def test_a_site_added_leaves_the_zips_handed_over_byte_for_byte(runs, tmp_path):
    dest = tmp_path / "partners"
    fetch = Fetcher()
    fetch.run = runs["first"]
    p.export(str(dest), "pfed", SERVER, _plan(runs["first"]), fetch)
    before = _tree(dest)
    # Provisioned again (org3 joined, with the same audit file): every zip is new; org2's kit is the same kit.
    fetch.run, fetch.asked = runs["second"], []
    two = GOOD[:1] + [{"name": "org3", "org": "org3", "contact": "it@org3.example"}]
    done = p.export(str(dest), "pfed", SERVER, _plan(runs["second"], two), fetch)
    after = _tree(dest)
    assert after["org2/org2.zip"] == before["org2/org2.zip"]
    assert after["org2/res@org2.test.zip"] == before["org2/res@org2.test.zip"]
    assert after["org2/README.md"] == before["org2/README.md"]
    assert done["orgs"]["org2"]["written"] == [] and "org2.zip" in done["orgs"]["org2"]["kept"]
    assert after["org3/org3.zip"][1] == open(runs["second"]["kits"]["org3"]["path"], "rb").read()
    assert done["changed"] is True and done["orgs"]["org3"]["written"] == ["org3.zip", "README.md", "passwords.yml"]
    # The record now knows the new run's zips: the next export reads nothing.
    fetch.asked = []
    assert p.export(str(dest), "pfed", SERVER, _plan(runs["second"], two), fetch)["changed"] is False
    assert fetch.asked == []


def test_a_new_root_ca_replaces_the_kit(runs, tmp_path):
    dest = tmp_path / "partners"
    fetch = Fetcher()
    fetch.run = runs["first"]
    p.export(str(dest), "pfed", SERVER, _plan(runs["first"]), fetch)
    fetch.run = runs["rekeyed"]
    done = p.export(str(dest), "pfed", SERVER, _plan(runs["rekeyed"]), fetch)
    assert done["orgs"]["org2"]["written"] == ["org2.zip", "res@org2.test.zip", "README.md", "passwords.yml"]
    assert (dest / "org2" / "org2.zip").read_bytes() == open(runs["rekeyed"]["kits"]["org2"]["path"], "rb").read()


def test_a_changed_zip_in_the_folder_is_made_right(runs, tmp_path):
    dest = tmp_path / "partners"
    fetch = Fetcher()
    fetch.run = runs["first"]
    p.export(str(dest), "pfed", SERVER, _plan(runs["first"]), fetch)
    (dest / "org2" / "org2.zip").write_bytes(b"tampered")
    done = p.export(str(dest), "pfed", SERVER, _plan(runs["first"]), fetch)
    assert done["orgs"]["org2"]["written"] == ["org2.zip"]
    assert (dest / "org2" / "org2.zip").read_bytes() == open(runs["first"]["kits"]["org2"]["path"], "rb").read()


def test_the_passwords_in_ansible_vault(runs, tmp_path):
    dest = tmp_path / "partners"
    fetch = Fetcher()
    fetch.run = runs["first"]
    p.export(str(dest), "pfed", SERVER, _plan(runs["first"]), fetch)
    vault = Vault("handed-over-apart")
    done = p.export(str(dest), "pfed", SERVER, _plan(runs["first"]), fetch, vault=vault)
    assert sorted(done["orgs"]["org2"]["written"]) == ["README.md", "passwords.vault.yml"]
    assert done["orgs"]["org2"]["removed"] == ["passwords.yml"] and not (dest / "org2" / "passwords.yml").exists()
    text = (dest / "org2" / "passwords.vault.yml").read_text()
    assert text.startswith("$ANSIBLE_VAULT;1.1;AES256\n")
    assert runs["first"]["kits"]["org2"]["password"] not in text
    assert yaml.safe_load(vault.decrypt(text))["fl_partner_kit_passwords"]["org2"] == \
        runs["first"]["kits"]["org2"]["password"]
    assert oct((dest / "org2" / "passwords.vault.yml").stat().st_mode & 0o777) == "0o600"
    # Salted anew on every encryption: the file is compared through the vault, and kept.
    again = p.export(str(dest), "pfed", SERVER, _plan(runs["first"]), fetch, vault=vault)
    assert again["changed"] is False and (dest / "org2" / "passwords.vault.yml").read_text() == text
    # Another vault password: written anew.
    other = p.export(str(dest), "pfed", SERVER, _plan(runs["first"]), fetch, vault=Vault("another"))
    assert other["orgs"]["org2"]["written"] == ["passwords.vault.yml"]


def test_a_partner_taken_out_has_its_folder_emptied(runs, tmp_path):
    dest = tmp_path / "partners"
    fetch = Fetcher()
    fetch.run = runs["first"]
    p.export(str(dest), "pfed", SERVER, _plan(runs["first"]), fetch)
    (dest / "notes.txt").write_text("the lead's own notes")
    done = p.export(str(dest), "pfed", SERVER, _plan(runs["first"], [], []), fetch)
    assert done["changed"] is True and done["removed_orgs"] == ["org2"]
    assert sorted(os.listdir(str(dest))) == [".clarafl-export.json", "notes.txt"]


def test_a_file_no_export_made_is_never_written_over(runs, tmp_path):
    dest = tmp_path / "partners"
    (dest / "org2").mkdir(parents=True)
    (dest / "org2" / "README.md").write_text("mine")
    fetch = Fetcher()
    fetch.run = runs["first"]
    with pytest.raises(p.ExportError, match="already holds a folder of org2 that no export made"):
        p.export(str(dest), "pfed", SERVER, _plan(runs["first"]), fetch)
    assert (dest / "org2" / "README.md").read_text() == "mine" and fetch.asked == []


def test_another_federation_s_export_folder_is_refused(runs, tmp_path):
    dest = tmp_path / "partners"
    fetch = Fetcher()
    fetch.run = runs["first"]
    p.export(str(dest), "pfed", SERVER, _plan(runs["first"]), fetch)
    with pytest.raises(p.ExportError, match="is the export folder of federation pfed, not ofed"):
        p.export(str(dest), "ofed", SERVER, _plan(runs["first"]), fetch)
    with pytest.raises(p.ExportError, match="must be an absolute path"):
        p.export("partners", "pfed", SERVER, _plan(runs["first"]), fetch)


def test_check_mode_writes_nothing(runs, tmp_path):
    dest = tmp_path / "partners"
    fetch = Fetcher()
    fetch.run = runs["first"]
    done = p.export(str(dest), "pfed", SERVER, _plan(runs["first"]), fetch, check_mode=True)
    assert done["changed"] is True and not dest.exists()
    assert done["orgs"]["org2"]["written"] == ["org2.zip", "res@org2.test.zip", "README.md", "passwords.yml"]


def test_a_zip_that_changed_in_the_workspace_meanwhile_is_refused(runs, tmp_path):
    fetch = Fetcher()
    fetch.run = runs["second"]  # the workspace holds another run's zips than the record says
    with pytest.raises(p.ExportError, match="is not the zip its run recorded"):
        p.export(str(tmp_path / "partners"), "pfed", SERVER, _plan(runs["first"]), fetch)


def test_the_summary_says_what_each_folder_holds_and_no_secret(runs, tmp_path):
    fetch = Fetcher()
    fetch.run = runs["first"]
    done = p.export(str(tmp_path / "partners"), "pfed", SERVER, _plan(runs["first"]), fetch)
    lines = p.summary(done)
    assert lines[0].startswith("org2: %s holds org2.zip (site org2, sha256 %s)" % (
        tmp_path / "partners" / "org2", runs["first"]["kits"]["org2"]["sha256"]))
    assert lines[1] == "org2: written org2.zip, res@org2.test.zip, README.md, passwords.yml."
    assert all(runs["first"]["kits"]["org2"]["password"] not in line for line in lines)
