# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The partner's side (module_utils/partner_join.py): a handed-over kit checked before it is used, a real TLS
handshake against a server that holds the real server kit's certificate (and asks for the site's), the sentences
of each way it fails, and the registration read from a site's log."""

from __future__ import absolute_import, division, print_function

import os
import shutil
import socket
import ssl

import pytest

import partner_kits
from ansible_collections.clarafl.federation.plugins.module_utils import partner_join as pj

ENGINE_LOG = (
    b"2026-11-30 08:30:56,481 - Communicator - INFO - Action: client_registration grpc communication error. retry: 1500\n"
    b"\tdetails = \"Client ID already registered as a client: org2\"\n"
    b"2026-11-30 08:31:01,496 - FederatedClient - INFO - Successfully registered client:org2 for pfed. Got token:f9a1\n"
    b"2026-11-30 08:31:06,111 - ClientAdminInterface - INFO - check client status.\n")


@pytest.fixture
def runs(partner_runs):
    return partner_runs


def _kit(runs, run, name):
    return runs[run]["kits"][name]


# ----------------------------------------------------------------------------- certificates and kits

def test_common_names_of_real_certificates(runs, tmp_path):
    creds = partner_kits.server_credentials(runs["first"], tmp_path)
    with open(creds["server.crt"], "rb") as handle:
        assert pj.common_names(handle.read()) == ("localhost", "pfed")
    with open(creds["rootCA.pem"], "rb") as handle:
        assert pj.common_names(handle.read().decode()) == ("pfed", "pfed")
    with pytest.raises(ValueError):
        pj.common_names(b"no certificate here")


def test_a_good_kit_says_where_its_server_is(runs):
    kit = _kit(runs, "first", "org2")
    assert pj.check_kit(kit["path"], kit["password"], "pfed", "org2", kit["sha256"].upper()) == {
        "site": "org2", "project": "pfed", "server_cn": "localhost", "fed_learn_port": 8002, "sha256": kit["sha256"]}
    # No digest given: not checked.
    assert pj.check_kit(kit["path"], kit["password"], "pfed", "org2")["sha256"] == kit["sha256"]


@pytest.mark.parametrize("case, reason, words", [
    ("missing", "missing", ["There is no kit for site org2 at", "set fl_partner_kit_dir"]),
    ("digest", "checksum", ["is not the one the lead exported for site org2", "the lead's README says 00000000",
                            "ask the lead for it again"]),
    ("password", "wrong_password", ["The password given for site org2 (fl_partner_kit_passwords.org2) does not open"]),
    ("no_password", "password_required", ["No password for site org2's kit: set fl_partner_kit_passwords.org2"]),
    ("server", "not_a_site", ["is the FL server's kit, not the kit of a site"]),
    ("admin", "not_a_site", ["is an admin console's kit, not the kit of a site"]),
    ("other_site", "other_site", ["is the kit of site org1-a, not of site org2"]),
    ("other_project", "other_project", ["is a kit of federation ofed, not of pfed (fl_project_name)"]),
    ("rekeyed_is_fine", None, []),
])
def test_each_bad_kit_is_one_sentence(runs, tmp_path, case, reason, words):
    good = _kit(runs, "first", "org2")
    path, password, sha = good["path"], good["password"], None
    if case == "missing":
        path = str(tmp_path / "org2.zip")
    elif case == "digest":
        sha = "0" * 64
    elif case == "password":
        password = "not-the-password"
    elif case == "no_password":
        password = None
    elif case in ("server", "admin", "other_site"):
        kit = _kit(runs, "first", {"server": "server", "admin": "res@org2.test", "other_site": "org1-a"}[case])
        path, password = kit["path"], kit["password"]
    elif case == "other_project":
        kit = _kit(runs, "other", "org2")
        path, password = kit["path"], kit["password"]
    elif case == "rekeyed_is_fine":  # a new root CA of the same federation: still its kit of org2
        kit = _kit(runs, "rekeyed", "org2")
        path, password = kit["path"], kit["password"]
    if reason is None:
        assert pj.check_kit(path, password, "pfed", "org2")["site"] == "org2"
        return
    with pytest.raises(pj.PartnerKitError) as caught:
        pj.check_kit(path, password, "pfed", "org2", sha)
    assert caught.value.reason == reason
    for word in words:
        assert word in str(caught.value)
    assert good["password"] not in str(caught.value)


