# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory check: unknown names, types, ranges, paths and the MMAR source, each problem once for its hosts."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.clarafl.federation.plugins.module_utils.inventory_check import (
    FEDERATION_VARS,
    MASK,
    RANGES,
    RenderFailure,
    check,
    merge_specs,
    runtime_names,
    undocumented,
)

GROUPS = {
    "all": ["fl-server", "org1-a", "org1-b", "org2", "fl-admin"],
    "ungrouped": [],
    "fl_server": ["fl-server"],
    "fl_clients": ["org1-a", "org1-b", "org2"],
    "fl_admin": ["fl-admin"],
}

# A part of the roles' argument specs, as the filter loads them (documentation keys included).
SPECS = {
    "clara_image": {
        "clara_image_source": {"type": "str", "choices": ["pull", "build", "archive"], "default": "pull",
                               "description": "Where the image comes from."},
        "clara_image_ngc_api_key": {"type": "str", "default": "", "no_log": True, "description": "NGC API key."},
        "clara_image_pull_retries": {"type": "int", "default": 3, "description": "Attempts."},
    },
    "docker": {
        "docker_users": {"type": "list", "elements": "str", "default": []},
        "docker_compose": {"type": "bool", "default": True},
        "docker_daemon_options": {"type": "dict"},
    },
    "provisioning": {
        "provisioning_fed_learn_port": {"type": "int"},
        "provisioning_admin_port": {"type": "int"},
        "provisioning_kit_root": {"type": "path"},
        "provisioning_workspace": {"type": "path"},
        "provisioning_controller_kits_dir": {"type": "str", "default": ""},
    },
    "fl_client": {
        "fl_client_gpus": {"type": "raw", "default": "none"},
        "fl_client_dataset_dir": {"type": "str"},
        "fl_client_ulimits": {"type": "list", "elements": "str"},
    },
    "fl_admin": {
        "fl_admin_mmar_source": {"type": "str", "choices": ["demo", "path", "ngc"], "default": "demo",
                                 "version_added": "0.1.0"},
        "fl_admin_mmar_path": {"type": "str", "default": ""},
        "fl_admin_ngc_model": {"type": "str", "default": "clara_pt_spleen_ct_segmentation"},
        "fl_admin_ngc_api_key": {"type": "str", "default": "", "no_log": True},
        "fl_admin_num_rounds": {"type": "int", "default": 5},
        "fl_admin_min_num_clients": {"type": "int"},
        "fl_admin_wait_timeout": {"type": "int", "default": 1800},
        "fl_admin_server_overrides": {"type": "dict", "default": {}},
    },
}
DEFAULTS_ONLY = ("fl_admin_stall_timeout", "fl_admin_max_recoveries", "fl_client_admin_host")
SECRET = "nvapi-0123456789abcdef"


def on_all(values, hosts=None):
    """The same VALUES on every host (group_vars/all), or on HOSTS."""
    return dict((host, dict(values)) for host in (hosts or GROUPS["all"]))


def run(host_vars, **kwargs):
    kwargs.setdefault("extra_known", DEFAULTS_ONLY)
    kwargs.setdefault("controller_exists", lambda path: False)
    specs = kwargs.pop("specs", SPECS)
    return check(host_vars, GROUPS, specs, **kwargs)


def test_a_good_inventory_has_no_problem():
    host_vars = on_all({"fl_project_name": "clarafl_local", "fl_server_org": "clarafl", "fl_kit_root": "/opt/clarafl/x",
                        "fl_admins": [{"email": "a@b.org", "org": "clarafl", "roles": ["super"]}],
                        "fl_org_policies": {"org1": "relaxed"}, "fl_admin_num_rounds": 3, "docker_compose": "yes",
                        "fl_fed_learn_port": "9002", "fl_admin_port": 9003, "fl_admin_stall_timeout": 60,
                        "fl_admin_max_recoveries": 0, "fl_client_gpus": [0, 1], "docker_users": ["alice"],
                        "provisioning_controller_kits_dir": "", "fl_dataset_dir": ""})
    host_vars["org1-a"].update({"fl_client_name": "org1-a", "fl_org": "org1", "fl_dataset_dir": "/data/org1-a"})
    assert run(host_vars) == {"errors": [], "warnings": []}


