# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of the startup-kit extraction (archives made with the real `zip -P` CLI and with zipfile)."""

from __future__ import absolute_import, division, print_function

import hashlib
import json
import os
import shutil
import stat
import struct
import subprocess
import sys
import zipfile

import pytest

import engine_venv as ev
from ansible_collections.clarafl.federation.plugins.module_utils import kit_archive
from ansible_collections.clarafl.federation.plugins.module_utils.kit_archive import (
    KitArchiveError,
    check_kit_password,
    extract_kit,
    parse_mode,
    private_dir_mode,
)

ZIP = shutil.which("zip")
needs_zip = pytest.mark.skipif(ZIP is None, reason="the zip CLI is not installed (apt-get install zip)")
PASSWORD = "Kq3VbN8xWm2Lp7Rt"
PRIVATE_PEM = b"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"
RSA_KEY = b"-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n"
CERT = b"-----BEGIN CERTIFICATE-----\nMIIDazCCAlOgAwIBAgIU\n-----END CERTIFICATE-----\n"

KIT = {
    "startup/server.key": RSA_KEY,
    "startup/client.pem": PRIVATE_PEM,
    "startup/rootCA.pem": CERT,
    "startup/server.crt": CERT,
    "startup/start.sh": b"#!/usr/bin/env bash\necho start\n",
    "startup/sub_start.sh": b"#!/usr/bin/env bash\nwhile true; do sleep 1; done\n",
    "startup/fed_server.json": b'{"servers": [{"name": "example_project"}]}\n',
    "startup/readme.txt": b"Startup kit\n" * 200,
    "startup/blob.bin": os.urandom(60000),
    "startup/docs/notes.txt": b"notes\n",
}


def _write_tree(root, files):
    for rel, data in files.items():
        path = os.path.join(root, *rel.split("/"))
        if not os.path.isdir(os.path.dirname(path)):
            os.makedirs(os.path.dirname(path))
        with open(path, "wb") as fh:
            fh.write(data)
        os.chmod(path, 0o644)


def make_cli_zip(tmp_path, files, password=PASSWORD, name="kit.zip", extra_args=(), symlinks=None):
    """Build an archive with the real `zip -P` CLI, as the provisioner does."""
    tree = tmp_path / ("tree-" + name)
    if tree.exists():
        shutil.rmtree(str(tree))
    tree.mkdir()
    _write_tree(str(tree), files)
    for rel, target in (symlinks or {}).items():
        os.symlink(target, str(tree / rel))
    out = tmp_path / name
    if out.exists():
        out.unlink()
    cmd = [ZIP, "-rq"] + list(extra_args)
    if password:
        cmd += ["-P", password]
    subprocess.check_call(cmd + [str(out), "."], cwd=str(tree))
    return str(out)


def make_py_zip(tmp_path, entries, name="py.zip"):
    """Build an (unencrypted) archive with zipfile; entries: name -> bytes or ZipInfo tuples."""
    out = str(tmp_path / name)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for entry in entries:
            if isinstance(entry, tuple):
                info, data = entry
                zf.writestr(info, data)
            else:
                zf.writestr(entry, KIT.get(entry, b"data"))
    return out


