# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kit_archive: several kits in one call (install_kits), copying a kit from the provisioning
workspace (copy_zip), and the member cache that decrypts each member only once (_Archive)."""

from __future__ import absolute_import, division, print_function

import hashlib
import os
import shutil
import zipfile

import pytest

from ansible_collections.clarafl.federation.plugins.module_utils import kit_archive
from ansible_collections.clarafl.federation.plugins.module_utils.kit_archive import (
    KitArchiveError,
    copy_zip,
    extract_kit,
    install_kits,
)
from test_kit_archive import (  # the archive helpers of the extraction tests (same folder)
    CERT,
    KIT,
    PASSWORD,
    RSA_KEY,
    _largest_member_data_offset,
    make_cli_zip,
    mode_of,
    needs_zip,
    snapshot,
)

pytestmark = needs_zip
PASSWORD_B = "Hw4Tz8Qp2Nc6Yv1K"


def _files(name):
    return {
        "startup/client.key": RSA_KEY,
        "startup/client.crt": CERT + name.encode(),
        "startup/start.sh": b"#!/usr/bin/env bash\necho start\n",
        "startup/fed_client.json": ('{"client": {"name": "%s"}}\n' % name).encode(),
    }


def _sha(path):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def _read(path):
    with open(path, "rb") as fh:
        return fh.read()


@pytest.fixture
def workspace(tmp_path):
    """The provisioner's workspace: two kits with their own passwords."""
    ws = tmp_path / "ws"
    ws.mkdir()
    a = make_cli_zip(ws, _files("site-a"), password=PASSWORD, name="site-a.zip")
    b = make_cli_zip(ws, _files("site-b"), password=PASSWORD_B, name="site-b.zip")
    return {"a": a, "b": b, "sha_a": _sha(a), "sha_b": _sha(b)}


def _assert_kit(dest, name):
    for rel, data in _files(name).items():
        assert _read(os.path.join(dest, rel)) == data, rel
    assert mode_of(os.path.join(dest, "startup/client.key")) == 0o600
    assert mode_of(os.path.join(dest, "startup")) == 0o700
    assert mode_of(os.path.join(dest, "startup/start.sh")) == 0o755


def _staging_or_copy_left(*dirs):
    left = []
    for d in dirs:
        if os.path.isdir(d):
            left += [n for n in os.listdir(d) if kit_archive.STAGING_PREFIX in n or n.startswith(".clarafl-kit-copy-")]
    return left


# ----------------------------------------------------------------------------- several kits in one call


def test_several_kits_in_order_with_the_paths_as_given(tmp_path, workspace, monkeypatch):
    monkeypatch.chdir(str(tmp_path))
    (tmp_path / "sites").mkdir()
    kits = [
        {"src": "ws/site-b.zip", "dest": "sites/b", "password": PASSWORD_B},  # relative paths stay relative
        {"src": workspace["a"], "dest": str(tmp_path / "sites" / "a"), "password": PASSWORD, "mode": "0750"},
    ]
    results, failures = install_kits(kits)
    assert failures == []
    assert [(r["src"], r["dest"]) for r in results] == [
        ("ws/site-b.zip", "sites/b"), (workspace["a"], str(tmp_path / "sites" / "a"))]
    for r in results:
        assert r["changed"] is True and r["created"] is True and r["copied"] is False
        assert not r.get("failed") and r["encryption"] == "zipcrypto" and r["members"] == 4
        assert "startup/client.key" in r["added"]
    _assert_kit(str(tmp_path / "sites" / "b"), "site-b")
    _assert_kit(str(tmp_path / "sites" / "a"), "site-a")
    assert mode_of(str(tmp_path / "sites" / "a")) == 0o750 and mode_of(str(tmp_path / "sites" / "b")) == 0o755
    again, failures = install_kits(kits)
    assert failures == [] and [r["changed"] for r in again] == [False, False]
    assert [r["added"] for r in again] == [[], []]


def test_an_empty_list_installs_nothing():
    assert install_kits([]) == ([], [])


# ----------------------------------------------------------------------------- copy_from