def test_a_tampered_zip_is_refused_by_its_digest_first(runs, tmp_path):
    good = _kit(runs, "first", "org2")
    tampered = tmp_path / "org2.zip"
    shutil.copy(good["path"], str(tampered))
    with open(str(tampered), "r+b") as handle:
        handle.seek(200)
        handle.write(b"\x00\x01\x02")
    with pytest.raises(pj.PartnerKitError) as caught:
        pj.check_kit(str(tampered), good["password"], "pfed", "org2", good["sha256"])
    assert caught.value.reason == "checksum"
    # Without the digest, the damage is still found when the zip is read.
    with pytest.raises(pj.PartnerKitError) as caught:
        pj.check_kit(str(tampered), good["password"], "pfed", "org2")
    assert caught.value.reason in ("corrupt", "truncated", "wrong_password")


def test_the_credentials_go_to_a_private_folder(runs, tmp_path):
    kit = _kit(runs, "first", "org2")
    paths = pj.kit_credentials(kit["path"], kit["password"], str(tmp_path))
    assert sorted(os.path.basename(v) for v in paths.values()) == ["client.crt", "client.key", "rootCA.pem"]
    assert all(oct(os.stat(v).st_mode & 0o777) == "0o600" for v in paths.values())


# ----------------------------------------------------------------------------- the handshake, on a real TLS server

@pytest.fixture
def creds(runs, tmp_path):
    folder = tmp_path / "server"
    folder.mkdir()
    return partner_kits.server_credentials(runs["first"], folder)


@pytest.fixture
def site(runs, tmp_path):
    folder = tmp_path / "site"
    folder.mkdir()
    kit = _kit(runs, "first", "org2")
    return pj.kit_credentials(kit["path"], kit["password"], str(folder))


def _shake(site, port, cn="localhost", address="127.0.0.1", timeout=3.0):
    return pj.handshake(address, port, cn, site[pj.ROOT_CA], site[pj.CLIENT_CERT], site[pj.CLIENT_KEY],
                        timeout=timeout)


Server = partner_kits.TlsServer


def test_the_server_of_the_federation_takes_the_site(creds, site):
    server = Server(creds, creds["rootCA.pem"])
    try:
        outcome = _shake(site, server.port)
    finally:
        server.close()
    assert outcome["ok"] is True and outcome["stage"] == "accepted"
    assert pj.handshake_sentence(outcome, "org2", "gpu-1", "localhost", server.port) is None


def test_another_name_than_the_server_certificate_s(creds, site):
    server = Server(creds, creds["rootCA.pem"])
    try:
        outcome = _shake(site, server.port, cn="fl.other.example")
    finally:
        server.close()
    assert outcome["stage"] == "verify" and "fl.other.example" in outcome["error"]
    sentence = pj.handshake_sentence(outcome, "org2", "gpu-1", "fl.other.example", server.port, "127.0.0.1")
    assert sentence.startswith("From gpu-1, site org2 cannot reach the FL server fl.other.example:%d (at 127.0.0.1): "
                               "the server there does not prove it is this federation's server" % server.port)
    assert "ask the lead for a new kit; nothing was changed." in sentence


def test_a_server_of_another_federation(runs, tmp_path, site):
    folder = tmp_path / "other"
    folder.mkdir()
    other = partner_kits.server_credentials(runs["other"], folder)
    server = Server(other, other["rootCA.pem"])
    try:
        outcome = _shake(site, server.port)
    finally:
        server.close()
    assert outcome["stage"] == "verify"
    assert "is not signed by the kit's root CA" in pj.handshake_sentence(outcome, "org2", "gpu-1", "localhost", 1)


def test_a_server_that_refuses_the_site_s_certificate(runs, tmp_path, creds, site):
    # The server was re-keyed: it asks for certificates of its new root CA.
    folder = tmp_path / "rekeyed"
    folder.mkdir()
    rekeyed = partner_kits.server_credentials(runs["rekeyed"], folder)
    server = Server(creds, rekeyed["rootCA.pem"])
    try:
        outcome = _shake(site, server.port)
    finally:
        server.close()
    assert outcome["ok"] is False and outcome["stage"] == "refused"
    sentence = pj.handshake_sentence(outcome, "org2", "gpu-1", "localhost", server.port)
    assert "the server refuses site org2's certificate" in sentence and "a re-key" in sentence


