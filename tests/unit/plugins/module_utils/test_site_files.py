# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""site_files: each site's kit, certificate digest, dataset folder and demo record, read in one pass."""

from __future__ import absolute_import, division, print_function

import hashlib
import os

import pytest

from ansible_collections.clarafl.federation.plugins.module_utils import site_files as sf
from ansible_collections.clarafl.federation.plugins.module_utils.site_files import SiteFilesError, site_files

CERT = b"-----BEGIN CERTIFICATE-----\nMIIDazCCAlOgAwIBAgIU\n-----END CERTIFICATE-----\n"
MARKER_TEXT = u"site_index=0 num_sites=3 tool=4b1d seed=20210601\n"


def make_kit(kit_dir, cert=CERT):
    startup = os.path.join(str(kit_dir), "startup")
    os.makedirs(startup)
    with open(os.path.join(startup, "client.crt"), "wb") as fh:
        fh.write(cert)
    return str(kit_dir)


def make_dataset(data_dir, marker=None):
    os.makedirs(str(data_dir))
    if marker is not None:
        with open(os.path.join(str(data_dir), sf.DEMO_MARKER), "wb") as fh:
            fh.write(marker)
    return str(data_dir)


EMPTY = {"kit": False, "cert_sha256": "", "connection_sha256": "", "dataset": False, "demo_marker": "", "log_size": 0}


def test_kit_and_dataset_present(tmp_path):
    kit = make_kit(tmp_path / "org1-a", CERT + b"org1-a")
    data = make_dataset(tmp_path / "data" / "org1-a", MARKER_TEXT.encode("utf-8"))
    found = site_files([{"name": "org1-a", "kit_dir": kit, "dataset_dir": data}])
    assert found == {"org1-a": {"kit": True, "cert_sha256": hashlib.sha256(CERT + b"org1-a").hexdigest(),
                                "connection_sha256": "", "dataset": True, "demo_marker": MARKER_TEXT,
                                "log_size": 0}}


def test_the_log_size_is_where_a_new_process_starts(tmp_path):
    # A site whose container starts in this run registers in the log after this size (fl_site_registered's since).
    kit = make_kit(tmp_path / "org2", CERT + b"org2")
    with open(os.path.join(kit, "log.txt"), "wb") as fh:
        fh.write(b"Successfully registered client:org2 for p. Got token:t\n")
    assert site_files([{"name": "org2", "kit_dir": kit}])["org2"]["log_size"] == 55


def test_where_the_site_connects_is_fingerprinted_apart(tmp_path):
    kit = make_kit(tmp_path / "org1-a", CERT + b"org1-a")
    with open(os.path.join(kit, "startup", "fed_client.json"), "wb") as fh:
        fh.write(b'{"servers": [{"name": "fl.example.org"}]}')
    first = site_files([{"name": "org1-a", "kit_dir": kit}])["org1-a"]
    assert first["connection_sha256"] == hashlib.sha256(b'{"servers": [{"name": "fl.example.org"}]}').hexdigest()
    # Provisioned again with the same audit file: same certificate, another server port.
    with open(os.path.join(kit, "startup", "fed_client.json"), "wb") as fh:
        fh.write(b'{"servers": [{"name": "fl.example.org", "port": 8102}]}')
    second = site_files([{"name": "org1-a", "kit_dir": kit}])["org1-a"]
    assert second["cert_sha256"] == first["cert_sha256"] and second["connection_sha256"] != first["connection_sha256"]