# --- 1. unknown names --------------------------------------------------------------------------------------

def test_a_typo_is_a_warning_with_a_suggestion():
    report = run({"org1-a": {"fl_clinet_name": "org1-a"}})
    assert report == {"errors": [], "warnings": [
        "fl_clinet_name (on org1-a) is not a variable of clarafl.federation; did you mean fl_client_name?"]}


def test_an_unknown_name_without_a_close_one_has_no_suggestion():
    report = run({"fl-admin": {"fl_frobnicate": 1}})
    assert report["warnings"] == ["fl_frobnicate (on fl-admin) is not a variable of clarafl.federation."]


def test_strict_makes_unknown_names_errors():
    report = run({"org1-a": {"fl_clinet_name": "org1-a"}}, strict=True)
    assert report["warnings"] == []
    assert report["errors"] == [
        "fl_clinet_name (on org1-a) is not a variable of clarafl.federation; did you mean fl_client_name?"]


def test_names_from_defaults_federation_and_other_roles_are_known():
    values = {"fl_admin_stall_timeout": 30, "fl_client_admin_host": "fl-admin", "fl_teardown_confirm": "x",
              "fl_run_lock_steal": True, "fl_strict_variables": False, "fl_sites": [], "fl_admin_num_rounds": 2}
    # fl_admin_num_rounds on a client (group_vars/all) is normal: the fl_admin role just never reads it there
    assert run(on_all(values), strict=True) == {"errors": [], "warnings": []}


def test_names_without_the_prefixes_and_private_names_are_not_checked():
    report = run(on_all({"ansible_host": "x", "inventory_hostname": "y", "_fl_private": 1, "__fl_x": 2,
                         "vault_ngc_api_key": SECRET}), strict=True)
    assert report == {"errors": [], "warnings": []}


# --- 2. types ----------------------------------------------------------------------------------------------

def test_a_value_of_the_wrong_type_is_an_error():
    report = run({"fl-admin": {"fl_admin_num_rounds": "five"}})
    assert report["errors"] == ["fl_admin_num_rounds (on fl-admin) must be an int: 'five' is not."]


@pytest.mark.parametrize("name, value, message", [
    ("docker_compose", "maybe", "docker_compose (on fl-server) must be a bool (true or false): 'maybe' is not."),
    ("docker_users", {"a": 1}, "docker_users (on fl-server) must be a list of strings: {'a': 1} is not."),
    ("docker_daemon_options", "nonsense", "docker_daemon_options (on fl-server) must be a dict: 'nonsense' is not."),
    ("fl_project_name", ["a"], "fl_project_name (on fl-server) must be a string: ['a'] is not."),
    ("fl_admins", [1], "fl_admins (on fl-server) must be a list of dicts: [1] is not."),
    ("fl_fed_learn_port", True, "fl_fed_learn_port (on fl-server) must be an int: True is not."),
    ("fl_kit_root", None, "fl_kit_root (on fl-server) has no value (null in YAML): give it one or remove it."),
    ("clara_image_source", "pul", "clara_image_source (on fl-server) must be one of pull, build, archive: 'pul' is not."),
    ("fl_engine_supervisor", "nvidia",
     "fl_engine_supervisor (on fl-server) must be one of collection, kit: 'nvidia' is not."),
])
def test_each_type_is_checked(name, value, message):
    assert run({"fl-server": {name: value}})["errors"] == [message]


def test_the_engine_supervisor_is_a_federation_variable():
    assert run(on_all({"fl_engine_supervisor": "kit"})) == {"errors": [], "warnings": []}
    assert "fl_engine_supervisor" in FEDERATION_VARS


def test_values_ansible_converts_are_accepted():
    values = {"fl_admin_num_rounds": "7", "docker_compose": "no", "docker_users": "alice,bob", "fl_client_gpus": "all",
              "fl_project_name": 42, "docker_daemon_options": '{"debug": true}'}
    assert run({"fl-admin": values}) == {"errors": [], "warnings": []}