def snapshot(root):
    """Everything observable about a tree: type, mode, owner, content hash or link target."""
    if not os.path.lexists(root):
        return None
    state = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames + ["."]:
            path = os.path.normpath(os.path.join(dirpath, name))
            st = os.lstat(path)
            rel = os.path.relpath(path, root)
            if stat.S_ISLNK(st.st_mode):
                state[rel] = ("link", os.readlink(path))
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as fh:
                    state[rel] = ("file", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
                                  hashlib.sha256(fh.read()).hexdigest())
            else:
                state[rel] = ("dir", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
    return state


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def kit_zip(tmp_path):
    return make_cli_zip(tmp_path, KIT)


def _no_staging_left(*dirs):
    for d in dirs:
        if os.path.isdir(d):
            assert not [n for n in os.listdir(d) if kit_archive.STAGING_PREFIX in n], os.listdir(d)


# ----------------------------------------------------------------------------- happy path, modes, idempotence


@needs_zip
def test_extract_cli_zip_sets_modes(tmp_path, kit_zip):
    dest = str(tmp_path / "server")
    result = extract_kit(kit_zip, dest, PASSWORD)
    assert result["changed"] and result["created"] and result["encryption"] == "zipcrypto"
    assert result["members"] == len(KIT)
    assert "startup/server.key" in result["added"] and "startup/" in result["added"]
    for rel, data in KIT.items():
        with open(os.path.join(dest, rel), "rb") as fh:
            assert fh.read() == data
    assert mode_of(dest) == 0o755
    assert mode_of(os.path.join(dest, "startup")) == 0o700  # holds private keys
    assert mode_of(os.path.join(dest, "startup/server.key")) == 0o600
    assert mode_of(os.path.join(dest, "startup/client.pem")) == 0o600  # PEM private key
    assert mode_of(os.path.join(dest, "startup/rootCA.pem")) == 0o644  # certificate only
    assert mode_of(os.path.join(dest, "startup/start.sh")) == 0o755
    assert mode_of(os.path.join(dest, "startup/readme.txt")) == 0o644
    assert mode_of(os.path.join(dest, "startup/docs")) == 0o755
    _no_staging_left(dest, str(tmp_path))


@needs_zip
def test_second_extract_is_unchanged(tmp_path, kit_zip):
    dest = str(tmp_path / "server")
    extract_kit(kit_zip, dest, PASSWORD)
    before = snapshot(dest)
    result = extract_kit(kit_zip, dest, PASSWORD)
    assert result["changed"] is False
    assert result["added"] == result["changed_files"] == result["removed"] == []
    assert snapshot(dest) == before


# ----------------------------------------------------------------------------- extraction record


@needs_zip
def test_record_makes_a_rerun_skip_decryption(tmp_path, kit_zip, monkeypatch):
    dest = str(tmp_path / "server")
    record = str(tmp_path / "server.zip.extracted")
    assert extract_kit(kit_zip, dest, PASSWORD, record=record)["changed"]
    assert mode_of(record) == 0o600
    with open(record) as fh:
        text = fh.read()
    assert PASSWORD not in text and "PRIVATE KEY" not in text

    def no_decrypt(*args, **kwargs):
        raise AssertionError("the archive was opened although the record matches")
    monkeypatch.setattr(kit_archive, "_Archive", no_decrypt)
    result = extract_kit(kit_zip, dest, PASSWORD, record=record)
    assert result["changed"] is False and result["encryption"] == "zipcrypto"
    assert result["members"] == len(KIT)


@needs_zip
@pytest.mark.parametrize("drift", ["content", "mode", "removed", "extra"])
def test_record_still_sees_drift(tmp_path, kit_zip, drift):
    dest = str(tmp_path / "server")
    record = str(tmp_path / "rec")
    extract_kit(kit_zip, dest, PASSWORD, record=record)
    path = os.path.join(dest, "startup/readme.txt")
    if drift == "content":
        with open(path, "r+b") as fh:
            fh.write(b"X")
    elif drift == "mode":
        os.chmod(os.path.join(dest, "startup/server.key"), 0o644)
    elif drift == "removed":
        os.unlink(path)
    else:
        with open(os.path.join(dest, "startup/extra.txt"), "w") as fh:
            fh.write("x")
    result = extract_kit(kit_zip, dest, PASSWORD, record=record)
    assert result["changed"] is True
    assert extract_kit(kit_zip, dest, PASSWORD, record=record)["changed"] is False
    with open(os.path.join(dest, "startup/readme.txt"), "rb") as fh:
        assert fh.read() == KIT["startup/readme.txt"]
    assert mode_of(os.path.join(dest, "startup/server.key")) == 0o600


@needs_zip
def test_record_does_not_vouch_for_another_archive_or_password(tmp_path, kit_zip):
    dest = str(tmp_path / "server")
    record = str(tmp_path / "rec")
    extract_kit(kit_zip, dest, PASSWORD, record=record)
    with pytest.raises(KitArchiveError) as exc:
        extract_kit(kit_zip, dest, "wrong-" + PASSWORD, record=record)
    assert exc.value.reason == "wrong_password"
    v2 = dict(KIT)
    v2["startup/readme.txt"] = b"other\n"
    result = extract_kit(make_cli_zip(tmp_path, v2, name="v2.zip"), dest, PASSWORD, record=record)
    assert result["changed_files"] == ["startup/readme.txt"]


@needs_zip
def test_checksum_names_a_missing_or_other_archive_first(tmp_path, kit_zip):
    with open(kit_zip, "rb") as fh:
        sha = hashlib.sha256(fh.read()).hexdigest()
    dest = str(tmp_path / "no-parent" / "server")  # checked before the destination
    with pytest.raises(KitArchiveError) as exc:
        extract_kit(str(tmp_path / "absent.zip"), dest, PASSWORD, checksum=sha)
    assert exc.value.reason == "missing"
    with pytest.raises(KitArchiveError) as exc:
        extract_kit(kit_zip, dest, PASSWORD, checksum="0" * 64)
    assert exc.value.reason == "checksum" and sha in str(exc.value)
    result = extract_kit(kit_zip, str(tmp_path / "server"), PASSWORD, checksum=sha.upper(), record=str(tmp_path / "r"))
    assert result["changed"] is True


@needs_zip
def test_garbled_record_is_ignored(tmp_path, kit_zip):
    dest = str(tmp_path / "server")
    record = tmp_path / "rec"
    extract_kit(kit_zip, dest, PASSWORD, record=str(record))
    record.write_text(u"{not json")
    assert extract_kit(kit_zip, dest, PASSWORD, record=str(record))["changed"] is False
    assert record.read_text().startswith(u"{")
    assert json.loads(record.read_text())["key"]["version"] == 1


@needs_zip
def test_custom_modes(tmp_path, kit_zip):
    dest = str(tmp_path / "admin")
    extract_kit(kit_zip, dest, PASSWORD, mode="0750", private_mode="0640")
    assert mode_of(dest) == 0o750
    assert mode_of(os.path.join(dest, "startup")) == 0o750
    assert mode_of(os.path.join(dest, "startup/server.key")) == 0o640
    # same arguments: unchanged; other arguments: only modes change
    assert extract_kit(kit_zip, dest, PASSWORD, mode=0o750, private_mode=0o640)["changed"] is False
    result = extract_kit(kit_zip, dest, PASSWORD)
    assert sorted(result["changed_files"]) == ["startup/", "startup/client.pem", "startup/server.key"]
    assert mode_of(dest) == 0o755


@needs_zip
def test_changed_archive_reports_exactly_the_changes(tmp_path):
    dest = str(tmp_path / "site")
    extract_kit(make_cli_zip(tmp_path, KIT, name="v1.zip"), dest, PASSWORD)
    v2 = dict(KIT)
    v2["startup/fed_server.json"] = b'{"servers": [{"name": "other"}]}\n'
    del v2["startup/docs/notes.txt"]
    v2["startup/new.txt"] = b"new\n"
    v2_zip = make_cli_zip(tmp_path, v2, name="v2.zip")
    check = extract_kit(v2_zip, dest, PASSWORD, check_mode=True)
    assert check["changed"] is True
    assert check["added"] == ["startup/new.txt"]
    assert check["changed_files"] == ["startup/fed_server.json"]
    assert check["removed"] == ["startup/docs/", "startup/docs/notes.txt"]
    result = extract_kit(v2_zip, dest, PASSWORD)
    assert (result["added"], result["changed_files"], result["removed"]) == (
        check["added"], check["changed_files"], check["removed"])
    assert not os.path.exists(os.path.join(dest, "startup/docs"))
    with open(os.path.join(dest, "startup/fed_server.json"), "rb") as fh:
        assert fh.read() == v2["startup/fed_server.json"]


@needs_zip
def test_mode_drift_is_a_change(tmp_path, kit_zip):
    dest = str(tmp_path / "site")
    extract_kit(kit_zip, dest, PASSWORD)
    os.chmod(os.path.join(dest, "startup/server.key"), 0o644)  # what the engine's copy does
    result = extract_kit(kit_zip, dest, PASSWORD)
    assert result["changed_files"] == ["startup/server.key"] and result["added"] == [] == result["removed"]
    assert mode_of(os.path.join(dest, "startup/server.key")) == 0o600


@needs_zip
def test_content_drift_same_size_is_a_change(tmp_path, kit_zip):
    dest = str(tmp_path / "site")
    extract_kit(kit_zip, dest, PASSWORD)
    path = os.path.join(dest, "startup/readme.txt")
    with open(path, "r+b") as fh:
        fh.write(b"X")
    assert extract_kit(kit_zip, dest, PASSWORD)["changed_files"] == ["startup/readme.txt"]


@needs_zip
def test_unmanaged_entries_in_dest_are_kept(tmp_path, kit_zip):
    dest = tmp_path / "server"
    (dest / "logs").mkdir(parents=True)
    (dest / "logs" / "log.txt").write_text(u"running")
    (dest / "run_1").mkdir()
    result = extract_kit(kit_zip, str(dest), PASSWORD)
    assert result["created"] is False and result["removed"] == []
    assert (dest / "logs" / "log.txt").read_text() == u"running" and (dest / "run_1").is_dir()


@needs_zip
def test_symlinked_managed_entry_is_replaced_not_followed(tmp_path, kit_zip):
    dest = tmp_path / "server"
    dest.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text(u"keep")
    os.symlink(str(elsewhere), str(dest / "startup"))
    result = extract_kit(kit_zip, str(dest), PASSWORD)
    assert "startup" in result["changed_files"] or "startup/" in result["changed_files"]
    assert not os.path.islink(str(dest / "startup")) and (dest / "startup" / "server.key").is_file()
    assert sorted(os.listdir(str(elsewhere))) == ["keep.txt"]


@needs_zip
def test_stale_staging_dir_is_cleaned(tmp_path, kit_zip):
    dest = tmp_path / "server"
    extract_kit(kit_zip, str(dest), PASSWORD)
    (dest / (kit_archive.STAGING_PREFIX + "old")).mkdir()
    os.chmod(str(dest / "startup" / "readme.txt"), 0o600)
    extract_kit(kit_zip, str(dest), PASSWORD)
    _no_staging_left(str(dest))


# ----------------------------------------------------------------------------- check mode and diff


@needs_zip
def test_check_mode_writes_nothing(tmp_path, kit_zip):
    dest = str(tmp_path / "server")
    before_parent = sorted(os.listdir(str(tmp_path)))
    result = extract_kit(kit_zip, dest, PASSWORD, check_mode=True)
    assert result["changed"] is True and result["created"] is True
    assert not os.path.exists(dest) and sorted(os.listdir(str(tmp_path))) == before_parent
    extract_kit(kit_zip, dest, PASSWORD)
    os.chmod(os.path.join(dest, "startup/start.sh"), 0o700)
    os.remove(os.path.join(dest, "startup/readme.txt"))
    before = snapshot(dest)
    result = extract_kit(kit_zip, dest, PASSWORD, check_mode=True)
    assert result["changed_files"] == ["startup/start.sh"] and result["added"] == ["startup/readme.txt"]
    assert snapshot(dest) == before


@needs_zip
def test_diff_structure(tmp_path, kit_zip):
    dest = str(tmp_path / "server")
    diff = extract_kit(kit_zip, dest, PASSWORD)["diff"]
    assert diff["before"] == "" and diff["before_header"] == dest
    assert "0600 startup/server.key (%d bytes, private key)" % len(RSA_KEY) in diff["after"]
    assert "0700 startup/" in diff["after"] and "0755 ./" in diff["after"]
    digest = hashlib.sha256(KIT["startup/readme.txt"]).hexdigest()[:16]
    assert "0644 startup/readme.txt (%d bytes, sha256 %s)" % (len(KIT["startup/readme.txt"]), digest) in diff["after"]
    os.chmod(os.path.join(dest, "startup/start.sh"), 0o700)
    diff = extract_kit(kit_zip, dest, PASSWORD, check_mode=True)["diff"]
    assert "0700 startup/start.sh" in diff["before"] and "0755 startup/start.sh" in diff["after"]
    assert diff["before"].count("\n") == diff["after"].count("\n")


# ----------------------------------------------------------------------------- failures leave dest untouched


@pytest.fixture
def populated(tmp_path, kit_zip):
    dest = str(tmp_path / "server")
    extract_kit(kit_zip, dest, PASSWORD)
    (tmp_path / "server" / "logs").mkdir()
    return dest, snapshot(dest)


def _assert_untouched(dest, before):
    assert snapshot(dest) == before
    _no_staging_left(dest, os.path.dirname(dest))


@needs_zip
def test_wrong_password(tmp_path, populated):
    dest, before = populated
    other = make_cli_zip(tmp_path, dict(KIT, **{"startup/fed_server.json": b"{}"}), name="other.zip")
    with pytest.raises(KitArchiveError) as err:
        extract_kit(other, dest, "WrongPassword123")
    assert err.value.reason == "wrong_password" and "wrong password" in str(err.value)
    assert "WrongPassword123" not in str(err.value) and PASSWORD not in str(err.value)
    _assert_untouched(dest, before)
    fresh = str(tmp_path / "fresh")
    with pytest.raises(KitArchiveError):
        extract_kit(other, fresh, "WrongPassword123")
    assert not os.path.exists(fresh)
    _no_staging_left(str(tmp_path))


@needs_zip
def test_password_required(tmp_path, kit_zip):
    with pytest.raises(KitArchiveError) as err:
        extract_kit(kit_zip, str(tmp_path / "x"), None)
    assert err.value.reason == "password_required" and "password" in str(err.value)


def _largest_member_data_offset(path):
    with zipfile.ZipFile(path) as zf:
        info = max(zf.infolist(), key=lambda i: i.compress_size)
    with open(path, "rb") as fh:
        fh.seek(info.header_offset)
        header = fh.read(30)
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    return info.header_offset + 30 + name_len + extra_len, info.compress_size


@needs_zip
def test_corrupt_archive(tmp_path, populated):
    dest, before = populated
    bad = str(tmp_path / "corrupt.zip")
    shutil.copy(make_cli_zip(tmp_path, KIT, name="c.zip"), bad)
    start, size = _largest_member_data_offset(bad)
    with open(bad, "r+b") as fh:
        fh.seek(start + 12 + size // 2)  # past the 12-byte encryption header, mid-data
        chunk = fh.read(16)
        fh.seek(start + 12 + size // 2)
        fh.write(bytes(b ^ 0xFF for b in bytearray(chunk)))
    with pytest.raises(KitArchiveError) as err:
        extract_kit(bad, dest, PASSWORD)
    assert err.value.reason == "corrupt" and "corrupt" in str(err.value)
    assert "startup/blob.bin" in str(err.value)
    _assert_untouched(dest, before)
    with pytest.raises(KitArchiveError) as err:
        check_kit_password(bad, PASSWORD)
    assert err.value.reason == "corrupt"


@needs_zip
def test_corrupt_central_directory(tmp_path, populated):
    dest, before = populated
    bad = str(tmp_path / "cd.zip")
    shutil.copy(make_cli_zip(tmp_path, KIT, name="c2.zip"), bad)
    with open(bad, "rb") as fh:
        data = bytearray(fh.read())
    pos = data.rfind(b"PK\x01\x02")
    data[pos:pos + 4] = b"XX\x01\x02"
    with open(bad, "wb") as fh:
        fh.write(bytes(data))
    with pytest.raises(KitArchiveError) as err:
        extract_kit(bad, dest, PASSWORD)
    assert err.value.reason == "corrupt" and "corrupt" in str(err.value)
    _assert_untouched(dest, before)


@needs_zip
@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.99])
def test_truncated_archive(tmp_path, populated, fraction):
    dest, before = populated
    good = make_cli_zip(tmp_path, KIT, name="t.zip")
    bad = str(tmp_path / "truncated.zip")
    with open(good, "rb") as fh:
        data = fh.read()
    with open(bad, "wb") as fh:
        fh.write(data[:int(len(data) * fraction)])
    with pytest.raises(KitArchiveError) as err:
        extract_kit(bad, dest, PASSWORD)
    assert err.value.reason == "truncated" and "truncated" in str(err.value)
    _assert_untouched(dest, before)


def test_not_a_zip_and_empty_and_missing(tmp_path):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"this is not a zip archive at all" * 10)
    with pytest.raises(KitArchiveError) as err:
        extract_kit(str(junk), str(tmp_path / "d"), PASSWORD)
    assert err.value.reason == "not_zip" and "not a zip archive" in str(err.value)
    empty = tmp_path / "empty.zip"
    empty.write_bytes(b"")
    with pytest.raises(KitArchiveError) as err:
        extract_kit(str(empty), str(tmp_path / "d"), PASSWORD)
    assert err.value.reason == "truncated" and "empty" in str(err.value)
    with pytest.raises(KitArchiveError) as err:
        extract_kit(str(tmp_path / "nope.zip"), str(tmp_path / "d"), PASSWORD)
    assert err.value.reason == "missing" and "does not exist" in str(err.value)
    with pytest.raises(KitArchiveError) as err:
        extract_kit(str(junk), str(tmp_path / "no" / "parent"), PASSWORD)
    assert err.value.reason == "bad_argument" and "create it first" in str(err.value)


