# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the server's and the sites' containers run their engine (module_utils/federation.py engine_container, the
fl_engine_container filter) and how the supervisor reaches a machine (module_utils/containers.py
install_supervisor)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import stat

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.clarafl.federation.plugins.filter import federation as filters
from ansible_collections.clarafl.federation.plugins.module_utils import containers
from ansible_collections.clarafl.federation.plugins.module_utils import engine_supervisor
from ansible_collections.clarafl.federation.plugins.module_utils import federation as fed

# The client containers' settings as roles/fl_client/vars/main.yml wrote them up to 0.2.0 (the kit's loop).
OLD_CLIENT = {
    "image": "img",
    "command": ["bash", "-c", "cd /workspace/site/startup && rm -f ../daemon_pid.fl ../pid.fl ../shutdown.fl "
                              "../restart.fl && exec ./sub_start.sh"],
    "tmpfs": ["/tmp:mode=1777"],
    "etc_hosts": {},
    "network_mode": "host",
    "labels": {"org.clarafl.project": "p", "org.clarafl.component": "client"},
}
DEFAULTS = {"project": "p", "kit_root": "/opt/clarafl/p", "dataset_dir": "", "dataset_root": "", "gpus": "none",
            "demo_data": False}


def _base(config):
    return dict((k, v) for k, v in config.items() if k != "command")


def _digest():
    with open(engine_supervisor.__file__, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def test_the_kit_s_loop_keeps_the_settings_and_so_the_hash_it_had():
    config = fed.engine_container(_base(OLD_CLIENT), "kit", "/workspace/site", "/opt/clarafl/p/.engine")
    assert config == OLD_CLIENT
    # In the same order too: the server role hashes its settings as JSON without sorting the keys.
    assert json.dumps(config) == json.dumps(OLD_CLIENT)
    sites = fed.machine_sites([{"name": "a", "org": "o"}], DEFAULTS)
    assert fed.site_containers(sites, config)[0]["labels"]["org.clarafl.config"] == \
        fed.site_containers(sites, OLD_CLIENT)[0]["labels"]["org.clarafl.config"]


def test_the_collection_s_supervisor_is_mounted_read_only_and_labelled_with_its_digest():
    config = fed.engine_container(dict(_base(OLD_CLIENT), volumes=["/k:/workspace/server"]), "collection",
                                  "/workspace/server", "/opt/clarafl/p/.engine")
    assert config["command"] == ["python3", "/opt/clarafl-engine/engine_supervisor.py", "/workspace/server"]
    assert list(config)[:2] == ["image", "command"]
    assert config["volumes"] == ["/k:/workspace/server", "/opt/clarafl/p/.engine:/opt/clarafl-engine:ro"]
    assert config["labels"] == {"org.clarafl.project": "p", "org.clarafl.component": "client",
                                "org.clarafl.supervisor": _digest()}
    assert OLD_CLIENT["labels"] == {"org.clarafl.project": "p", "org.clarafl.component": "client"}
    # A site keeps its own kit and data mounts first; the supervisor's folder follows.
    sites = fed.machine_sites([{"name": "a", "org": "o", "dataset_dir": "/d/a"}], DEFAULTS)
    spec = fed.site_containers(sites, fed.engine_container(_base(OLD_CLIENT), "collection", "/workspace/site",
                                                           "/opt/clarafl/p/.engine"))[0]
    assert spec["volumes"] == ["/opt/clarafl/p/a:/workspace/site", "/d/a:/workspace/data:ro",
                               "/opt/clarafl/p/.engine:/opt/clarafl-engine:ro"]
    # Another supervisor (a new collection release) recreates the containers: their config hash changes.
    old = fed.site_containers(sites, fed.engine_container(_base(OLD_CLIENT), "kit", "/workspace/site", "/x"))[0]
    assert spec["labels"]["org.clarafl.config"] != old["labels"]["org.clarafl.config"]


def test_an_unknown_supervisor_is_refused():
    with pytest.raises(ValueError, match="fl_engine_supervisor must be one of collection, kit, not 'nvidia'"):
        fed.engine_container({}, "nvidia", "/workspace/site", "/x")
    with pytest.raises(AnsibleFilterError, match="not 'nvidia'"):
        filters.fl_engine_container({}, "nvidia", "/workspace/site", "/x")
    with pytest.raises(AnsibleFilterError, match="expects the container settings"):
        filters.fl_engine_container(["image"], "kit", "/workspace/site", "/x")


def test_the_supervisor_source_is_the_module_s_own_file():
    assert fed.supervisor_source() == open(engine_supervisor.__file__, "rb").read()


def test_install_writes_the_supervisor_once_and_replaces_a_changed_one(tmp_path):
    folder = str(tmp_path / ".engine")
    assert containers.install_supervisor(folder, check_mode=True) == {
        "path": os.path.join(folder, "engine_supervisor.py"), "changed": True}
    assert not os.path.exists(folder)
    result = containers.install_supervisor(folder)
    path = result["path"]
    assert result["changed"] is True
    assert open(path, "rb").read() == fed.supervisor_source()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644 and stat.S_IMODE(os.stat(folder).st_mode) == 0o755
    assert containers.install_supervisor(folder) == {"path": path, "changed": False}
    before = os.stat(path).st_ino
    with open(path, "a") as fh:
        fh.write("# changed\n")
    assert containers.install_supervisor(folder, check_mode=True)["changed"] is True
    assert containers.install_supervisor(folder)["changed"] is True
    # A new file (a rename), so that a container running the old one keeps it whole.
    assert os.stat(path).st_ino != before and open(path, "rb").read() == fed.supervisor_source()
    os.chmod(path, 0o600)
    assert containers.install_supervisor(folder)["changed"] is True
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert sorted(os.listdir(folder)) == ["engine_supervisor.py"]


def test_install_needs_the_kit_root(tmp_path):
    with pytest.raises(containers.ContainersError, match="the provisioning role extracts the project's kits there"):
        containers.install_supervisor(str(tmp_path / "missing" / ".engine"))
    with pytest.raises(containers.ContainersError, match="must be an absolute path"):
        containers.install_supervisor("relative/.engine")