def test_every_problem_is_listed_at_once():
    report = run({"fl-admin": {"fl_admin_num_rounds": "five", "docker_compose": "maybe", "fl_kit_root": "kits",
                               "fl_clinet_name": "x"}})
    assert len(report["errors"]) == 3 and len(report["warnings"]) == 1


def test_unrendered_templates_are_skipped():
    values = {"fl_admin_num_rounds": "{{ rounds }}", "fl_kit_root": "{{ root }}/kits", "fl_admins": [{"email": "{{ x }}"}],
              "fl_admin_mmar_source": "ngc", "fl_admin_ngc_api_key": "{{ vault_ngc_api_key }}"}
    assert run({"fl-admin": values}) == {"errors": [], "warnings": []}


def test_a_value_that_cannot_be_rendered_is_an_error_where_it_is_used():
    failure = RenderFailure("'vault_ngc_api_key' is undefined")
    report = run(on_all({"clara_image_ngc_api_key": failure}))
    assert report["errors"] == [
        "clara_image_ngc_api_key (on all hosts) cannot be rendered: 'vault_ngc_api_key' is undefined."]


def test_a_template_is_not_rendered_on_hosts_that_never_use_it():
    # group_vars/all: fl_dataset_dir: /data/{{ fl_client_name }} only renders on the clients, which use it
    host_vars = on_all({"fl_dataset_dir": RenderFailure("'fl_client_name' is undefined")})
    for site in GROUPS["fl_clients"]:
        host_vars[site]["fl_dataset_dir"] = "/data/" + site
    assert run(host_vars) == {"errors": [], "warnings": []}
    host_vars["org2"]["fl_dataset_dir"] = RenderFailure("'nope' is undefined")
    assert run(host_vars)["errors"] == ["fl_dataset_dir (on org2) cannot be rendered: 'nope' is undefined."]


# --- 3. ranges ---------------------------------------------------------------------------------------------

def test_a_count_below_one_is_an_error_said_once_for_all_hosts():
    report = run(on_all({"fl_admin_num_rounds": 0}))
    assert report["errors"] == ["fl_admin_num_rounds (on all hosts) must be at least 1 (it is 0)."]


@pytest.mark.parametrize("name, value, message", [
    ("fl_admin_wait_timeout", -5, "fl_admin_wait_timeout (on fl-admin) must be at least 1 (it is -5)."),
    ("clara_image_pull_retries", 0, "clara_image_pull_retries (on fl-admin) must be at least 1 (it is 0)."),
    ("fl_admin_max_recoveries", -1, "fl_admin_max_recoveries (on fl-admin) must be at least 0 (it is -1)."),
    ("fl_admin_stall_timeout", 0, "fl_admin_stall_timeout (on fl-admin) must be at least 1 (it is 0)."),
    ("fl_admin_stall_timeout", "soon", "fl_admin_stall_timeout (on fl-admin) must be an int: 'soon' is not."),
    ("fl_admin_port", 70000, "fl_admin_port (on fl-admin) must be between 1 and 65535 (it is 70000)."),
    ("provisioning_fed_learn_port", "0", "provisioning_fed_learn_port (on fl-admin) must be between 1 and 65535 (it is 0)."),
])
def test_ranges(name, value, message):
    assert run({"fl-admin": {name: value}})["errors"] == [message]


@pytest.mark.parametrize("name, value", [
    ("fl_admin_max_recoveries", 0), ("fl_admin_port", 65535), ("fl_fed_learn_port", 1), ("fl_admin_num_rounds", 1)])
def test_values_at_the_bounds_are_fine(name, value):
    assert run({"fl-admin": {name: value}})["errors"] == []


def test_every_int_timeout_interval_retry_and_delay_of_the_specs_has_a_range(real_specs):
    for options in real_specs.values():
        for name, option in options.items():
            if option.get("type") == "int" and name.endswith(("_timeout", "_interval", "_retries", "_delay", "_port")):
                assert name in RANGES, name


