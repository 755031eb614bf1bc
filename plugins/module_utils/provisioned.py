# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is provisioning to do anything? One read per machine, and one decision on the controller.

A rerun of the provisioning role that finds everything as the inventory describes it writes nothing and asks
nothing more. What it compares (its fingerprint):

* on the provisioner: the project the inventory describes (its inputs hash) with the one recorded in state.json; the
  project's audit file with the last run's; that run's log and zips (their SHA-256); the workspace's project.yml and
  authz_config.json with what the role would write there;
* on each machine: its kit root, claimed for the project with every entry the project makes there; each kit the
  machine holds, extracted from the zip beside it as its record says (kit_archive.installed_kit);
* across machines (on the controller): each machine's zips are the provisioner's, byte for byte.

Anything else - or anything that cannot be read - is a reason, a few words, and the role's full path runs as it
always did. Reads only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os

from ansible_collections.clarafl.federation.plugins.module_utils.kit_archive import installed_kit
from ansible_collections.clarafl.federation.plugins.module_utils.project import site_history
from ansible_collections.clarafl.federation.plugins.module_utils.project_dir import ProjectDirError, plan_claim

AUDIT_FILE = "audit.pkl"


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 256), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _sha256_or_none(path):
    try:
        return _sha256(path) if os.path.isfile(path) else None
    except (IOError, OSError):
        return None


def _read_bytes(path):
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except (IOError, OSError):
        return None


def read_state(path):
    """(state dict or None, reason or None) of the provisioning record state.json."""
    raw = _read_bytes(path)
    if raw is None:
        return None, "nothing was provisioned yet (no %s)" % path
    try:
        state = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None, "the provisioning record %s is not JSON" % path
    if not isinstance(state, dict) or not state.get("run") or not state.get("inputs_hash"):
        return None, "the provisioning record %s names no run" % path
    return state, None


def workspace_facts(workspace, inputs_hash, project, authz, project_yml, state_file=None):
    """What the provisioner holds: {run, packages: {zip: sha256}, reasons: [...]}.

    INPUTS_HASH, PROJECT and AUTHZ: the project the inventory describes (fl_project's inputs_hash, project, authz);
    PROJECT_YML: the project.yml the role writes for it into the workspace.
    """
    state, why = read_state(state_file or os.path.join(workspace, "state.json"))
    if why:
        return dict(run=None, packages={}, reasons=[why])
    run = str(state["run"])
    reasons = []
    if state["inputs_hash"] != inputs_hash:
        reasons.append("the project changed since run %s" % run)
    run_dir = os.path.join(workspace, "runs", run)
    packages_dir = os.path.join(run_dir, "packages")
    packages = {}
    if not os.path.isfile(os.path.join(run_dir, "provision.log")) or not os.path.isdir(packages_dir):
        reasons.append("the kits of run %s are missing from the workspace" % run)
    else:
        for name in sorted(os.listdir(packages_dir)):
            if name.endswith(".zip"):
                packages[name] = _sha256_or_none(os.path.join(packages_dir, name))
    # The project's audit file is the last run's, after that run: the root CA every kit was signed by.
    audit = _sha256_or_none(os.path.join(workspace, AUDIT_FILE))
    run_audit = _sha256_or_none(os.path.join(run_dir, AUDIT_FILE))
    if run_audit is None or audit not in (None, run_audit):
        reasons.append("the project's audit file %s is not the one run %s left"
                       % (os.path.join(workspace, AUDIT_FILE), run))
    if _read_bytes(os.path.join(workspace, "project.yml")) != project_yml.encode("utf-8"):
        reasons.append("%s is not the project's" % os.path.join(workspace, "project.yml"))
    tool_authz = site_history(state, project, authz)[2]
    raw = _read_bytes(os.path.join(workspace, "authz_config.json"))
    try:
        same = raw is not None and json.loads(raw.decode("utf-8")) == tool_authz
    except (ValueError, UnicodeDecodeError):
        same = False
    if not same:
        reasons.append("%s is not the project's" % os.path.join(workspace, "authz_config.json"))
    return dict(run=run, packages=packages, reasons=reasons)


def machine_facts(project, kit_root, entries, kits, mode=None, private_mode=None, owner=None, group=None):
    """What a machine holds: {kits: [{zip, sha256, reason}], reasons: [...]}.

    KITS: [{component, zip, src, dest, record}] (fl_host_kits), each to be extracted with MODE, PRIVATE_MODE, OWNER and GROUP as
    the role's kit_extract does; ENTRIES: what the project makes in KIT_ROOT (fl_kit_root_entries).
    """
    reasons = []
    if kit_root:
        try:
            plan = plan_claim(kit_root, project, entries=entries)
        except ProjectDirError as exc:
            plan, reasons = None, ["the kit root cannot be claimed: %s" % exc]
        if plan is not None and (plan["create"] or plan["mark"] or plan["record"] is not None):
            reasons.append("the kit root %s is not the project's yet" % kit_root
                           if plan["create"] or plan["mark"] else
                           "the kit root's record %s does not name every entry of the project yet"
                           % os.path.join(kit_root, ".clarafl-project"))
    found = []
    for kit in kits or []:
        sha, why = installed_kit(kit["src"], kit["dest"], kit["record"], mode=mode, private_mode=private_mode,
                                 owner=owner, group=group)
        found.append(dict(zip=kit["zip"], sha256=sha, reason=why))
        if why:
            reasons.append("the kit of %s: %s" % (kit.get("component") or kit["zip"], why))
    return dict(kits=found, reasons=reasons)


def provisioning_todo(results, provisioner):
    """Why provisioning has work to do, one sentence each; [] when it has none.

    RESULTS: {host: what fl_provisioned returned there, or None when it was not asked}; PROVISIONER: the host that
    holds the workspace.
    """
    reasons = []
    top = results.get(provisioner)
    if not isinstance(top, dict) or top.get("workspace") is None:
        return ["the provisioner %s was not read" % provisioner]
    workspace = top["workspace"]
    reasons.extend(workspace.get("reasons") or [])
    # Each machine's zips are compared with the last run's only when that run is still the project's.
    packages = workspace.get("packages") if not reasons else None
    for host in sorted(results):
        result = results[host]
        if not isinstance(result, dict) or result.get("machine") is None:
            reasons.append("%s was not read" % host)
            continue
        machine = result["machine"]
        reasons.extend("%s: %s" % (host, why) for why in machine.get("reasons") or [])
        for kit in machine.get("kits") or []:
            if packages is None or kit.get("reason"):
                continue
            made = packages.get(kit["zip"])
            if made is None:
                reasons.append("%s: run %s made no kit %s" % (host, workspace["run"], kit["zip"]))
            elif made != kit.get("sha256"):
                reasons.append("%s: kit %s is not the one of run %s" % (host, kit["zip"], workspace["run"]))
    return reasons