def test_copy_from_fills_a_missing_src_and_extracts(tmp_path, workspace, monkeypatch):
    host = tmp_path / "host"
    src = str(host / "opt" / "kits" / "site-a.zip")
    dest = str(host / "sites" / "site-a")
    record = src + ".extracted"
    kit = {"src": src, "dest": dest, "password": PASSWORD, "checksum": workspace["sha_a"],
           "copy_from": workspace["a"], "record": record}
    results, failures = install_kits([kit])
    assert failures == []
    r = results[0]
    assert r["copied"] is True and r["changed"] is True and r["created"] is True and not r.get("failed")
    assert _read(src) == _read(workspace["a"])
    assert mode_of(src) == 0o600
    for folder in (host, host / "opt", host / "opt" / "kits", host / "sites"):  # created like mkdir -p -m 0700
        assert mode_of(str(folder)) == 0o700, folder
    _assert_kit(dest, "site-a")
    assert mode_of(record) == 0o600
    assert _staging_or_copy_left(str(host / "opt" / "kits"), str(host / "sites")) == []

    # Second run: src already is that archive, the record vouches for dest: nothing copied, nothing decrypted.
    before = os.stat(src)

    def no_decrypt(*_args, **_kwargs):
        raise AssertionError("the archive was opened although the record matches")
    monkeypatch.setattr(kit_archive, "_Archive", no_decrypt)
    results, failures = install_kits([kit])
    assert failures == []
    assert results[0]["copied"] is False and results[0]["changed"] is False
    after = os.stat(src)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_copy_from_replaces_another_archive_at_src(tmp_path, workspace):
    src_dir = tmp_path / "kits"
    src_dir.mkdir()
    os.chmod(str(src_dir), 0o755)
    src = str(src_dir / "site-a.zip")
    shutil.copy(workspace["b"], src)  # a stale kit (another archive) is in the way
    kit = {"src": src, "dest": str(tmp_path / "site-a"), "password": PASSWORD, "checksum": workspace["sha_a"],
           "copy_from": workspace["a"]}
    results, failures = install_kits([kit])
    assert failures == [] and results[0]["copied"] is True and results[0]["changed"] is True
    assert _sha(src) == workspace["sha_a"] and mode_of(src) == 0o600
    assert mode_of(str(src_dir)) == 0o755  # an existing folder is left as it is
    _assert_kit(str(tmp_path / "site-a"), "site-a")


@pytest.mark.parametrize("report_missing", [False, True])
def test_copy_from_with_another_checksum_fails_only_that_kit(tmp_path, workspace, report_missing):
    sites = tmp_path / "sites"
    sites.mkdir()
    kits = [
        {"src": workspace["a"], "dest": str(sites / "a"), "password": PASSWORD},
        # the workspace's zip is not the archive the play read: another provisioning run
        {"src": str(tmp_path / "host" / "b.zip"), "dest": str(sites / "b"), "password": PASSWORD_B,
         "checksum": workspace["sha_a"], "copy_from": workspace["b"]},
        {"src": workspace["b"], "dest": str(sites / "b2"), "password": PASSWORD_B},
    ]
    results, failures = install_kits(kits, report_missing=report_missing)
    assert len(results) == 3
    assert failures == [results[1]]  # copy_from makes even report_missing count it as a failure
    bad = results[1]
    assert bad["failed"] is True and bad["reason"] == "checksum" and bad["changed"] is False
    assert bad["copied"] is False and bad["src"] == kits[1]["src"]
    assert "not the expected one" in bad["msg"] and workspace["b"] in bad["msg"]
    assert not os.path.exists(str(tmp_path / "host")) and not os.path.exists(str(sites / "b"))
    _assert_kit(str(sites / "a"), "site-a")
    _assert_kit(str(sites / "b2"), "site-b")
    assert not results[0].get("failed") and not results[2].get("failed")


def test_copy_from_whose_file_is_missing(tmp_path, workspace):
    kit = {"src": str(tmp_path / "k" / "a.zip"), "dest": str(tmp_path / "a"), "password": PASSWORD,
           "checksum": workspace["sha_a"], "copy_from": str(tmp_path / "nope.zip")}
    results, failures = install_kits([kit], report_missing=True)
    assert failures == results and results[0]["reason"] == "missing"
    assert "provision the project first" in results[0]["msg"]
    assert not os.path.exists(str(tmp_path / "k"))


# ----------------------------------------------------------------------------- report_missing