# ----------------------------------------------------------------------------- unsafe members


@pytest.mark.parametrize("member, why", [
    ("../evil", "'..'"),
    ("startup/../../evil", "'..'"),
    ("/abs/evil", "absolute path"),
    ("C:/evil", "absolute path"),
    ("startup\\..\\evil", "backslash"),
    (kit_archive.STAGING_PREFIX + "x/evil", "reserved"),
])
def test_unsafe_member_names(tmp_path, populated, member, why):
    dest, before = populated
    bad = make_py_zip(tmp_path, ["startup/readme.txt", (zipfile.ZipInfo(member), b"x")], name="evil.zip")
    assert member in zipfile.ZipFile(bad).namelist()
    with pytest.raises(KitArchiveError) as err:
        extract_kit(bad, dest, None)
    assert err.value.reason == "unsafe_member"
    assert repr(member) in str(err.value) and why in str(err.value)
    _assert_untouched(dest, before)
    assert not os.path.exists(str(tmp_path / "evil"))


@needs_zip
def test_dotdot_member_from_cli(tmp_path, populated):
    dest, before = populated
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    (tmp_path / "evil").write_text(u"x")
    out = str(tmp_path / "dots.zip")
    subprocess.check_call([ZIP, "-q", "-P", PASSWORD, out, "../../evil"], cwd=str(inner))
    os.remove(str(tmp_path / "evil"))
    with pytest.raises(KitArchiveError) as err:
        extract_kit(out, dest, PASSWORD)
    assert err.value.reason == "unsafe_member" and "'../../evil'" in str(err.value)
    assert not os.path.exists(str(tmp_path / "evil"))
    _assert_untouched(dest, before)


