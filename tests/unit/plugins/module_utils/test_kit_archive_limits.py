# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kit_archive: bounded extraction. Zip bombs, archives of too many members and archives whose
declared sizes lie are refused before anything is written (caps max_size, max_members,
max_ratio), and the byte count while reading stops a member that holds more than it declares.

The archives are small (a few MiB of zeros at most compress to a few KiB); the caps are lowered
where a test needs an archive over them, so nothing large is ever written."""

from __future__ import absolute_import, division, print_function

import os
import struct
import zipfile

import pytest

from ansible_collections.clarafl.federation.plugins.module_utils import kit_archive
from ansible_collections.clarafl.federation.plugins.module_utils.kit_archive import (
    KitArchiveError,
    check_kit_password,
    extract_kit,
    install_kits,
    parse_limit,
)
from test_kit_archive import (  # the archive helpers of the extraction tests (same folder)
    KIT,
    PASSWORD,
    make_cli_zip,
    make_py_zip,
    mode_of,
    needs_zip,
    snapshot,
)

MiB = 1024 * 1024


def make_zip(path, members, compression=zipfile.ZIP_DEFLATED):
    """An unencrypted archive of {name: bytes}, written with zipfile."""
    with zipfile.ZipFile(str(path), "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return str(path)


def declare_size(path, name, file_size):
    """Hand-patch the uncompressed size member name declares, in its local and its central header."""
    with open(path, "rb") as fh:
        data = bytearray(fh.read())
    with zipfile.ZipFile(path) as zf:
        offset = zf.getinfo(name).header_offset
    assert data[offset:offset + 4] == b"PK\x03\x04"
    struct.pack_into("<I", data, offset + 22, file_size)
    raw = name.encode("utf-8")
    pos = data.find(b"PK\x01\x02")
    patched = 0
    while pos != -1:
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if bytes(data[pos + 46:pos + 46 + name_len]) == raw:
            struct.pack_into("<I", data, pos + 24, file_size)
            patched += 1
        pos = data.find(b"PK\x01\x02", pos + 4)
    assert patched == 1
    with open(path, "wb") as fh:
        fh.write(bytes(data))
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo(name).file_size == file_size
    return path


def listing(folder):
    return sorted(os.listdir(str(folder)))


@pytest.fixture
def sites(tmp_path):
    """The parent of every dest, apart from the archives (so its listing shows any leftover)."""
    folder = tmp_path / "sites"
    folder.mkdir()
    return folder


@pytest.fixture
def populated(sites, tmp_path):
    """A dest that already holds a kit and an unmanaged folder; (dest, its snapshot)."""
    dest = str(sites / "server")
    extract_kit(make_py_zip(tmp_path, sorted(KIT), name="good.zip"), dest)
    os.mkdir(os.path.join(dest, "logs"))
    return dest, snapshot(dest)


def assert_refused(src, sites, populated, reason, *words, **limits):
    """extract_kit refuses src into a new dest and into a populated one, and leaves no trace in either
    (nor in their parent); returns the message."""
    dest, before = populated
    parent_before = listing(sites)
    fresh = str(sites / "fresh")
    for target in (fresh, dest):
        with pytest.raises(KitArchiveError) as err:
            extract_kit(src, target, **limits)
        assert err.value.reason == reason, str(err.value)
        for word in words:
            assert word in str(err.value)
        assert "\n" not in str(err.value)
    assert not os.path.exists(fresh)
    assert snapshot(dest) == before
    assert listing(sites) == parent_before  # no staging directory beside dest either
    assert not [n for n in os.listdir(dest) if kit_archive.STAGING_PREFIX in n]
    return str(err.value)


# ----------------------------------------------------------------------------- ordinary kits pass


def test_an_ordinary_kit_extracts_with_the_default_caps(tmp_path, sites):
    # Also a member above 1 MiB that does not compress (ratio about 1), as an HE context is.
    members = dict(KIT, **{"startup/server_context.tenseal": os.urandom(MiB + MiB // 2)})
    src = make_zip(tmp_path / "kit.zip", members)
    dest = str(sites / "server")
    result = extract_kit(src, dest)
    assert result["changed"] and result["members"] == len(members)
    with open(os.path.join(dest, "startup", "server_context.tenseal"), "rb") as fh:
        assert fh.read() == members["startup/server_context.tenseal"]
    assert mode_of(os.path.join(dest, "startup", "server.key")) == 0o600
    assert extract_kit(src, dest)["changed"] is False


@needs_zip
def test_an_encrypted_cli_kit_extracts_with_the_default_caps(tmp_path, sites):
    src = make_cli_zip(tmp_path, KIT)
    result = extract_kit(src, str(sites / "server"), PASSWORD)
    assert result["changed"] and result["encryption"] == "zipcrypto"
    assert check_kit_password(src, PASSWORD) is True


def test_an_archive_right_at_the_caps_passes(tmp_path, sites):
    members = {"startup/a.txt": b"a" * 1000, "startup/b.txt": os.urandom(1000)}
    src = make_zip(tmp_path / "edge.zip", members)
    with zipfile.ZipFile(src) as zf:
        infos = zf.infolist()
    size = sum(i.file_size for i in infos)
    ratio = -(-size // sum(i.compress_size for i in infos))  # rounded up
    result = extract_kit(src, str(sites / "edge"), max_size=size, max_members=len(infos), max_ratio=ratio)
    assert result["changed"] and result["members"] == 2


# ----------------------------------------------------------------------------- max_size


def test_a_real_zip_bomb_is_refused_by_max_size(tmp_path, sites, populated):
    # 12 MiB of zeros deflate to about 12 KiB; max_size is lowered to 8 MiB to keep the test small.
    src = make_zip(tmp_path / "bomb.zip", {"startup/blob.bin": bytes(12 * MiB)})
    assert os.path.getsize(src) < 64 * 1024
    msg = assert_refused(src, sites, populated, "limit", "archive %s declares 12 MiB uncompressed" % src,
                         "over max_size 8388608 (8 MiB)", "this is not a startup kit",
                         "raise max_size if it really is one", max_size=8 * MiB, max_ratio=100000)
    assert msg.count(". ") == 0  # one sentence


def test_an_archive_declaring_2_gib_is_refused_with_the_defaults(tmp_path, sites, populated):
    src = make_zip(tmp_path / "liar.zip", {"startup/readme.txt": b"kit\n", "startup/blob.bin": b"x" * 100})
    declare_size(src, "startup/blob.bin", 2 * 1024 * MiB)
    assert_refused(src, sites, populated, "limit", "declares 2.0 GiB uncompressed",
                   "over max_size 268435456 (256 MiB)", "raise max_size")
    with pytest.raises(KitArchiveError) as err:  # the provision_kits password check is bounded too
        check_kit_password(src, None)
    assert err.value.reason == "limit"


def test_check_mode_refuses_too(tmp_path, sites):
    src = make_zip(tmp_path / "bomb.zip", {"startup/blob.bin": bytes(4 * MiB)})
    with pytest.raises(KitArchiveError) as err:
        extract_kit(src, str(sites / "d"), check_mode=True, max_size=2 * MiB)
    assert err.value.reason == "limit" and "max_size" in str(err.value)
    assert listing(sites) == []


# ----------------------------------------------------------------------------- max_members


def test_many_tiny_members_are_refused_by_max_members(tmp_path, sites, populated):
    members = dict(("startup/f%05d" % n, b"") for n in range(2001))
    src = make_zip(tmp_path / "many.zip", members, zipfile.ZIP_STORED)
    assert_refused(src, sites, populated, "limit", "archive %s holds 2001 members, over max_members 2000" % src,
                   "raise max_members if it really is one")
    # the cap is an option: raised, the same archive extracts
    assert extract_kit(src, str(sites / "many"), max_members=2001)["members"] == 2001


def test_max_members_counts_directory_entries(tmp_path, sites, populated):
    src = str(tmp_path / "dirs.zip")
    with zipfile.ZipFile(src, "w") as zf:
        for n in range(5):
            zf.writestr("startup/d%d/" % n, b"")
        zf.writestr("startup/a", b"a")
    assert_refused(src, sites, populated, "limit", "holds 6 members, over max_members 5", max_members=5)


# ----------------------------------------------------------------------------- max_ratio


def test_a_bomb_is_refused_by_the_default_max_ratio(tmp_path, sites, populated):
    # 2 MiB of zeros from about 2 KiB: far below max_size, but a ratio only a zip bomb has.
    src = make_zip(tmp_path / "bomb.zip", {"startup/readme.txt": b"kit\n", "startup/blob.bin": bytes(2 * MiB)})
    msg = assert_refused(src, sites, populated, "limit", "member 'startup/blob.bin' declares 2 MiB uncompressed from",
                         "over max_ratio 200", "zip bomb", "raise max_ratio if it really is one")
    assert "ratio " in msg and ":1)" in msg


def test_one_member_over_max_ratio_with_the_whole_archive_under_it(tmp_path, sites, populated):
    members = {"startup/blob.bin": bytes(2 * MiB), "startup/random.bin": os.urandom(200 * 1024)}
    src = make_zip(tmp_path / "mixed.zip", members)
    with zipfile.ZipFile(src) as zf:
        infos = zf.infolist()
    assert sum(i.file_size for i in infos) / sum(i.compress_size for i in infos) < 200
    assert_refused(src, sites, populated, "limit", "member 'startup/blob.bin'", "over max_ratio 200")


def test_the_whole_archive_over_max_ratio_with_each_member_under_1_mib(tmp_path, sites, populated):
    members = dict(("startup/zeros%d.bin" % n, bytes(MiB // 2)) for n in range(8))
    src = make_zip(tmp_path / "zeros.zip", members)
    msg = assert_refused(src, sites, populated, "limit", "archive %s declares 4 MiB uncompressed from" % src,
                         "over max_ratio 200", "raise max_ratio")
    assert "member" not in msg
    assert extract_kit(src, str(sites / "zeros"), max_ratio=100000)["members"] == 8


def test_a_member_below_1_mib_may_compress_well(tmp_path, sites):
    # A small, very compressible member (ratio over 200) in an ordinary kit is no bomb.
    members = dict(KIT, **{"startup/padding.txt": b" " * 200000})
    src = make_zip(tmp_path / "kit.zip", members)
    assert extract_kit(src, str(sites / "kit"))["changed"]


def test_nothing_compressed_into_something_is_an_unbounded_ratio(tmp_path, sites, populated):
    src = make_zip(tmp_path / "stored.zip", {"startup/a": b""}, zipfile.ZIP_STORED)
    declare_size(src, "startup/a", 2 * MiB)  # 2 MiB declared, 0 bytes stored
    assert_refused(src, sites, populated, "limit", "from 0 bytes compressed (unbounded ratio)", "max_ratio")


# ----------------------------------------------------------------------------- sizes that lie


def lying_zip(tmp_path, declared, real=4 * MiB, name="lying.zip"):
    """A member of `real` zeros (deflated) whose headers declare `declared` bytes: the directory passes
    every cap, only reading it shows the lie."""
    src = make_zip(tmp_path / name, {"startup/readme.txt": b"kit\n", "startup/blob.bin": bytes(real)})
    declare_size(src, "startup/blob.bin", declared)
    with zipfile.ZipFile(src) as zf:
        kit_archive._check_limits(src, zf.infolist(), kit_archive.DEFAULT_MAX_SIZE,
                                  kit_archive.DEFAULT_MAX_MEMBERS, kit_archive.DEFAULT_MAX_RATIO)
    return src


def test_a_member_holding_more_than_it_declares_is_stopped_by_the_count(tmp_path, sites, populated):
    src = lying_zip(tmp_path, declared=1000)
    assert_refused(src, sites, populated, "corrupt",
                   "member 'startup/blob.bin' holds more than the 1000 bytes its header declares",
                   "sizes lie", "zip bomb")


def test_the_count_stops_the_read_before_the_sink_gets_more(tmp_path):
    declared = 300 * 1024  # more than one chunk
    src = lying_zip(tmp_path, declared=declared)
    archive = kit_archive._Archive(src, str(tmp_path / "d"), None)
    try:
        info = archive.zf.getinfo("startup/blob.bin")
        written = []
        with pytest.raises(KitArchiveError) as err:
            archive.stream(info, written.append)
        assert err.value.reason == "corrupt" and "300 KiB its header declares" in str(err.value)
        assert 0 < sum(len(c) for c in written) <= declared
        assert "startup/blob.bin" not in archive._kept
    finally:
        archive.close()


def test_the_count_stops_the_write_to_disk_and_the_staging_goes(tmp_path, sites, populated, monkeypatch):
    """Even were the verifying read skipped, the write to the staging directory stops at the lie."""
    declared = 300 * 1024
    src = lying_zip(tmp_path, declared=declared)
    real_desired_state = kit_archive._desired_state

    def trusting_desired_state(archive, *args):
        archive.stream = lambda info, sink=None: ("0" * 64, False)  # take the headers at their word
        try:
            return real_desired_state(archive, *args)
        finally:
            del archive.stream
    monkeypatch.setattr(kit_archive, "_desired_state", trusting_desired_state)
    sizes = []
    real_write_member = kit_archive._write_member

    def spy(archive, info, path):
        try:
            return real_write_member(archive, info, path)
        finally:
            sizes.append((info.filename, os.path.getsize(path)))
    monkeypatch.setattr(kit_archive, "_write_member", spy)
    assert_refused(src, sites, populated, "corrupt", "holds more than the 300 KiB its header declares")
    blob = [size for name, size in sizes if name == "startup/blob.bin"]
    assert len(blob) == 2 and all(0 < size <= declared for size in blob)  # fresh dest, then populated dest


def test_the_running_total_stops_at_max_size(tmp_path):
    """The second line: the bytes really read, all members together, against max_size."""
    src = make_zip(tmp_path / "kit.zip", {"startup/a.bin": os.urandom(200 * 1024),
                                          "startup/b.bin": os.urandom(200 * 1024)})
    archive = kit_archive._Archive(src, str(tmp_path / "d"), None)
    try:
        a, b = archive.zf.getinfo("startup/a.bin"), archive.zf.getinfo("startup/b.bin")
        archive.max_size = 300 * 1024  # as if the declared sizes had passed the first check
        archive.stream(a)
        archive.stream(a)  # read again (from the cache): still counted once
        assert archive._counted_total == 200 * 1024
        written = []
        with pytest.raises(KitArchiveError) as err:
            archive.stream(b, written.append)
        assert err.value.reason == "limit"
        assert "holds more than max_size 307200 (300 KiB) uncompressed although it declares less" in str(err.value)
        assert "raise max_size" in str(err.value) and sum(len(c) for c in written) <= 100 * 1024
    finally:
        archive.close()


@pytest.mark.parametrize("method, name", [(zipfile.ZIP_BZIP2, "bzip2"), (zipfile.ZIP_LZMA, "LZMA")])
def test_members_that_cannot_be_read_with_a_bound_are_refused(tmp_path, sites, populated, method, name):
    """zipfile decompresses bzip2 and LZMA without a bound per read: 16 MiB of zeros in a bzip2 member
    of about 50 bytes would all be in memory before a byte could be counted, whatever the header says."""
    src = str(tmp_path / "method.zip")
    with zipfile.ZipFile(src, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("startup/readme.txt", b"kit\n")
        zf.writestr("startup/blob.bin", bytes(16 * MiB), compress_type=method)
    declare_size(src, "startup/blob.bin", 1000)  # so that no declared-size cap catches it
    assert_refused(src, sites, populated, "unsupported",
                   "member 'startup/blob.bin' is compressed with %s, which is refused" % name,
                   "make this zip again with zip")


def test_stored_members_and_directory_entries_pass(tmp_path, sites):
    src = str(tmp_path / "stored.zip")
    with zipfile.ZipFile(src, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("startup/", b"")
        zf.writestr("startup/a.txt", b"stored\n")
    assert extract_kit(src, str(sites / "stored"))["members"] == 1


# ----------------------------------------------------------------------------- several kits, arguments


def test_install_kits_holds_each_kit_to_its_own_caps(tmp_path, sites):
    ok = make_zip(tmp_path / "ok.zip", {"startup/random.bin": os.urandom(300 * 1024)})
    ok2 = make_zip(tmp_path / "ok2.zip", {"startup/random.bin": os.urandom(300 * 1024)})
    bomb = make_zip(tmp_path / "bomb.zip", {"startup/blob.bin": bytes(2 * MiB)})
    kits = [
        {"src": ok, "dest": str(sites / "a"), "max_size": 400 * 1024},
        {"src": ok2, "dest": str(sites / "b"), "max_size": 400 * 1024},  # 600 KiB together: caps are per kit
        {"src": bomb, "dest": str(sites / "c")},
        {"src": ok, "dest": str(sites / "d"), "max_size": 100 * 1024},
    ]
    results, failures = install_kits(kits)
    assert [r.get("reason") for r in results] == [None, None, "limit", "limit"]
    assert failures == [results[2], results[3]]
    assert "over max_ratio 200" in results[2]["msg"] and "over max_size 102400 (100 KiB)" in results[3]["msg"]
    assert listing(sites) == ["a", "b"]
    results, failures = install_kits([dict(kits[2], max_ratio=5000)])
    assert failures == [] and results[0]["changed"]


@pytest.mark.parametrize("value", [0, -1, "0", "ten", "1.5", 1.5, True, ""])
def test_parse_limit_rejects(value):
    with pytest.raises(KitArchiveError) as err:
        parse_limit(value, "max_members", 2000)
    assert err.value.reason == "bad_argument" and "max_members must be a whole number of 1 or more" in str(err.value)


def test_parse_limit_accepts():
    assert parse_limit(None, "max_size", 7) == 7
    assert parse_limit(300, "max_size", 7) == 300
    assert parse_limit(" 300 ", "max_size", 7) == 300


def test_a_bad_cap_fails_before_the_archive_is_looked_at(tmp_path, sites):
    with pytest.raises(KitArchiveError) as err:
        extract_kit(str(tmp_path / "none.zip"), str(sites / "d"), max_ratio=0)
    assert err.value.reason == "bad_argument" and "max_ratio" in str(err.value)


@pytest.mark.parametrize("size, text", [(0, "0 bytes"), (1, "1 byte"), (1023, "1023 bytes"), (1024, "1 KiB"),
                                        (1536, "1.5 KiB"), (256 * MiB, "256 MiB"), (2 * 1024 * MiB, "2 GiB"),
                                        (2 * 1024 * MiB + 50 * MiB, "2.0 GiB")])
def test_fmt_size(size, text):
    assert kit_archive._fmt_size(size) == text


def test_aes_archive_is_bounded_too(tmp_path, sites, populated):
    pyzipper = pytest.importorskip("pyzipper")
    src = str(tmp_path / "aes.zip")
    with pyzipper.AESZipFile(src, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES) as zf:
        zf.setpassword(PASSWORD.encode())
        zf.writestr("startup/readme.txt", b"kit\n")
        zf.writestr("startup/blob.bin", bytes(2 * MiB))
    assert_refused(src, sites, populated, "limit", "over max_ratio 200")
    result = extract_kit(src, str(sites / "aes"), PASSWORD, max_ratio=100000)
    assert result["encryption"] == "aes" and result["changed"]
    declare_size(src, "startup/blob.bin", 1000)
    with pytest.raises(KitArchiveError) as err:
        extract_kit(src, str(sites / "aes2"), PASSWORD)
    assert err.value.reason == "corrupt" and "holds more than the 1000 bytes" in str(err.value)
    assert not os.path.exists(str(sites / "aes2"))
    bz = str(tmp_path / "aes-bzip2.zip")
    with pyzipper.AESZipFile(bz, "w", compression=pyzipper.ZIP_BZIP2, encryption=pyzipper.WZ_AES) as zf:
        zf.setpassword(PASSWORD.encode())
        zf.writestr("startup/readme.txt", b"kit\n")
    assert_refused(bz, sites, populated, "unsupported", "is compressed with bzip2")
