"""The built artifact: `ansible-galaxy collection build` makes it without a warning, it holds what the roles
need and nothing only a checkout needs, it installs offline outside the checkout, and ansible-doc renders every
module, filter and role from the installed copy. (test_federation.py trains the local federation from it.)"""
import json
import os
import subprocess
import sys
import tarfile

import pytest

from conftest import REPO

# The artifact's size, printed with -s and kept in the log: it stays small.
MAX_BYTES = 1024 * 1024


def names_in(folder, suffix):
    return sorted(n[:-len(suffix)] for n in os.listdir(os.path.join(REPO, folder))
                  if n.endswith(suffix) and not n.startswith("_"))


def ansible_doc(collection, *args):
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-doc")] + list(args),
                          cwd=collection.home, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, env=dict(os.environ, ANSIBLE_CONFIG=collection.config,
                                                            ANSIBLE_NOCOLOR="1"), timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "WARNING" not in proc.stderr and "ERROR" not in proc.stderr, proc.stderr
    return proc.stdout


def test_the_build_warns_of_nothing_and_the_artifact_stays_small(installed_collection):
    said = installed_collection.build_output
    assert "WARNING" not in said and "[DEPRECATION" not in said, said
    print("artifact: %s, %d bytes" % (os.path.basename(installed_collection.tarball), installed_collection.size))
    assert installed_collection.size < MAX_BYTES


def test_the_artifact_holds_what_the_roles_need_and_nothing_only_a_checkout_needs(installed_collection):
    with tarfile.open(installed_collection.tarball) as tar:
        names = set(tar.getnames())
    for needed in ["roles/clara_image/templates/Dockerfile.j2", "roles/clara_image/files/image_check.py",
                   "roles/fl_admin/files/demo_mmar/config/config_fed_server.json",
                   "roles/fl_client/files/demo_data.py", "playbooks/site.yml", "playbooks/teardown.yml",
                   "inventories/local/hosts.yml", "meta/runtime.yml", "README.md", "LICENSE"]:
        assert needed in names, needed
    tops = set(name.split("/")[0] for name in names)
    for left_out in ["tests", "molecule", "bench", ".ci", "scripts", ".venv", ".collections", "Makefile"]:
        assert left_out not in tops, left_out
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    # A private key has no business in a collection.
    assert not [n for n in names if n.endswith((".key", ".pem"))]


def test_the_installed_copy_is_what_was_built(installed_collection):
    assert "clarafl.federation" in installed_collection.install_output
    with open(os.path.join(installed_collection.path, "MANIFEST.json")) as f:
        info = json.load(f)["collection_info"]
    assert (info["namespace"], info["name"]) == ("clarafl", "federation")
    assert info["dependencies"].get("community.docker")
    ansible_galaxy = os.path.join(os.path.dirname(sys.executable), "ansible-galaxy")
    verify = subprocess.run([ansible_galaxy, "collection", "verify", "--offline", "-p",
                             installed_collection.collections, "clarafl.federation"],
                            cwd=installed_collection.home, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, env=dict(os.environ, ANSIBLE_CONFIG=installed_collection.config),
                            check=False)
    assert verify.returncode == 0, verify.stdout


@pytest.mark.parametrize("kind,folder,suffix", [
    ("module", "plugins/modules", ".py"),
    ("filter", "plugins/filter", ".yml"),
])
def test_ansible_doc_renders_every_plugin_of_the_installed_copy(installed_collection, kind, folder, suffix):
    expected = names_in(folder, suffix)
    listed = json.loads(ansible_doc(installed_collection, "-t", kind, "-l", "--json", "clarafl.federation"))
    assert sorted(n.split(".")[-1] for n in listed) == expected
    fqcns = ["clarafl.federation.%s" % n for n in expected]
    docs = json.loads(ansible_doc(installed_collection, "-t", kind, "--json", *fqcns))
    for fqcn in fqcns:
        doc = docs[fqcn]["doc"]
        assert doc.get("short_description") and doc.get("description"), fqcn
        if kind == "module":
            assert docs[fqcn].get("examples") and docs[fqcn].get("return"), fqcn
    # The text a user reads, rendered for all of them.
    text = ansible_doc(installed_collection, "-t", kind, *fqcns)
    for fqcn in fqcns:
        assert "(%s)" % fqcn in text or fqcn in text, fqcn


def test_ansible_doc_renders_every_role_of_the_installed_copy(installed_collection):
    roles = sorted(n for n in os.listdir(os.path.join(REPO, "roles"))
                   if os.path.isfile(os.path.join(REPO, "roles", n, "meta", "argument_specs.yml")))
    assert roles == sorted(os.listdir(os.path.join(REPO, "roles")))
    listed = json.loads(ansible_doc(installed_collection, "-t", "role", "-l", "--json", "clarafl.federation"))
    assert sorted(n.split(".")[-1] for n in listed) == roles
    fqcns = ["clarafl.federation.%s" % n for n in roles]
    docs = json.loads(ansible_doc(installed_collection, "-t", "role", "--json", *fqcns))
    for fqcn in fqcns:
        entry_points = docs[fqcn]["entry_points"]
        assert entry_points.get("main", {}).get("short_description"), fqcn
    text = ansible_doc(installed_collection, "-t", "role", *fqcns)
    for fqcn in fqcns:
        assert fqcn in text, fqcn
