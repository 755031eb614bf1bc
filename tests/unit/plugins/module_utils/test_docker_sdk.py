# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way the modules connect to the Docker engine, and what its failures say."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.clarafl.federation.plugins.module_utils import _admin_console, containers, docker_sdk


def test_a_missing_sdk_names_the_package_and_the_role_that_installs_it(monkeypatch):
    monkeypatch.setattr(docker_sdk, "HAS_DOCKER", False)
    monkeypatch.setattr(docker_sdk, "DOCKER_IMPORT_ERROR", "No module named 'docker'")
    with pytest.raises(docker_sdk.DockerUnavailable) as exc:
        docker_sdk.connect()
    assert exc.value.kind == "docker_missing"
    assert "Docker SDK for Python" in str(exc.value) and "docker_python_packages" in str(exc.value)
    assert "No module named 'docker'" in str(exc.value)


def test_an_engine_that_does_not_answer_is_named_with_what_to_do(tmp_path):
    host = "unix://%s" % (tmp_path / "no-engine.sock")
    with pytest.raises(docker_sdk.DockerUnavailable) as exc:
        # version "auto" asks the engine for its API version at once
        docker_sdk.connect(host, timeout=2)
    assert exc.value.kind == "docker"
    assert host in str(exc.value) and "--tags docker" in str(exc.value)


def _console():
    params = dict((k, v.get("default")) for k, v in _admin_console.CONSOLE_ARGS.items())
    params.update(container="adm", username="admin@x")
    return _admin_console.Console(params).container


@pytest.mark.parametrize("error", [containers.ContainersError, _admin_console.ConsoleError])
def test_each_module_reports_it_in_its_own_error(monkeypatch, error):
    monkeypatch.setattr(docker_sdk, "HAS_DOCKER", False)
    client = containers.docker_client if error is containers.ContainersError else _console()
    with pytest.raises(error) as exc:
        client()
    assert "Docker SDK for Python" in str(exc.value)
    if error is _admin_console.ConsoleError:
        assert exc.value.kind == "docker_missing"