def test_the_two_ports_must_differ():
    assert run(on_all({"fl_fed_learn_port": 9000, "fl_admin_port": 9000}))["errors"] == [
        "fl_fed_learn_port and fl_admin_port (on all hosts) must differ (both are 9000)."]
    # the other one falls back to its default (8002, 8003)
    assert run({"fl-admin": {"fl_admin_port": 8002}})["errors"] == [
        "fl_fed_learn_port and fl_admin_port (on fl-admin) must differ (both are 8002)."]
    assert run({"fl-admin": {"provisioning_admin_port": 9002, "fl_fed_learn_port": 9002}})["errors"] == [
        "provisioning_fed_learn_port and provisioning_admin_port (on fl-admin) must differ (both are 9002)."]
    assert run({"fl-admin": {"fl_fed_learn_port": 8003, "fl_admin_port": 8002}})["errors"] == []


# --- 4. absolute paths -------------------------------------------------------------------------------------

def test_a_relative_kit_root_is_an_error():
    assert run(on_all({"fl_kit_root": "kits"}))["errors"] == [
        "fl_kit_root (on all hosts) must be an absolute path (it is 'kits'): a relative path would put private "
        "keys wherever ansible-playbook runs from."]


@pytest.mark.parametrize("name, value", [
    ("provisioning_workspace", "work"), ("provisioning_controller_kits_dir", "./kits"), ("fl_kit_root", "~/kits"),
    ("fl_dataset_dir", "data"), ("fl_client_dataset_dir", "data/x"), ("fl_kit_root", ""),
])
def test_relative_paths(name, value):
    (error,) = run({"org1-a": {name: value}})["errors"]
    assert error.startswith("%s (on org1-a) must be an absolute path (it is %r): " % (name, value))


@pytest.mark.parametrize("name", ["provisioning_controller_kits_dir", "fl_dataset_dir", "fl_client_dataset_dir"])
def test_an_empty_path_means_none_for_some(name):
    assert run({"org1-a": {name: ""}})["errors"] == []


@pytest.mark.parametrize("value", ["/", "/opt", "/opt/", "//srv", "/opt/../var"])
def test_a_kit_root_must_not_be_a_top_level_folder(value):
    (error,) = run({"fl-admin": {"fl_project_name": "spleen", "provisioning_kit_root": value}})["errors"]
    assert error.startswith("provisioning_kit_root (on fl-admin) is /")
    assert error.endswith(", a top-level system folder: give the project its own folder, e.g. /opt/clarafl/spleen.")


def test_a_kit_root_must_not_be_a_home_folder():
    assert run({"fl-admin": {"fl_kit_root": "/home/alice/"}})["errors"] == [
        "fl_kit_root (on fl-admin) is /home/alice, a home folder: give the project its own folder, e.g. "
        "/opt/clarafl/<project>."]


def test_the_run_lock_must_be_absolute():
    assert run({"fl-admin": {"provisioning_lock_file": "run.lock"}}, specs=dict(
        SPECS, provisioning=dict(SPECS["provisioning"], provisioning_lock_file={"type": "path"})))["errors"] == [
        "provisioning_lock_file (on fl-admin) must be an absolute path (it is 'run.lock'): a relative path depends "
        "on where the task runs, so two runs might not see the same lock."]


def test_a_kit_root_of_its_own_is_fine():
    assert run({"fl-admin": {"fl_kit_root": "/opt/clarafl", "provisioning_kit_root": "/srv/fl/kits"}})["errors"] == []
    assert run({"fl-admin": {"fl_kit_root": "/home/alice/clarafl"}})["errors"] == []


# --- 5. the MMAR source ------------------------------------------------------------------------------------

def test_an_unknown_mmar_source_lists_the_choices():
    assert run({"fl-admin": {"fl_admin_mmar_source": "git"}})["errors"] == [
        "fl_admin_mmar_source (on fl-admin) must be one of demo, path, ngc: 'git' is not."]


