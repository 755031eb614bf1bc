"""The provisioning project built from the inventory: every problem at once, and the documents the tool reads."""
import copy
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", ".collections"))

from ansible_collections.clarafl.federation.plugins.module_utils.project import (  # noqa: E402
    ProjectError, describe_changes, inputs_hash, render_project, site_history, validate_project)

GOOD = {
    "name": "clarafl_local",
    "sdk_version": "v4.0",
    "server": {"cn": "fl-server.example.org", "org": "nvidia", "fed_learn_port": 8002, "admin_port": 8003},
    "clients": [{"name": "org1-a", "org": "org1", "host": "h1"}, {"name": "org1-b", "org": "org1", "host": "h2"},
                {"name": "org2", "org": "org2", "host": "h3"}],
    "admins": [{"email": "admin@nvidia.com", "org": "nvidia", "roles": ["super"]}],
    "org_policies": {"nvidia": "relaxed", "org1": "strict", "org2": "relaxed"},
}


def spec(**changes):
    s = copy.deepcopy(GOOD)
    for key, value in changes.items():
        s[key] = value
    return s


def test_a_good_project_has_no_problems():
    assert validate_project(GOOD) == []


def test_the_documents_match_the_tools_own_shape():
    project, authz = render_project(GOOD)
    assert project["server"]["cn"] == "fl-server.example.org"
    assert [c["client_name"] for c in project["fl_clients"]] == ["org1-a", "org1-b", "org2"]
    assert project["admin_clients"] == [{"org": "nvidia", "email": "admin@nvidia.com"}]
    assert project["he"]["lib"] == "tenseal"
    assert authz["sites"] == {"server": "nvidia", "org1-a": "org1", "org1-b": "org1", "org2": "org2"}
    assert authz["orgs"]["org1"] == ["strict", "general"]
    assert authz["orgs"]["org2"] == ["relaxed", "general"]
    assert authz["users"]["admin@nvidia.com"] == {"org": "nvidia", "roles": ["super"]}
    assert authz["groups"]["relaxed"]["rules"]["allow_byoc"] is True


def test_sdk_31_has_no_he_section():
    project = render_project(spec(sdk_version="v3.1.01"))[0]
    assert "he" not in project


def test_every_problem_is_reported_at_once():
    bad = spec(
        server={"cn": "example.com", "org": "nvidia", "fed_learn_port": 8002, "admin_port": 8002},
        clients=[{"name": "org1-a", "org": "org1", "host": "h1"}, {"name": "org1-a", "org": "org1", "host": "h2"},
                 {"name": "x" * 65, "org": "orgless-policy", "host": "h3"}],
        admins=[{"email": "a@" + "b" * 70 + ".com", "org": "nvidia", "roles": ["super"]},
                {"email": "noorg@nvidia.com", "org": "", "roles": ["lead_it"]}],
    )
    with pytest.raises(ProjectError) as err:
        render_project(bad)
    text = str(err.value)
    problems = err.value.problems
    assert "still 'example.com'" in text
    assert "fed_learn_port and admin_port are both 8002" in text
    assert "client name 'org1-a' is used twice (on h1 and on h2)" in text
    assert "client name '%s' is 65 characters, over the 64" % ("x" * 65) in text
    assert "is 76 characters, over the 64 certificates allow" in text
    assert "admin 'noorg@nvidia.com' has no org" in text
    assert "org 'orgless-policy' has no policy" in text
    assert len(problems) == 7


def test_policy_values_and_roles_are_checked():
    problems = validate_project(spec(org_policies={"nvidia": "open", "org1": "strict", "org2": "relaxed"},
                                     admins=[{"email": "a@b.c", "org": "nvidia", "roles": ["root"]}]))
    assert any("policy 'open'" in p for p in problems)
    assert any("unknown role 'root'" in p for p in problems)


def test_no_clients_and_no_admins():
    problems = validate_project(spec(clients=[], admins=[]))
    assert any("no client sites" in p for p in problems)
    assert any("no admin users" in p for p in problems)


