"""Runs the role again with other settings (ansible-playbook on run_role.yml, against the scenario's hosts and
the STAND-IN API and zerotier-cli) and checks what it says: disabled, a bad network id, the timeout
message, the token never printed even with -vvv, a refused token, leaving a network, check mode."""
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request

SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STANDIN = "/tmp/clarafl-zt-test-standin/controller"
TOKEN = os.environ.get("CLARAFL_ZT_STANDIN_TOKEN", "")
# Networks of their own, so that the converged network is left as converge made it.
NW_TIMEOUT = "deadbeef00000002"
NW_VVV = "deadbeef00000003"
NW_REFUSED = "deadbeef00000004"
NW_APPROVED_LATER = "deadbeef00000005"
NW_CHECK = "deadbeef00000006"
NW_CONVERGED = "8056c2e21c000001"


def _playbook_cmd():
    local = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    return local if os.path.exists(local) else shutil.which("ansible-playbook")


def command(tmp_path, extra, limit="clarafl-zt-test-a", verbose=False, args=()):
    inventory = os.path.dirname(os.environ["MOLECULE_INVENTORY_FILE"])
    extra_file = tmp_path / ("extra-%d.json" % len(list(tmp_path.iterdir())))
    extra_file.write_text(json.dumps(extra))
    cmd = [_playbook_cmd(), "-i", inventory, "--limit", limit, "-e", "@%s" % extra_file,
           os.path.join(SCENARIO, "run_role.yml")]
    cmd[1:1] = list(args) + (["-vvv"] if verbose else [])
    return cmd, dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")


def run(tmp_path, extra, **kwargs):
    cmd, env = command(tmp_path, extra, **kwargs)
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300,
                          check=False)
    # Long messages may be folded by the YAML result format: compare with runs of blanks made one.
    return proc.returncode, proc.stdout, re.sub(r"\s+", " ", proc.stdout)


def recap(out, host):
    match = re.search(r"^%s\s*:\s*(.*)$" % re.escape(host), out, re.M)
    assert match, out[-3000:]
    return dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", match.group(1)))


def docker(container, *args):
    return subprocess.run(["docker", "exec", container] + list(args), check=True, stdout=subprocess.PIPE,
                          text=True).stdout


def node_of(container):
    return json.loads(docker(container, "zerotier-cli", "info", "-j"))["address"]


def networks_of(container):
    return [n["nwid"] for n in json.loads(docker(container, "zerotier-cli", "listnetworks", "-j"))]


def cli_calls(container):
    return docker(container, "cat", "/var/lib/zerotier-one/standin-calls.log").splitlines()


def test_disabled_does_nothing_and_says_so(tmp_path):
    before = cli_calls("clarafl-zt-test-a")
    rc, out, flat = run(tmp_path, {"zerotier_enabled": False})
    assert rc == 0, out
    assert flat.count("zerotier_enabled is false for clarafl-zt-test-a") == 1, out
    assert recap(out, "clarafl-zt-test-a")["changed"] == 0
    assert cli_calls("clarafl-zt-test-a") == before  # not even read


def test_a_bad_network_id_is_refused_clearly(tmp_path):
    rc, out, flat = run(tmp_path, {"zerotier_network_id": "8056c2e21c00001"})
    assert rc != 0
    assert "zerotier_network_id must be the 16 hexadecimal digits" in flat, out
    assert "'8056c2e21c00001'" in flat


def test_the_timeout_names_the_node_the_network_and_where_to_approve(tmp_path):
    node = node_of("clarafl-zt-test-a")
    rc, out, flat = run(tmp_path, {"zerotier_network_id": NW_TIMEOUT, "zerotier_api_token": "",
                                   "zerotier_wait_timeout": 3, "zerotier_wait_delay": 1})
    assert rc != 0
    assert "ZeroTier node %s (clarafl-zt-test-a) has no address on network %s after 3 s" % (node, NW_TIMEOUT) in flat, out
    assert ("Approve member %s on network %s at https://my.zerotier.com/network/%s (Members: tick Auth), "
            "or set zerotier_api_token" % (node, NW_TIMEOUT, NW_TIMEOUT)) in flat, out
    # Said before the wait too, so the operator can approve while the role waits.
    assert ("Waiting up to 3 s for network %s to give clarafl-zt-test-a an address. Approve member %s on network %s"
            % (NW_TIMEOUT, node, NW_TIMEOUT)) in flat, out
    record = json.load(open(os.path.join(STANDIN, NW_TIMEOUT, node + ".json")))
    assert record["authorized"] is False  # nothing was authorized without a token


def waited(calls, nwid):
    """The node joined NWID and the role has looked at its networks twice since: it is waiting."""
    joins = [i for i, call in enumerate(calls) if call.split()[1:] == ["join", nwid]]
    return bool(joins) and sum(1 for call in calls[joins[-1]:] if "listnetworks" in call) >= 2