def test_the_path_source_needs_a_folder_on_the_controller():
    assert run({"fl-admin": {"fl_admin_mmar_source": "path"}})["errors"] == [
        "fl_admin_mmar_path (on fl-admin) must be set when fl_admin_mmar_source is path: give the unpacked MMAR "
        "folder on the controller."]
    assert run({"fl-admin": {"fl_admin_mmar_source": "path", "fl_admin_mmar_path": "/mmars/spleen"}})["errors"] == [
        "fl_admin_mmar_path (on fl-admin) is '/mmars/spleen', which does not exist on the controller: give an "
        "unpacked MMAR folder there."]
    seen = []
    report = run({"fl-admin": {"fl_admin_mmar_source": "path", "fl_admin_mmar_path": "/mmars/spleen"}},
                 controller_exists=lambda path: seen.append(path) or True)
    assert report["errors"] == [] and seen == ["/mmars/spleen"]


def test_the_mmar_source_is_checked_only_on_the_admin_host():
    assert run(on_all({"fl_admin_mmar_source": "path"}))["errors"] == [
        "fl_admin_mmar_path (on fl-admin) must be set when fl_admin_mmar_source is path: give the unpacked MMAR "
        "folder on the controller."]


def test_the_ngc_source_needs_a_key_and_a_model():
    assert run({"fl-admin": {"fl_admin_mmar_source": "ngc", "fl_admin_ngc_api_key": SECRET}})["errors"] == []
    report = run({"fl-admin": {"fl_admin_mmar_source": "ngc", "fl_admin_ngc_model": " "}})
    assert report["errors"] == [
        "fl_admin_ngc_api_key (on fl-admin) must be set when fl_admin_mmar_source is ngc: give it an NGC API key "
        "(keep it in Ansible Vault).",
        "fl_admin_ngc_model (on fl-admin) must be set when fl_admin_mmar_source is ngc: give it a model under "
        "nvidia/med on NGC."]
    assert run({"fl-admin": {"fl_admin_ngc_api_key": ""}})["errors"] == []  # the demo source needs no key


def test_the_value_of_a_key_is_never_shown():
    report = run(on_all({"fl_admin_ngc_api_key": [SECRET], "clara_image_ngc_api_key": {"k": SECRET},
                         "zerotier_api_token": [SECRET], "fl_admin_mmar_source": "ngc"}))
    assert report["errors"] == [
        "clara_image_ngc_api_key (on all hosts) must be a string: %s is not." % MASK,
        "fl_admin_ngc_api_key (on all hosts) must be a string: %s is not." % MASK,
    ]
    # zerotier_api_token is not in this test's specs: an unknown name, without its value either
    assert all(SECRET not in message for message in report["errors"] + report["warnings"])


def test_a_secret_is_masked_even_in_the_validators_own_text():
    specs = {"x": {"fl_x_password": {"type": "str", "choices": ["a", "b"]}}}
    report = check({"h": {"fl_x_password": SECRET}}, {"all": ["h"]}, specs)
    assert report["errors"] == ["fl_x_password (on h) must be one of a, b: %s is not." % MASK]
    report = check({"h": {"fl_sub_token": {"n": SECRET}}}, {"all": ["h"]},
                   {"x": {"fl_sub_token": {"type": "dict", "options": {"n": {"type": "int"}}}}})
    assert report["errors"] == ["fl_sub_token (on h) is not valid: its value does not match the variable's argument "
                                "spec (the value is not shown)."]


def test_sub_options_are_checked_with_the_validators_text():
    spec = {"x": {"fl_sub": {"type": "list", "elements": "dict", "description": "doc",
                             "options": {"n": {"type": "int", "required": True, "description": "doc"}}}}}
    assert check({"h": {"fl_sub": [{"n": 1}]}}, {"all": ["h"]}, spec)["errors"] == []
    report = check({"h": {"fl_sub": [{"m": 1}]}}, {"all": ["h"]}, spec)
    assert report["errors"] == ["fl_sub (on h) is not valid: missing required arguments: n found in fl_sub.",
                                "fl_sub (on h) is not valid: fl_sub.m: supported parameters include: n."]


