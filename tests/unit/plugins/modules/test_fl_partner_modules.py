# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The partner's modules run as Ansible runs them: fl_partner_kit (the kits, before anything changes),
fl_server_handshake (a real TLS server with the real server kit's certificate) and fl_site_registered; the passwords
are masked wherever a module's output could show them."""

from __future__ import absolute_import, division, print_function

import os
import socket

import pytest

import partner_kits
from module_runner import run_module
from ansible_collections.clarafl.federation.plugins.modules import (
    fl_partner_export, fl_partner_kit, fl_server_handshake, fl_site_registered)

Server = partner_kits.TlsServer


@pytest.fixture
def runs(partner_runs):
    return partner_runs


def _kit(runs, run, name, **extra):
    kit = runs[run]["kits"][name]
    return dict({"name": name, "src": kit["path"], "password": kit["password"]}, **extra)


def test_good_kits_say_their_server(runs, capsys):
    result, raw = run_module(fl_partner_kit, {"project": "pfed", "kits": [
        _kit(runs, "first", "org2", sha256=runs["first"]["kits"]["org2"]["sha256"]),
        _kit(runs, "first", "org1-a")]}, capsys)
    assert result["changed"] is False and not result.get("failed")
    assert result["server"] == {"cn": "localhost", "fed_learn_port": 8002}
    assert [k["site"] for k in result["kits"]] == ["org2", "org1-a"]
    assert runs["first"]["kits"]["org2"]["password"] not in raw


def test_bad_kits_are_each_one_sentence_and_no_password_is_shown(runs, capsys):
    wrong = _kit(runs, "first", "org2", password="a-wrong-password")
    other_site = dict(_kit(runs, "first", "org1-a"), name="org3")
    other_project = _kit(runs, "other", "org2")
    result, raw = run_module(fl_partner_kit, {"project": "pfed", "kits": [wrong, other_site, other_project]}, capsys)
    assert result["failed"] is True and len(result["problems"]) == 3
    assert "does not open" in result["problems"][0] and "is the kit of site org1-a, not of site org3" in \
        result["problems"][1] and "is a kit of federation ofed, not of pfed" in result["problems"][2]
    assert result["msg"].endswith("Nothing was changed.")
    for secret in ("a-wrong-password", runs["first"]["kits"]["org1-a"]["password"],
                   runs["other"]["kits"]["org2"]["password"]):
        assert secret not in raw


def test_kits_of_two_servers_are_refused(runs, capsys):
    result, _raw = run_module(fl_partner_kit, {"project": "", "kits": [
        _kit(runs, "first", "org2"), dict(_kit(runs, "other", "org2"), name="org2")]}, capsys)
    assert result["failed"] is True and result["problems"] == [
        "The kits connect to different servers (fl.other.example:8002, localhost:8002): they are not of one "
        "federation; ask the lead for this federation's kits."]


def test_the_handshake_module_against_a_real_tls_server(runs, tmp_path, capsys):
    folder = tmp_path / "server"
    folder.mkdir()
    creds = partner_kits.server_credentials(runs["first"], folder)
    server = Server(creds, creds["rootCA.pem"])
    try:
        kit = _kit(runs, "first", "org2", sha256="ignored")
        result, raw = run_module(fl_server_handshake, {"kits": [kit], "cn": "localhost", "port": server.port,
                                                       "address": "127.0.0.1", "timeout": 3}, capsys)
    finally:
        server.close()
    assert result["changed"] is False and not result.get("failed")
    assert result["sites"][0]["ok"] is True and result["sites"][0]["sentence"] is None
    assert kit["password"] not in raw


def test_the_handshake_module_says_a_closed_port(runs, capsys):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    result, raw = run_module(fl_server_handshake, {"kits": [_kit(runs, "first", "org2")], "cn": "localhost",
                                                   "port": port, "timeout": 2, "host": "gpu-org2"}, capsys)
    assert result["failed"] is True
    assert result["msg"].startswith("From gpu-org2, site org2 cannot reach the FL server localhost:%d: the connection "
                                    "is refused" % port)
    assert runs["first"]["kits"]["org2"]["password"] not in raw


def test_the_registration_module(tmp_path, capsys):
    log = tmp_path / "log.txt"
    log.write_bytes(b"x - FederatedClient - INFO - Successfully registered client:org2 for pfed. Got token:t\n")
    sites = [{"name": "org2", "log": str(log)}]
    result, _raw = run_module(fl_site_registered, {"sites": sites, "server": "localhost:8002", "timeout": 1}, capsys)
    assert result["registered"] == ["org2"] and not result.get("failed")
    # A container started in this run: the earlier line does not count.
    sites[0]["since"] = log.stat().st_size
    result, _raw = run_module(fl_site_registered, {"sites": sites, "server": "localhost:8002", "timeout": 1,
                                                   "delay": 0.2}, capsys)
    assert result["failed"] is True and result["registered"] == []
    assert result["msg"].startswith("Site org2 on %s did not register with the FL server localhost:8002 within 1 s"
                                    % socket.gethostname())
    # In check mode the logs are read once, nothing waited for.
    result, _raw = run_module(fl_site_registered, {"sites": sites, "server": "s", "timeout": 60}, capsys,
                              check_mode=True)
    assert not result.get("failed") and result["waited"] < 5


def test_the_export_module_runs_only_through_its_action(capsys):
    args = {"dest": "/tmp/x", "project": "p", "server": {"cn": "c", "fed_learn_port": 1, "admin_port": 2},
            "orgs": [], "packages_dir": "/tmp/p"}
    result, _raw = run_module(fl_partner_export, args, capsys)
    assert result["failed"] is True and "through its action plugin" in result["msg"]
    assert not os.path.exists("/tmp/x")