def test_several_sites_each_their_own(tmp_path):
    make_kit(tmp_path / "a", CERT + b"a")
    make_kit(tmp_path / "b", CERT + b"b")
    make_dataset(tmp_path / "da")
    sites = [
        {"name": "a", "kit_dir": str(tmp_path / "a"), "dataset_dir": str(tmp_path / "da")},
        {"name": "b", "kit_dir": str(tmp_path / "b"), "dataset_dir": str(tmp_path / "db")},  # no such folder
        {"name": "c", "kit_dir": str(tmp_path / "c")},  # no kit, no dataset
        {"name": "d", "kit_dir": str(tmp_path / "a"), "dataset_dir": ""},
        {"name": "e", "kit_dir": str(tmp_path / "b"), "dataset_dir": None},
    ]
    found = site_files(sites)
    assert sorted(found) == ["a", "b", "c", "d", "e"]
    assert found["a"]["cert_sha256"] == hashlib.sha256(CERT + b"a").hexdigest() != found["b"]["cert_sha256"]
    assert found["b"]["cert_sha256"] == hashlib.sha256(CERT + b"b").hexdigest()
    assert found["a"]["dataset"] is True and found["a"]["demo_marker"] == ""  # folder without a record
    assert found["b"]["kit"] is True and found["b"]["dataset"] is False
    assert found["c"] == EMPTY
    assert found["d"]["kit"] is True and found["d"]["dataset"] is False
    assert found["e"]["kit"] is True and found["e"]["dataset"] is False


def test_a_large_certificate_is_hashed_whole(tmp_path):
    big = CERT * 5000  # more than one read chunk
    kit = make_kit(tmp_path / "k", big)
    assert site_files([{"name": "k", "kit_dir": kit}])["k"]["cert_sha256"] == hashlib.sha256(big).hexdigest()


def test_kit_absent_variants(tmp_path):
    (tmp_path / "only-dir").mkdir()  # the kit folder is there, the kit is not
    (tmp_path / "crt-dir" / "startup" / "client.crt").mkdir(parents=True)  # a folder where the cert should be
    other = tmp_path / "other"
    (other / "startup").mkdir(parents=True)
    (other / "startup" / "server.crt").write_bytes(CERT)  # a server kit is no client kit
    found = site_files([{"name": n, "kit_dir": str(tmp_path / n)} for n in ("only-dir", "crt-dir", "other", "none")])
    assert all(v == EMPTY for v in found.values()), found


def test_dataset_path_that_is_a_file(tmp_path):
    (tmp_path / "data").write_text(u"x")
    found = site_files([{"name": "a", "kit_dir": str(tmp_path / "k"), "dataset_dir": str(tmp_path / "data")}])
    assert found["a"]["dataset"] is False and found["a"]["demo_marker"] == ""


@pytest.mark.parametrize("content, expected", [
    (MARKER_TEXT.encode("utf-8"), MARKER_TEXT),
    (u"site=org1-\u00e4 tool=\u2713\n".encode("utf-8"), u"site=org1-\u00e4 tool=\u2713\n"),
    (b"", u""),
    (b"x" * sf.MARKER_LIMIT, u"x" * sf.MARKER_LIMIT),  # exactly the limit is read
    (b"x" * (sf.MARKER_LIMIT + 1), u""),  # one byte more is not a record
    (b"site_index=0 \xff\xfe num_sites=3\n", u""),  # not UTF-8
    (b"\x80abc", u""),
])
def test_demo_marker(tmp_path, content, expected):
    data = make_dataset(tmp_path / "data", content)
    found = site_files([{"name": "a", "kit_dir": str(tmp_path / "k"), "dataset_dir": data}])
    assert found["a"]["dataset"] is True and found["a"]["demo_marker"] == expected


def test_demo_marker_that_is_a_folder(tmp_path):
    data = make_dataset(tmp_path / "data")
    os.mkdir(os.path.join(data, sf.DEMO_MARKER))
    found = site_files([{"name": "a", "kit_dir": str(tmp_path / "k"), "dataset_dir": data}])
    assert found["a"]["dataset"] is True and found["a"]["demo_marker"] == ""


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads a 0000 file")
def test_unreadable_certificate_counts_as_no_kit(tmp_path):
    kit = make_kit(tmp_path / "k")
    cert = os.path.join(kit, "startup", "client.crt")
    os.chmod(cert, 0)
    try:
        found = site_files([{"name": "a", "kit_dir": kit}])["a"]
    finally:
        os.chmod(cert, 0o644)
    assert found["kit"] is False and found["cert_sha256"] == "" and cert in found["cert_error"]