def test_an_approval_made_while_the_role_waits_is_picked_up(tmp_path):
    # The runbook's "wait for approval": no token, and someone approves the member in Central meanwhile.
    node = node_of("clarafl-zt-test-a")
    member = os.path.join(STANDIN, NW_APPROVED_LATER, node + ".json")
    cmd, env = command(tmp_path, {"zerotier_network_id": NW_APPROVED_LATER, "zerotier_api_token": "",
                                  "zerotier_wait_timeout": 60, "zerotier_wait_delay": 1})
    with subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        deadline = time.time() + 60
        while not waited(cli_calls("clarafl-zt-test-a"), NW_APPROVED_LATER) and time.time() < deadline:
            time.sleep(0.5)
        assert os.path.exists(member)  # the join made the member appear at the (stand-in) controller
        request = urllib.request.Request(
            "http://127.0.0.1:39393/api/v1/network/%s/member/%s" % (NW_APPROVED_LATER, node), method="POST",
            data=json.dumps({"config": {"authorized": True}}).encode(),
            headers={"Authorization": "token " + TOKEN, "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assigned = json.load(response)["config"]["ipAssignments"][0]
        out = proc.communicate(timeout=120)[0]
    flat = re.sub(r"\s+", " ", out)
    assert proc.returncode == 0, out
    assert "Waiting up to 60 s for network %s" % NW_APPROVED_LATER in flat, out
    assert "FAILED - RETRYING" in out  # it did wait
    assert "zerotier_address of clarafl-zt-test-a is %s" % assigned in flat, out


def test_the_token_is_never_printed_even_with_vvv(tmp_path):
    assert len(TOKEN) > 10
    rc, out, _flat = run(tmp_path, {"zerotier_network_id": NW_VVV},
                         limit="clarafl-zt-test-a,clarafl-zt-test-b", verbose=True)
    assert rc == 0, out
    assert "ESTABLISH" in out  # really -vvv
    assert TOKEN not in out
    for container in ("clarafl-zt-test-a", "clarafl-zt-test-b"):
        record = json.load(open(os.path.join(STANDIN, NW_VVV, node_of(container) + ".json")))
        assert record["authorized"] is True  # the token was used: Central API (a) and controller API (b)
        assert recap(out, container)["changed"] == 2  # join, authorize


def test_a_refused_token_is_explained_without_printing_it(tmp_path):
    wrong = "zt-wrong-token-0d9c3b7a"
    rc, out, flat = run(tmp_path, {"zerotier_network_id": NW_REFUSED, "zerotier_api_token": wrong}, verbose=True)
    assert rc != 0
    assert "The ZeroTier API at http://127.0.0.1:39393/api/v1 refused zerotier_api_token (HTTP 401)" in flat, out
    assert wrong not in out and TOKEN not in out


def test_absent_leaves_the_network_once(tmp_path):
    assert NW_VVV in networks_of("clarafl-zt-test-a")
    rc, out, _flat = run(tmp_path, {"zerotier_network_id": NW_VVV, "zerotier_state": "absent"})
    assert rc == 0, out
    assert recap(out, "clarafl-zt-test-a")["changed"] == 1
    assert NW_VVV not in networks_of("clarafl-zt-test-a")
    rc, out, _flat = run(tmp_path, {"zerotier_network_id": NW_VVV, "zerotier_state": "absent"})
    assert rc == 0, out
    assert recap(out, "clarafl-zt-test-a")["changed"] == 0
    assert NW_CONVERGED in networks_of("clarafl-zt-test-a")  # the converged network is kept


def test_check_mode_says_what_would_change_and_changes_nothing(tmp_path):
    rc, out, flat = run(tmp_path, {"zerotier_network_id": NW_CHECK}, limit="clarafl-zt-test-a,clarafl-zt-test-b",
                        args=["--check"])
    assert rc == 0, out
    for container in ("clarafl-zt-test-a", "clarafl-zt-test-b"):
        assert recap(out, container)["changed"] == 2, out  # would join, would authorize
        assert "%s would join ZeroTier network %s" % (container, NW_CHECK) in flat
        assert NW_CHECK not in networks_of(container)
    assert not os.path.exists(os.path.join(STANDIN, NW_CHECK))


def test_check_mode_on_the_converged_network_changes_nothing(tmp_path):
    rc, out, flat = run(tmp_path, {}, limit="clarafl-zt-test-a,clarafl-zt-test-b", args=["--check"])
    assert rc == 0, out
    for host in ("clarafl-zt-test-a", "clarafl-zt-test-b"):
        assert recap(out, host)["changed"] == 0, out
        facts = json.loads(docker(host, "cat", "/var/lib/clarafl-zt-test/facts-%s.json" % host))
        assert "zerotier_address of %s is %s" % (host, facts["zerotier_address"]) in flat, out


def test_a_run_of_a_later_role_alone_still_gets_the_address(tmp_path):
    # As `site.yml --tags provisioning` would: the role's read-only part runs, nothing is changed.
    rc, out, flat = run(tmp_path, {}, limit="clarafl-zt-test-a,clarafl-zt-test-b", args=["--tags", "provisioning"])
    assert rc == 0, out
    assert "Join the network" not in out and "Look up the member" not in out
    for host in ("clarafl-zt-test-a", "clarafl-zt-test-b"):
        facts = json.loads(docker(host, "cat", "/var/lib/clarafl-zt-test/facts-%s.json" % host))
        assert "zerotier_address of %s is %s" % (host, facts["zerotier_address"]) in flat, out
        assert recap(out, host)["changed"] == 0