def test_min_clients_above_the_sites():
    server = dict(GOOD["server"], min_num_clients=5)
    assert any("min_num_clients 5 is more than the 3 client sites" in p for p in validate_project(spec(server=server)))


def test_a_client_named_like_the_server_kit():
    # A site named server (or admin, ...) is refused by the inventory check (federation.site_problems); one named
    # like the server's cn here.
    clients = GOOD["clients"] + [{"name": GOOD["server"]["cn"], "org": "org1"}]
    assert any("collides with the server's kit" in p for p in validate_project(spec(clients=clients)))


def test_hash_is_stable_and_follows_content():
    a = inputs_hash(*render_project(GOOD))
    assert a == inputs_hash(*render_project(copy.deepcopy(GOOD)))
    assert a != inputs_hash(*render_project(spec(name="other")))


def test_changes_name_added_sites_and_server_moves():
    old = render_project(GOOD)
    clients = GOOD["clients"] + [{"name": "org3", "org": "org2"}]
    new = render_project(spec(clients=clients, server=dict(GOOD["server"], cn="fl.example.net")))
    changes = describe_changes(old[0], old[1], new[0], new[1])
    assert "sites added: org3" in changes
    assert "server cn changed from fl-server.example.org to fl.example.net" in changes
    assert describe_changes(old[0], old[1], old[0], old[1]) == []


def test_policy_change_is_named():
    old = render_project(GOOD)
    new = render_project(spec(org_policies=dict(GOOD["org_policies"], org1="relaxed")))
    assert describe_changes(old[0], old[1], new[0], new[1]) == ["org policies changed"]


def test_site_history_of_a_first_provisioning_is_the_project():
    project, authz = render_project(GOOD)
    known, former, tool_authz = site_history({}, project, authz)
    assert known == {"org1-a": "org1", "org1-b": "org1", "org2": "org2"}
    assert former == [] and tool_authz == authz


def test_a_removed_site_stays_in_the_authz_the_tool_is_given_never_in_the_project():
    old_project, old_authz = render_project(GOOD)
    known, _former, _authz = site_history({}, old_project, old_authz)
    previous = {"project": old_project, "authz": old_authz, "known_sites": known}
    # org2 leaves: its org has no participant left.
    project, authz = render_project(spec(clients=GOOD["clients"][:2],
                                         org_policies={"nvidia": "relaxed", "org1": "strict"}))
    known2, former, tool_authz = site_history(previous, project, authz)
    assert former == ["org2"] and known2 == known
    assert tool_authz["sites"]["org2"] == "org2" and tool_authz["orgs"]["org2"] == ["general"]
    assert "org2" not in authz["sites"] and "org2" not in [c["client_name"] for c in project["fl_clients"]]
    # A later run remembers it from known_sites, though the previous project no longer lists it.
    previous2 = {"project": project, "authz": authz, "known_sites": known2}
    project3, authz3 = render_project(spec(clients=GOOD["clients"][:2] + [{"name": "org3", "org": "org1"}],
                                           org_policies={"nvidia": "relaxed", "org1": "strict"}))
    known3, former3, tool_authz3 = site_history(previous2, project3, authz3)
    assert former3 == ["org2"] and sorted(known3) == ["org1-a", "org1-b", "org2", "org3"]
    assert sorted(tool_authz3["sites"]) == ["org1-a", "org1-b", "org2", "org3", "server"]


def test_a_state_from_before_known_sites_uses_its_project():
    old_project, old_authz = render_project(GOOD)
    project, authz = render_project(spec(clients=GOOD["clients"][:1]))
    known, former, tool_authz = site_history({"project": old_project, "authz": old_authz}, project, authz)
    assert former == ["org1-b", "org2"] and sorted(tool_authz["sites"]) == ["org1-a", "org1-b", "org2", "server"]
    # The org keeps its own policy while it still has a participant.
    assert tool_authz["orgs"]["org1"] == authz["orgs"]["org1"]
