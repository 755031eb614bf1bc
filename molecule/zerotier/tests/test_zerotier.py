"""After converge, idempotence and check: each host joined once, was authorized through the (stand-in) API, and
has the address the (stand-in) controller assigned as zerotier_address."""
import json

import pytest

testinfra_hosts = ["clarafl-zt-test-a", "clarafl-zt-test-b"]

NWID = "8056c2e21c000001"
CONTROLLER = "/var/lib/clarafl-zt-standin/controller"  # the stand-in API's state, shared with the test hosts
# The API each host's role run talks to.
APIS = {
    "clarafl-zt-test-a": ("/api/v1/network/", "token"),
    "clarafl-zt-test-b": ("/controller/network/", "X-ZT1-Auth"),
}
FINGERPRINT = "74A5E9C458E1A431F1DA57A71657198823E52A61"


@pytest.fixture
def name(host):
    return host.backend.get_hostname()


@pytest.fixture
def node(host):
    return json.loads(host.check_output("zerotier-cli info -j"))["address"]


def _requests(host, node):
    lines = host.file(CONTROLLER + "/requests.log").content_string.splitlines()
    return [r for r in map(json.loads, lines) if r["path"].endswith("/%s/member/%s" % (NWID, node))]


def test_the_host_joined_the_network_once(host):
    calls = host.file("/var/lib/zerotier-one/standin-calls.log").content_string.splitlines()
    joins = [c for c in calls if c.split()[1:] == ["join", NWID]]
    assert len(joins) == 1, calls  # converge, idempotence and check
    networks = json.loads(host.check_output("zerotier-cli listnetworks -j"))
    assert [n["nwid"] for n in networks if n["nwid"] == NWID] == [NWID]


def test_the_member_was_authorized_once_through_the_api(host, name, node):
    path, auth = APIS[name]
    record = json.loads(host.file("%s/%s/%s.json" % (CONTROLLER, NWID, node)).content_string)
    assert record["authorized"] is True
    requests = _requests(host, node)
    posts = [r for r in requests if r["method"] == "POST"]
    assert len(posts) == 1, requests  # the second converge and the check run only looked (GET)
    assert all(r["path"].startswith(path) and r["auth"] == auth and r["token_ok"] for r in requests), requests
    assert len([r for r in requests if r["method"] == "GET"]) >= 2


def test_the_host_has_its_ipv4_address(host, name, node):
    record = json.loads(host.file("%s/%s/%s.json" % (CONTROLLER, NWID, node)).content_string)
    assigned = record["ipAssignments"][0]
    facts = json.loads(host.file("/var/lib/clarafl-zt-test/facts-%s.json" % name).content_string)
    assert facts["zerotier_address"] == assigned  # IPv4, although the CLI lists the IPv6 address first
    assert facts["zerotier_node_id"] == node
    assert facts["zerotier_addresses"][0] == assigned
    assert any(":" in a for a in facts["zerotier_addresses"][1:])


def test_the_apt_source_is_zerotiers_signed_repository(host):
    source = host.file("/etc/apt/sources.list.d/zerotier.list")
    assert source.mode == 0o644
    lines = [line for line in source.content_string.splitlines() if not line.startswith("#")]
    assert lines == [
        "deb [signed-by=/etc/apt/keyrings/zerotier.asc] https://download.zerotier.com/debian/bookworm bookworm main"
    ]
    # apt reads the entry (no network: apt-cache only parses the sources).
    host.run_expect([0], "apt-cache policy")


def test_the_key_is_zerotiers_release_signing_key(host):
    assert host.file("/etc/apt/keyrings/zerotier.asc").mode == 0o644
    out = host.check_output(
        "GNUPGHOME=$(mktemp -d) gpg --batch --with-colons --show-keys /etc/apt/keyrings/zerotier.asc")
    fingerprints = [line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:")]
    assert fingerprints[0] == FINGERPRINT