@needs_zip
def test_symlink_member_made_with_zip_y(tmp_path, populated):
    dest, before = populated
    bad = make_cli_zip(tmp_path, {"startup/readme.txt": b"x"}, name="sym.zip", extra_args=["-y"],
                       symlinks={"startup/passwd": "/etc/passwd"})
    with pytest.raises(KitArchiveError) as err:
        extract_kit(bad, dest, PASSWORD)
    assert err.value.reason == "unsafe_member"
    assert "'startup/passwd'" in str(err.value) and "symbolic link" in str(err.value)
    _assert_untouched(dest, before)


def test_device_member_and_duplicates(tmp_path):
    info = zipfile.ZipInfo("startup/dev")
    info.external_attr = (stat.S_IFCHR | 0o644) << 16
    bad = make_py_zip(tmp_path, [(info, b"")], name="dev.zip")
    with pytest.raises(KitArchiveError, match="special file"):
        extract_kit(bad, str(tmp_path / "d"), None)
    dup = str(tmp_path / "dup.zip")
    with zipfile.ZipFile(dup, "w") as zf:
        zf.writestr("startup/a", b"1")
        with pytest.warns(UserWarning):
            zf.writestr("startup/a", b"2")
    with pytest.raises(KitArchiveError, match="more than once"):
        extract_kit(dup, str(tmp_path / "d"), None)
    clash = make_py_zip(tmp_path, [("startup/a", b"1"), ("startup/a/b", b"2")], name="clash.zip")
    with pytest.raises(KitArchiveError, match="is a file in the archive"):
        extract_kit(clash, str(tmp_path / "d"), None)
    assert not os.path.exists(str(tmp_path / "d"))