def test_report_missing_lists_missing_kits_but_still_fails_a_wrong_password(tmp_path, workspace):
    sites = tmp_path / "sites"
    sites.mkdir()
    other = str(tmp_path / "other.zip")
    shutil.copy(workspace["b"], other)
    kits = [
        {"src": str(tmp_path / "not-shipped.zip"), "dest": str(sites / "m"), "password": PASSWORD},
        {"src": workspace["a"], "dest": str(sites / "w"), "password": "NotThePassword42"},
        {"src": workspace["a"], "dest": str(sites / "a"), "password": PASSWORD},
        {"src": other, "dest": str(sites / "o"), "password": PASSWORD, "checksum": workspace["sha_a"]},
    ]
    results, failures = install_kits(kits, report_missing=True)
    assert [r.get("reason") for r in results] == ["missing", "wrong_password", None, "checksum"]
    assert failures == [results[1]]
    assert results[0]["failed"] is True and results[0]["changed"] is False
    assert results[0]["src"] == kits[0]["src"] and "does not exist" in results[0]["msg"]
    assert results[3]["failed"] is True
    assert "NotThePassword42" not in results[1]["msg"] and PASSWORD not in results[1]["msg"]
    _assert_kit(str(sites / "a"), "site-a")
    assert sorted(os.listdir(str(sites))) == ["a"]

    # Without report_missing the missing and the other archive are failures too.
    results, failures = install_kits(kits)
    assert [f["reason"] for f in failures] == ["missing", "wrong_password", "checksum"]
    assert results[2]["changed"] is False and not results[2].get("failed")


# ----------------------------------------------------------------------------- check mode


def test_check_mode_with_copy_from_writes_nothing(tmp_path, workspace):
    host = tmp_path / "host"
    kit = {"src": str(host / "kits" / "a.zip"), "dest": str(host / "sites" / "a"), "password": PASSWORD,
           "checksum": workspace["sha_a"], "copy_from": workspace["a"], "record": str(host / "kits" / "a.rec")}
    results, failures = install_kits([kit], check_mode=True)
    assert failures == []
    assert results[0]["changed"] is True and results[0]["copied"] is True and not results[0].get("failed")
    assert not os.path.exists(str(host))
    assert os.listdir(str(tmp_path)) == ["ws"]


def test_check_mode_with_copy_from_predicts_from_the_workspace_zip(tmp_path, workspace):
    sites = tmp_path / "sites"
    sites.mkdir()
    before = snapshot(str(tmp_path))
    kit = {"src": str(tmp_path / "kits" / "a.zip"), "dest": str(sites / "a"), "password": PASSWORD,
           "checksum": workspace["sha_a"], "copy_from": workspace["a"], "record": str(tmp_path / "kits" / "a.rec")}
    results, failures = install_kits([kit], check_mode=True)
    r = results[0]
    assert failures == [] and r["changed"] is True and r["copied"] is True and r["created"] is True
    assert "startup/client.key" in r["added"] and r["members"] == 4
    assert not os.path.exists(kit["src"]) and not os.path.exists(kit["dest"])
    assert snapshot(str(tmp_path)) == before
    # The real run then does what check mode said.
    results, _failures = install_kits([kit])
    assert results[0]["changed"] is True and results[0]["added"] == r["added"]


def test_check_mode_without_copy_from_reports_changes_only(tmp_path, workspace):
    dest = str(tmp_path / "a")
    results, failures = install_kits([{"src": workspace["a"], "dest": dest, "password": PASSWORD}], check_mode=True)
    assert failures == [] and results[0]["changed"] is True and not os.path.exists(dest)


# ----------------------------------------------------------------------------- copy_zip


def test_copy_zip(tmp_path, workspace):
    src = str(tmp_path / "new" / "a.zip")
    with pytest.raises(KitArchiveError) as err:
        copy_zip(workspace["a"], src, None)
    assert err.value.reason == "bad_argument" and "checksum" in str(err.value)
    # check mode: says it would copy, writes nothing
    assert copy_zip(workspace["a"], src, workspace["sha_a"], check_mode=True) is True
    assert not os.path.exists(str(tmp_path / "new"))
    # the checksum is compared without case or surrounding blanks
    assert copy_zip(workspace["a"], src, "  %s\n" % workspace["sha_a"].upper()) is True
    assert _sha(src) == workspace["sha_a"] and mode_of(src) == 0o600
    assert mode_of(str(tmp_path / "new")) == 0o700
    assert copy_zip(workspace["a"], src, workspace["sha_a"]) is False
    assert copy_zip(workspace["a"], src, workspace["sha_a"], check_mode=True) is False
    # src already right: copy_from is not even looked at
    assert copy_zip(str(tmp_path / "gone.zip"), src, workspace["sha_a"]) is False
    with pytest.raises(KitArchiveError) as err:
        copy_zip(workspace["b"], str(tmp_path / "x.zip"), workspace["sha_a"])
    assert err.value.reason == "checksum" and not os.path.exists(str(tmp_path / "x.zip"))
    assert os.listdir(str(tmp_path / "new")) == ["a.zip"]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="chown needs root")