def test_a_closed_port(site):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    outcome = _shake(site, port)
    assert outcome == {"ok": False, "stage": "connect", "error": "Connection refused"}
    assert pj.handshake_sentence(outcome, "org2", "gpu-1", "localhost", port) == (
        "From gpu-1, site org2 cannot reach the FL server localhost:%d: the connection is refused (nothing listens on "
        "port %d there). Ask the lead whether the server is running and port %d is open to gpu-1; nothing was changed."
        % (port, port, port))


def test_a_name_that_does_not_resolve(site):
    outcome = _shake(site, 8002, cn="fl.lead.invalid", address="fl.lead.invalid")
    assert outcome["stage"] == "resolve"
    sentence = pj.handshake_sentence(outcome, "org2", "gpu-1", "fl.lead.invalid", 8002)
    assert "the name fl.lead.invalid does not resolve there" in sentence and "fl_partner_server_address" in sentence


def test_a_listener_that_never_speaks_tls(creds, site):
    server = Server(creds, creds["rootCA.pem"], speak=False)
    try:
        outcome = _shake(site, server.port, timeout=1.0)
    finally:
        server.close()
    assert outcome == {"ok": False, "stage": "tls", "error": "timed out"}
    assert "no answer within the connection timeout" in pj.handshake_sentence(outcome, "org2", "gpu-1", "localhost", 1)


@pytest.mark.parametrize("outcome, words", [
    ({"ok": False, "stage": "connect", "error": "timed out"}, ["no answer within the connection timeout",
                                                               "whether port 8002 of the server is open to gpu-1"]),
    ({"ok": False, "stage": "connect", "error": "No route to host"}, ["No route to host. Ask the lead for the server's "
                                                                      "address"]),
    ({"ok": False, "stage": "tls", "error": "wrong version number"}, ["the TLS handshake fails (wrong version number)",
                                                                      "whether 8002 is its FL port"]),
])
def test_the_other_sentences(outcome, words):
    sentence = pj.handshake_sentence(outcome, "org2", "gpu-1", "fl.lead.example", 8002)
    assert sentence.startswith("From gpu-1, site org2 cannot reach the FL server fl.lead.example:8002: ")
    for word in words:
        assert word in sentence


def test_check_server_leaves_nothing_behind(runs, creds, tmp_path):
    kit = _kit(runs, "first", "org2")
    work = tmp_path / "work"
    work.mkdir()
    server = Server(creds, creds["rootCA.pem"])
    try:
        results = pj.check_server([{"name": "org2", "src": kit["path"], "password": kit["password"]},
                                   {"name": "org3", "src": kit["path"], "password": "wrong"}],
                                  "localhost", server.port, address="127.0.0.1", timeout=3, host="gpu-1",
                                  workdir=str(work))
    finally:
        server.close()
    assert [(r["site"], r["ok"], r["stage"]) for r in results] == [("org2", True, "accepted"), ("org3", False, "kit")]
    assert results[0]["sentence"] is None
    assert results[1]["sentence"].startswith("The kit of site org3 cannot be read on gpu-1: wrong password")
    assert os.listdir(str(work)) == []


# ----------------------------------------------------------------------------- the registration

def test_the_registration_is_read_from_the_log():
    assert pj.registration(ENGINE_LOG, "org2") == {
        "registered": True, "refused": False,
        "last": "2026-11-30 08:31:01,496 - FederatedClient - INFO - Successfully registered client:org2 for pfed. "
                "Got token:f9a1"}
    # Another site's line is not this one's; a site whose name starts the same is not either.
    assert pj.registration(ENGINE_LOG, "org").get("registered") is False
    # Only what came after SINCE counts (a container started in this run).
    since = ENGINE_LOG.index(b"2026-11-30 08:31:06")
    assert pj.registration(ENGINE_LOG, "org2", since)["registered"] is False
    refused = pj.registration(ENGINE_LOG[:ENGINE_LOG.index(b"2026-11-30 08:31:01")], "org2")
    assert refused == {"registered": False, "refused": True,
                       "last": "details = \"Client ID already registered as a client: org2\""}