# ----------------------------------------------------------------------------- unencrypted, owner, AES


def test_unencrypted_zipfile_archive(tmp_path):
    src = make_py_zip(tmp_path, sorted(KIT))
    dest = str(tmp_path / "kit")
    result = extract_kit(src, dest)
    assert result["encryption"] == "none" and result["changed"]
    assert mode_of(os.path.join(dest, "startup/server.key")) == 0o600
    assert extract_kit(src, dest, "ignored-password")["changed"] is False


@needs_zip
@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="chown needs root")
def test_owner_and_group(tmp_path, kit_zip):
    dest = str(tmp_path / "server")
    result = extract_kit(kit_zip, dest, PASSWORD, owner="65534", group="65534")
    assert result["changed"]
    for rel, entry in snapshot(dest).items():
        assert entry[2:4] == (65534, 65534), rel
    assert "uid=65534 gid=65534" in result["diff"]["after"]
    assert extract_kit(kit_zip, dest, PASSWORD, owner="65534", group="65534")["changed"] is False
    # without owner/group the ownership is not managed
    assert extract_kit(kit_zip, dest, PASSWORD)["changed"] is False
    result = extract_kit(kit_zip, dest, PASSWORD, owner="0")
    assert result["changed"] and "startup/server.key" in result["changed_files"]
    assert os.lstat(os.path.join(dest, "startup/server.key")).st_uid == 0