def test_copy_zip_owner_and_group(tmp_path, workspace):
    src = str(tmp_path / "o" / "p" / "a.zip")
    assert copy_zip(workspace["a"], src, workspace["sha_a"], owner="65534", group="65534") is True
    for path in (src, str(tmp_path / "o"), str(tmp_path / "o" / "p")):
        st = os.lstat(path)
        assert (st.st_uid, st.st_gid) == (65534, 65534), path


# ----------------------------------------------------------------------------- member cache


@pytest.fixture
def kit_zip(tmp_path):
    return make_cli_zip(tmp_path, KIT)


@pytest.fixture
def opened(monkeypatch):
    """Names of the members zipfile opens (each open of an encrypted member decrypts it)."""
    names = []
    real_open = zipfile.ZipFile.open

    def spy(self, name, *args, **kwargs):
        names.append(name.filename if isinstance(name, zipfile.ZipInfo) else name)
        return real_open(self, name, *args, **kwargs)
    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    return names


def _files_of(kit):
    return sorted(rel for rel in kit if not rel.endswith("/"))


def test_an_extraction_decrypts_each_member_once(tmp_path, kit_zip, opened):
    dest = str(tmp_path / "server")
    assert extract_kit(kit_zip, dest, PASSWORD)["changed"]
    # one open for the password check (the 12-byte header only), one read to the end
    for rel in _files_of(KIT):
        assert opened.count(rel) == 2, (rel, opened)
        assert _read(os.path.join(dest, rel)) == KIT[rel]


def test_a_member_above_the_budget_is_read_again(tmp_path, kit_zip, opened, monkeypatch):
    monkeypatch.setattr(kit_archive, "KEEP_LIMIT", 16 * 1024)  # less than blob.bin, the rest fits
    dest = str(tmp_path / "server")
    assert extract_kit(kit_zip, dest, PASSWORD)["changed"]
    assert opened.count("startup/blob.bin") == 3
    for rel in _files_of(KIT):
        if rel != "startup/blob.bin":
            assert opened.count(rel) == 2, rel
        assert _read(os.path.join(dest, rel)) == KIT[rel]


def _archive(kit_zip, tmp_path):
    archive = kit_archive._Archive(kit_zip, str(tmp_path / "d"), PASSWORD)
    return archive, dict((i.filename, i) for i in archive.infos)


def test_stream_again_does_not_touch_the_zip(tmp_path, kit_zip):
    archive, infos = _archive(kit_zip, tmp_path)
    try:
        info = infos["startup/client.pem"]
        first = archive.stream(info)
        assert first == (hashlib.sha256(KIT["startup/client.pem"]).hexdigest(), True)
        assert archive._keep_budget == kit_archive.KEEP_LIMIT - info.file_size

        def no_open(*_args, **_kwargs):
            raise AssertionError("the zip was opened again")
        archive.zf.open = no_open
        written = []
        assert archive.stream(info, written.append) == first
        assert b"".join(written) == KIT["startup/client.pem"]
        with pytest.raises(KitArchiveError):  # a member not read before does need the zip
            archive.stream(infos["startup/server.key"])
    finally:
        archive.close()


def test_the_budget_counts_what_is_already_kept(tmp_path, kit_zip, monkeypatch, opened):
    small, large = "startup/fed_server.json", "startup/readme.txt"
    sizes = dict((rel, len(KIT[rel])) for rel in (small, large))
    # each fits alone, both together do not
    monkeypatch.setattr(kit_archive, "KEEP_LIMIT", sizes[small] + sizes[large] - 1)
    archive, infos = _archive(kit_zip, tmp_path)
    try:
        digest = archive.stream(infos[small])
        assert archive.stream(infos[large])[0] == hashlib.sha256(KIT[large]).hexdigest()
        assert archive._keep_budget == sizes[large] - 1
        del opened[:]
        assert archive.stream(infos[small]) == digest
        assert archive.stream(infos[large])[0] == hashlib.sha256(KIT[large]).hexdigest()
        assert opened == [large]
    finally:
        archive.close()