# --- grouping ----------------------------------------------------------------------------------------------

def test_the_same_problem_on_several_hosts_is_said_once():
    sites = GROUPS["fl_clients"]
    report = run(on_all({"fl_dataset_dir": "data"}, hosts=sites))
    assert report["errors"] == [
        "fl_dataset_dir (on the fl_clients hosts org1-a, org1-b and org2) must be an absolute path (it is 'data'): "
        "a relative path points wherever the task happens to run, not at the site's data."]
    report = run(on_all({"fl_clinet_name": "x"}, hosts=["org1-a", "org2"]))
    assert report["warnings"] == [
        "fl_clinet_name (on org1-a and org2) is not a variable of clarafl.federation; did you mean fl_client_name?"]


def test_different_values_are_different_problems():
    report = run({"org1-a": {"fl_admin_num_rounds": 0}, "org2": {"fl_admin_num_rounds": -1}})
    assert report["errors"] == ["fl_admin_num_rounds (on org1-a) must be at least 1 (it is 0).",
                                "fl_admin_num_rounds (on org2) must be at least 1 (it is -1)."]


def test_hosts_outside_groups_all_are_checked_too():
    report = check({"lonely": {"fl_admin_num_rounds": 0}}, {}, SPECS)
    assert report["errors"] == ["fl_admin_num_rounds (on lonely) must be at least 1 (it is 0)."]


# --- helpers over the roles' files -------------------------------------------------------------------------

def test_merge_specs_merges_every_entry_point():
    documents = {"r": {"argument_specs": {"main": {"options": {"r_a": {"type": "int"}}},
                                          "other": {"options": {"r_b": {"type": "str"}}}}},
                 "empty": None}
    assert merge_specs(documents) == {"empty": {}, "r": {"r_a": {"type": "int"}, "r_b": {"type": "str"}}}


def test_undocumented_lists_defaults_missing_from_the_spec():
    specs = {"r": {"r_a": {}}}
    assert undocumented(specs, {"r": {"r_a": 1, "r_c": 2, "r_b": 3}, "s": {}}) == {"r": ["r_b", "r_c"]}


def test_runtime_names_are_what_tasks_register_and_set():
    tasks = [[{"name": "a", "command": "x", "register": "fl_x_out"},
              {"block": [{"set_fact": {"fl_y": 1, "cacheable": True}}],
               "rescue": [{"ansible.builtin.set_fact": {"fl_z": 2}}]}],
             [{"hosts": "all", "tasks": [{"debug": "msg=x", "register": "fl_w"}]}], None]
    assert runtime_names(tasks) == ["fl_w", "fl_x_out", "fl_y", "fl_z"]


def test_the_real_specs_know_the_federation_and_typo_suggestions(real_specs):
    known = set(FEDERATION_VARS).union(*real_specs.values())
    assert "fl_client_name" in known and "fl_admin_num_rounds" in known
    report = check({"org1-a": {"fl_clinet_name": "x", "fl_admin_num_round": 3}}, GROUPS, real_specs)
    assert report["warnings"] == [
        "fl_admin_num_round (on org1-a) is not a variable of clarafl.federation; did you mean fl_admin_num_rounds?",
        "fl_clinet_name (on org1-a) is not a variable of clarafl.federation; did you mean fl_client_name?"]


@pytest.fixture(name="real_specs")
def fixture_real_specs():
    import glob
    import os

    import yaml

    roles = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", "roles")
    documents = {}
    for path in glob.glob(os.path.join(roles, "*", "meta", "argument_specs.yml")):
        with open(path) as handle:
            documents[path.split(os.sep)[-3]] = yaml.safe_load(handle)
    assert len(documents) == 7
    return merge_specs(documents)


# --- the last late checks: numbers as strings, certificate limits, the server's name, system folders ---------