def test_unreadable_certificate_via_open_failure(tmp_path, monkeypatch):
    kit = make_kit(tmp_path / "k")

    def denied(path):
        raise IOError(13, "Permission denied", path)
    monkeypatch.setattr(sf, "_sha256", denied)
    found = site_files([{"name": "a", "kit_dir": kit}])["a"]
    assert found["kit"] is False and found["cert_sha256"] == ""
    assert found["cert_error"] == "cannot read %s: Permission denied" % os.path.join(kit, "startup", "client.crt")


def test_no_sites():
    assert site_files([]) == {}


def test_duplicate_site_name(tmp_path):
    with pytest.raises(SiteFilesError) as err:
        site_files([{"name": "org1-a", "kit_dir": str(tmp_path / "a")},
                    {"name": "org1-b", "kit_dir": str(tmp_path / "b")},
                    {"name": "org1-a", "kit_dir": str(tmp_path / "c")}])
    assert "org1-a" in str(err.value) and "twice" in str(err.value)


@pytest.mark.parametrize("site", [
    {"name": "org1-a"},
    {"name": "org1-a", "kit_dir": ""},
    {"name": "org1-a", "kit_dir": None},
    {"kit_dir": "/opt/kit"},
    {"name": "", "kit_dir": "/opt/kit"},
])
def test_site_without_name_or_kit_dir(site):
    with pytest.raises(SiteFilesError) as err:
        site_files([site])
    assert "every site needs a name and a kit_dir" in str(err.value) and repr(site) in str(err.value)


def test_departed_kits_are_the_site_kits_of_sites_no_longer_in_the_federation(tmp_path):
    root = tmp_path / "kits"
    for name in ("org1-a", "org3", "org9"):
        make_kit(root / name, CERT + name.encode())
        with open(str(root / name / "startup" / "fed_client.json"), "w") as fh:
            fh.write("{}")
    # The admin's kit has a client certificate too, and no fed_client.json.
    make_kit(root / "admin", CERT + b"admin")
    with open(str(root / "admin" / "startup" / "fed_admin.json"), "w") as fh:
        fh.write("{}")
    os.makedirs(str(root / "server" / "startup"))  # not a site kit
    # The collection's record of each extraction; org9 was unzipped by hand: not the collection's to remove.
    os.makedirs(str(root / ".kits"), exist_ok=True)
    for name in ("org1-a", "org3"):
        (root / ".kits" / (name + ".zip.extracted")).write_text(u"{}")
    os.makedirs(str(root / "notes"))  # the user's folder, no kit
    make_kit(root / ".kits", CERT)  # hidden: the shipped zips' folder
    assert sf.departed_kits(str(root), ["org1-a", "org1-b"]) == ["org3"]
    assert sf.departed_kits(str(root), ["org1-a", "org3", "org9"]) == []
    assert sf.departed_kits(str(tmp_path / "absent"), []) == []


def test_the_demo_data_of_departed_sites_is_found_by_its_records(tmp_path):
    records = tmp_path / ".demo" / "records"
    records.mkdir(parents=True)
    (records / "org3.json").write_text('{"site": "org3", "dataset_dir": "/data/org3"}\n')
    (records / "org4.json").write_text('{"site": "someone-else", "dataset_dir": "/data/org4"}\n')
    (records / "org5.json").write_text('not json')
    (records / "org6.json").write_text('{"site": "org6", "dataset_dir": "relative"}\n')
    found = sf.departed_demo_data(str(tmp_path), ["org3", "org4", "org5", "org6", "org7"])
    assert found == [{"site": "org3", "dataset_dir": "/data/org3", "record": ".demo/records/org3.json"}]
    assert sf.departed_demo_data(str(tmp_path / "missing"), ["org3"]) == []