def test_the_registration_sentences():
    assert pj.registration_sentence({"registered": True}, "org2", "gpu-1", "/l", "fl:8002", 180) is None
    refused = pj.registration_sentence({"registered": False, "refused": True, "last": "x"}, "org2", "gpu-1",
                                       "/k/org2/log.txt", "fl:8002", 180)
    assert refused.startswith("Site org2 on gpu-1 did not register with the FL server fl:8002 within 180 s: the server "
                              "still holds an earlier registration of it")
    assert "remove_client org2" in refused
    said = pj.registration_sentence({"registered": False, "refused": False, "last": "grpc communication error"},
                                    "org2", "gpu-1", "/k/org2/log.txt", "fl:8002", 180)
    assert "its log (/k/org2/log.txt) last says: grpc communication error. Ask the lead" in said
    silent = pj.registration_sentence({"registered": False, "refused": False, "last": ""}, "org2", "gpu-1",
                                      "/k/org2/log.txt", "fl:8002", 180)
    assert "says nothing of the server yet" in silent


# ----------------------------------------------------------------------------- the partner's inventory

def test_a_partner_inventory_that_can_join():
    hosts = {"gpu-1": {"fl_sites": [{"name": "org2", "org": "org2"}, {"name": "org2-b", "org": "org2"}]},
             "gpu-2": {"fl_client_name": "org2-c", "fl_org": "org2"}}
    assert pj.join_problems(["gpu-1", "gpu-2"], hosts, {"org2": "p", "org2-b": "q", "org2-c": "r", "x@y": "s"},
                            {"org2": "a" * 64}, "/srv/kits", "pfed") == []


def test_what_stops_a_partner_inventory():
    assert pj.join_problems([], {}) == [
        "join.yml runs the sites of a partner organization: put your machines in the group fl_partner_clients, each "
        "with its sites (fl_sites)"]
    hosts = {"gpu-1": {"fl_sites": [{"name": "org2", "org": "org2"}]}, "gpu-2": {"fl_sites": [{"name": "org2"}]}}
    problems = pj.join_problems(["gpu-1", "gpu-2"], hosts, {}, {"org2": "abc"}, "kits", "")
    assert problems == [
        "fl_project_name is not set: set it to the federation's name the lead's README gives",
        "fl_partner_kit_dir (kits) must be an absolute path on this controller",
        "site org2 (on gpu-1) has no password: fl_partner_kit_passwords.org2 is not set (the lead's passwords file for "
        "your organization sets it; pass it with -e @<file>)",
        "fl_partner_kit_sha256.org2 is not a SHA-256 (64 hexadecimal digits): copy it from the lead's README",
        "site org2 is listed on gpu-1 and on gpu-2: each site runs on one machine"]
    assert pj.join_problems(["gpu-1"], {"gpu-1": {"fl_sites": []}}, "pw", [], None, "p") == [
        "fl_partner_kit_dir is not set: set it to the folder on this controller that holds the kits the lead handed "
        "over",
        "fl_partner_kit_passwords must be a dictionary {site: password} (the lead's passwords file)",
        "fl_partner_kit_sha256 must be a dictionary {site: SHA-256} (the lead's README lists them)",
        "no machine of fl_partner_clients lists a site: give each its sites, e.g. fl_sites: [{name: org2, org: org2}]"]


def test_the_kits_of_a_machine():
    sites = [{"name": "org2", "kit_dir": "/opt/k/org2"}, {"name": "org2-b", "kit_dir": "/opt/k/org2-b"}]
    assert pj.kit_checks(sites, "/srv/kits", {"org2": "p"}, {"org2": "d"}) == [
        {"name": "org2", "src": "/srv/kits/org2.zip", "password": "p", "sha256": "d"},
        {"name": "org2-b", "src": "/srv/kits/org2-b.zip", "password": None, "sha256": None}]
    assert pj.kit_installs(sites, "/opt/k/", {"org2": "p"}, [{"site": "org2", "sha256": "d"}]) == [
        {"src": "/opt/k/.kits/org2.zip", "dest": "/opt/k/org2", "record": "/opt/k/.kits/org2.zip.extracted",
         "password": "p", "checksum": "d"},
        {"src": "/opt/k/.kits/org2-b.zip", "dest": "/opt/k/org2-b", "record": "/opt/k/.kits/org2-b.zip.extracted",
         "password": None, "checksum": None}]