@pytest.mark.parametrize("value", ["1e9", "1.0", " 7", "5 ", "1_000"])
def test_an_int_given_as_a_string_yaml_did_not_read_as_a_number_is_refused(value):
    assert run({"fl-admin": {"fl_admin_num_rounds": value}})["errors"] == [
        "fl_admin_num_rounds (on fl-admin) must be a whole number written as digits: %r is a string that YAML did not "
        "read as a number (write e.g. 1000000000, not 1e9)." % value]


def test_every_int_variable_is_held_to_digits():
    # the federation's own ints too, and a float YAML made of 1.0e9
    report = run({"fl-server": {"fl_fed_learn_port": "8e3", "clara_image_pull_retries": 3.0}})
    assert len(report["errors"]) == 2
    assert "fl_fed_learn_port (on fl-server) must be a whole number written as digits: '8e3' is a string" in \
        report["errors"][0] or "fl_fed_learn_port" in report["errors"][1]
    assert any("clara_image_pull_retries (on fl-server) must be a whole number written as digits: 3.0 is a float."
               == e for e in report["errors"])


@pytest.mark.parametrize("value", ["7", "-1", "+3"])
def test_digits_in_a_string_are_still_an_int(value):
    # -e fl_admin_run_number=2 gives a string
    errors = run({"fl-admin": {"fl_admin_run_number": value}})["errors"]
    assert not [e for e in errors if "written as digits" in e]


def test_a_project_name_and_orgs_over_the_certificate_limit_are_refused():
    long = "p" * 65
    errors = run({"fl-admin": {"fl_project_name": long, "fl_server_org": "o" * 70, "fl_org_policies": {"q" * 66: "strict"},
                               "fl_admins": [{"email": "a@b.c", "org": "r" * 65, "roles": ["super"]}]}})["errors"]
    assert ("fl_project_name (on fl-admin) is 65 characters: the project name %r, over the 64 characters a "
            "certificate allows; choose a shorter one." % long) in errors
    assert any(e.startswith("fl_server_org (on fl-admin) is 70 characters: the org") for e in errors)
    assert any(e.startswith("fl_org_policies (on fl-admin) is 66 characters") for e in errors)
    assert any(e.startswith("fl_admins (on fl-admin) is 65 characters: the org of a@b.c") for e in errors)
    assert run({"fl-admin": {"fl_project_name": "p" * 64}})["errors"] == []


@pytest.mark.parametrize("value", ["fe80::1", "[::1]", "2001:db8::10"])
def test_an_ipv6_server_name_is_refused_with_the_reason(value):
    assert run({"fl-server": {"fl_server_cn": value}})["errors"] == [
        "fl_server_cn (on fl-server) is %r, which is an IPv6 address: the engine's clients and Docker's hosts entries "
        "cannot use an IPv6 literal as the server's name; give the server a DNS name (or an IPv4 address)." % value]


@pytest.mark.parametrize("value", ["fl-server:8002", "http://fl-server"])
def test_a_server_name_with_a_port_or_a_scheme_is_refused(value):
    (error,) = run({"fl-server": {"fl_server_cn": value}})["errors"]
    assert "is not a host name" in error


@pytest.mark.parametrize("value", ["localhost", "10.0.0.5", "fl-server.example.org"])
def test_names_and_ipv4_addresses_are_server_names(value):
    assert run({"fl-server": {"fl_server_cn": value}})["errors"] == []


@pytest.mark.parametrize("value, where", [("/usr/local", "/usr"), ("/usr", None), ("/etc/clarafl", "/etc"),
                                          ("/var/lib", "/var"), ("/var/lib/docker", "/var/lib"), ("/var", None)])
def test_system_folders_are_refused_as_kit_roots(value, where):
    (error,) = run({"fl-admin": {"fl_project_name": "spleen", "fl_kit_root": value}})["errors"]
    what = "a system folder (in %s)" % where if where else "a top-level system folder"
    assert error == ("fl_kit_root (on fl-admin) is %s, %s: give the project its own folder, e.g. "
                     "/opt/clarafl/spleen." % (value, what))


def test_a_project_folder_below_var_lib_is_fine():
    assert run({"fl-admin": {"fl_kit_root": "/var/lib/clarafl/p1/kits"}})["errors"] == []