def test_unknown_owner(tmp_path):
    with pytest.raises(KitArchiveError, match="not a user on this host"):
        extract_kit(make_py_zip(tmp_path, ["startup/a"]), str(tmp_path / "d"), owner="no-such-user-xyz")
    with pytest.raises(KitArchiveError, match="not a group on this host"):
        extract_kit(make_py_zip(tmp_path, ["startup/a"]), str(tmp_path / "d"), group="no-such-group-xyz")


def _crafted_aes_zip(tmp_path):
    """A WinZip-AES-marked archive (method 99, encrypted flag) built without pyzipper."""
    path = str(tmp_path / "aes.zip")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("startup/readme.txt", b"x" * 64)
    with open(path, "rb") as fh:
        data = bytearray(fh.read())
    for sig, flag_off, method_off in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        pos = data.find(sig)
        struct.pack_into("<H", data, pos + flag_off, struct.unpack_from("<H", data, pos + flag_off)[0] | 1)
        struct.pack_into("<H", data, pos + method_off, 99)
    with open(path, "wb") as fh:
        fh.write(bytes(data))
    return path


def test_aes_without_pyzipper_says_install_it(tmp_path, monkeypatch):
    monkeypatch.setattr(kit_archive, "pyzipper", None)
    src = _crafted_aes_zip(tmp_path)
    with pytest.raises(KitArchiveError) as err:
        extract_kit(src, str(tmp_path / "d"), PASSWORD)
    assert err.value.reason == "aes_unsupported"
    assert "pyzipper" in str(err.value) and "AES" in str(err.value)
    assert not os.path.exists(str(tmp_path / "d"))