def test_a_read_that_does_not_finish_is_not_kept(tmp_path, kit_zip, opened):
    archive, infos = _archive(kit_zip, tmp_path)
    try:
        info = infos["startup/readme.txt"]

        def full_disk(_chunk):
            raise OSError(28, "No space left on device")
        with pytest.raises(KitArchiveError) as err:
            archive.stream(info, full_disk)
        assert err.value.reason == "io"
        del opened[:]
        written = []
        archive.stream(info, written.append)
        assert opened == [info.filename]  # decrypted again, not served from a partial copy
        assert b"".join(written) == KIT["startup/readme.txt"]
    finally:
        archive.close()


def test_a_corrupt_member_is_not_kept(tmp_path):
    bad = str(tmp_path / "corrupt.zip")
    shutil.copy(make_cli_zip(tmp_path, KIT, name="c.zip"), bad)
    start, size = _largest_member_data_offset(bad)
    with open(bad, "r+b") as fh:
        fh.seek(start + 12 + size // 2)
        chunk = fh.read(16)
        fh.seek(start + 12 + size // 2)
        fh.write(bytes(b ^ 0xFF for b in bytearray(chunk)))
    archive, infos = _archive(bad, tmp_path)
    try:
        for _attempt in range(2):  # the second read fails as well: nothing of the first was kept
            with pytest.raises(KitArchiveError) as err:
                archive.stream(infos["startup/blob.bin"])
            assert err.value.reason == "corrupt"
        assert "startup/blob.bin" not in archive._kept
        assert archive._keep_budget == kit_archive.KEEP_LIMIT
    finally:
        archive.close()


# ----------------------------------------------------------------------------- a file where a folder should be


def test_a_file_in_the_way_of_src_fails_only_that_kit(tmp_path, workspace):
    blocker = tmp_path / "blocker"
    blocker.write_text(u"not a folder")
    os.chmod(str(blocker), 0o644)
    (tmp_path / "sites").mkdir()
    kits = [
        {"src": str(blocker / "a.zip"), "dest": str(tmp_path / "sites" / "a"), "password": PASSWORD,
         "checksum": workspace["sha_a"], "copy_from": workspace["a"]},
        {"src": workspace["b"], "dest": str(tmp_path / "sites" / "b"), "password": PASSWORD_B},
    ]
    try:
        results, failures = install_kits(kits)
    finally:
        assert mode_of(str(blocker)) == 0o644  # the user's file is not chmodded
    assert failures == [results[0]] and results[0]["reason"] == "io"
    _assert_kit(str(tmp_path / "sites" / "b"), "site-b")


def test_many_kits_are_installed_by_several_processes_in_order(tmp_path, monkeypatch):
    ws = tmp_path / "ws"
    ws.mkdir()
    names = ["site-%d" % i for i in range(6)]
    zips = [make_cli_zip(ws, _files(name), password=PASSWORD, name=name + ".zip") for name in names]
    (tmp_path / "sites").mkdir()
    kits = [{"src": z, "dest": str(tmp_path / "sites" / n), "password": PASSWORD} for n, z in zip(names, zips)]
    kits[3]["password"] = PASSWORD_B  # one wrong password among them
    assert kit_archive._workers(len(kits)) > 1 or (os.cpu_count() or 1) == 1
    pids = []
    real = kit_archive._install_one

    def recording(kit, check_mode):
        result = real(kit, check_mode)
        result["pid"] = os.getpid()
        return result

    monkeypatch.setattr(kit_archive, "_install_one", recording)
    results, failures = install_kits(kits)
    pids = set(r.pop("pid") for r in results)
    assert [r["dest"] for r in results] == [k["dest"] for k in kits]
    assert failures == [results[3]] and results[3]["reason"] == "wrong_password"
    assert not os.path.exists(kits[3]["dest"])
    for i in (0, 1, 2, 4, 5):
        _assert_kit(kits[i]["dest"], names[i])
    if (os.cpu_count() or 1) > 1:
        assert os.getpid() not in pids  # the work was done in worker processes