def test_aes_with_pyzipper(tmp_path):
    pyzipper = pytest.importorskip("pyzipper")
    src = str(tmp_path / "aes.zip")
    with pyzipper.AESZipFile(src, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES) as zf:
        zf.setpassword(PASSWORD.encode())
        for rel, data in KIT.items():
            zf.writestr(rel, data)
    dest = str(tmp_path / "kit")
    result = extract_kit(src, dest, PASSWORD)
    assert result["encryption"] == "aes" and result["changed"]
    assert mode_of(os.path.join(dest, "startup/server.key")) == 0o600
    assert extract_kit(src, dest, PASSWORD)["changed"] is False
    with pytest.raises(KitArchiveError) as err:
        extract_kit(src, str(tmp_path / "other"), "WrongPassword123")
    assert err.value.reason == "wrong_password"


# ----------------------------------------------------------------------------- helpers


@needs_zip
@pytest.mark.parametrize("full", [True, False])
def test_check_kit_password(kit_zip, full):
    assert check_kit_password(kit_zip, PASSWORD, full=full) is True
    with pytest.raises(KitArchiveError) as err:
        check_kit_password(kit_zip, "WrongPassword123", full=full)
    assert err.value.reason == "wrong_password"


@needs_zip
def test_quick_password_check_skips_only_large_members(tmp_path, monkeypatch):
    kit = dict(KIT)
    kit["startup/server_context.tenseal"] = os.urandom(kit_archive.QUICK_CHECK_LIMIT + 1)
    path = make_cli_zip(tmp_path, kit)
    streamed = []
    real_stream = kit_archive._Archive.stream

    def spy(self, info, sink=None):
        streamed.append(info.filename)
        return real_stream(self, info, sink)
    monkeypatch.setattr(kit_archive._Archive, "stream", spy)
    check_kit_password(path, PASSWORD, full=False)
    assert "startup/server_context.tenseal" not in streamed and "startup/server.key" in streamed
    del streamed[:]
    check_kit_password(path, PASSWORD)
    assert "startup/server_context.tenseal" in streamed


@pytest.mark.parametrize("value, expected", [("0750", 0o750), ("750", 0o750), ("0o750", 0o750), (0o640, 0o640),
                                             (493, 0o755), (" 0600 ", 0o600)])
def test_parse_mode(value, expected):
    assert parse_mode(value) == expected


@pytest.mark.parametrize("value", ["rwx", "0789", "", "99999", True, -1])
def test_parse_mode_rejects(value):
    with pytest.raises(KitArchiveError):
        parse_mode(value, "mode")


def test_private_dir_mode():
    assert private_dir_mode(0o600) == 0o700
    assert private_dir_mode(0o640) == 0o750
    assert private_dir_mode(0o644) == 0o755
    assert private_dir_mode(0o400) == 0o700


@needs_zip
def test_runs_on_python38(tmp_path, kit_zip):
    """module_utils run on the managed hosts' oldest supported Python (3.8)."""
    python38 = ev.find_python38()
    if python38 is None:
        if os.environ.get("CLARAFL_REQUIRE_ENGINE") == "1":
            pytest.fail("CLARAFL_REQUIRE_ENGINE=1 but Python 3.8 is missing")
        pytest.skip("Python 3.8 is not installed")
    collections = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", ".collections")
    fixture = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures", "provision",
                           "clara-4.0-default-project.txt")
    script = (
        "import sys, io\n"
        "sys.path.insert(0, %r)\n"
        "from ansible_collections.clarafl.federation.plugins.module_utils import kit_archive, provision_output\n"
        "r = kit_archive.extract_kit(%r, %r, %r)\n"
        "assert r['changed'] and not kit_archive.extract_kit(%r, %r, %r)['changed']\n"
        "kits = provision_output.parse_provision_output(io.open(%r, encoding='utf-8').read())\n"
        "assert len(kits) == 9\n"
        "print('py38 ok')\n"
    ) % (os.path.abspath(collections), kit_zip, str(tmp_path / "k38"), PASSWORD, kit_zip, str(tmp_path / "k38"),
         PASSWORD, os.path.abspath(fixture))
    out = subprocess.run([python38, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    assert out.returncode == 0 and b"py38 ok" in out.stdout, out.stdout.decode()
    for plugin_dir in ("module_utils", "modules"):
        base = os.path.join(os.path.abspath(collections), "ansible_collections", "clarafl", "federation", "plugins",
                            plugin_dir)
        files = [os.path.join(base, n) for n in os.listdir(base) if n.endswith(".py")]
        parse_all = "import ast, sys\nfor f in sys.argv[1:]: ast.parse(open(f).read(), f)"
        compiled = subprocess.run([python38, "-c", parse_all] + files, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, check=False)
        assert compiled.returncode == 0, compiled.stdout.decode()
    assert sys.version_info >= (3, 8)
