# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kit_extract module's caps (max_size, max_members, max_ratio), in both call shapes, run
in-process as Ansible runs it. The archives are made with zipfile (no zip CLI needed)."""

from __future__ import absolute_import, division, print_function

import os
import struct
import zipfile

import pytest
import yaml

from module_runner import run_module
from ansible_collections.clarafl.federation.plugins.module_utils import kit_archive
from ansible_collections.clarafl.federation.plugins.modules import kit_extract

MiB = 1024 * 1024
KIT = {
    "startup/client.key": b"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
    "startup/client.crt": b"-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n",
    "startup/start.sh": b"#!/bin/bash\necho hi\n",
}


def _zip(path, members, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(str(path), "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return str(path)


@pytest.fixture
def sites(tmp_path):
    (tmp_path / "sites").mkdir()
    return tmp_path / "sites"


@pytest.fixture
def kit(tmp_path):
    return _zip(tmp_path / "kit.zip", KIT)


@pytest.fixture
def bomb(tmp_path):
    """4 MiB of zeros in about 4 KiB: under the default max_size, far over the default max_ratio."""
    return _zip(tmp_path / "bomb.zip", dict(KIT, **{"startup/blob.bin": bytes(4 * MiB)}))


def test_an_ordinary_kit_extracts_with_the_defaults(kit, sites, capsys):
    result, _raw = run_module(kit_extract, {"src": kit, "dest": str(sites / "site")}, capsys)
    assert result["changed"] is True and not result.get("failed") and result["members"] == 3
    assert result["invocation"]["module_args"]["max_size"] == 256 * MiB
    assert result["invocation"]["module_args"]["max_members"] == 2000
    assert result["invocation"]["module_args"]["max_ratio"] == 200


def test_a_bomb_fails_with_a_sentence_and_leaves_nothing(bomb, sites, capsys):
    dest = str(sites / "site")
    result, raw = run_module(kit_extract, {"src": bomb, "dest": dest}, capsys)
    assert result["failed"] is True and result["reason"] == "limit"
    assert result["msg"].startswith("Cannot extract kit %s into %s: archive %s member 'startup/blob.bin' declares "
                                    "4 MiB uncompressed from " % (bomb, dest, bomb))
    assert "over max_ratio 200: this is a zip bomb, not a startup kit; raise max_ratio if it really is one" \
        in result["msg"]
    assert "Traceback" not in raw and os.listdir(str(sites)) == []
    # with max_ratio raised, max_size still holds
    result, raw = run_module(kit_extract, {"src": bomb, "dest": dest, "max_ratio": 100000, "max_size": 2 * MiB},
                             capsys)
    assert result["failed"] is True and result["reason"] == "limit"
    assert "over max_size 2097152 (2 MiB): this is not a startup kit; raise max_size if it really is one" \
        in result["msg"]
    assert "Traceback" not in raw and os.listdir(str(sites)) == []
    # both raised: the archive is extracted
    result, _raw = run_module(kit_extract, {"src": bomb, "dest": dest, "max_ratio": 100000}, capsys)
    assert result["changed"] is True and os.path.getsize(os.path.join(dest, "startup", "blob.bin")) == 4 * MiB


def test_too_many_members_and_check_mode(tmp_path, sites, capsys):
    many = _zip(tmp_path / "many.zip", dict(("startup/f%04d" % n, b"") for n in range(60)), zipfile.ZIP_STORED)
    dest = str(sites / "site")
    result, raw = run_module(kit_extract, {"src": many, "dest": dest, "max_members": 50}, capsys, check_mode=True)
    assert result["failed"] is True and result["reason"] == "limit"
    assert "holds 60 members, over max_members 50" in result["msg"] and "raise max_members" in result["msg"]
    assert "Traceback" not in raw and os.listdir(str(sites)) == []
    result, _raw = run_module(kit_extract, {"src": many, "dest": dest}, capsys)
    assert result["changed"] is True and result["members"] == 60


def test_a_populated_dest_is_left_as_it_was(kit, bomb, sites, capsys):
    dest = sites / "site"
    run_module(kit_extract, {"src": kit, "dest": str(dest)}, capsys)
    (dest / "logs").mkdir()
    before = sorted(os.listdir(str(dest))), sorted(os.listdir(str(dest / "startup")))
    result, _raw = run_module(kit_extract, {"src": bomb, "dest": str(dest)}, capsys)
    assert result["failed"] is True and result["reason"] == "limit"
    assert (sorted(os.listdir(str(dest))), sorted(os.listdir(str(dest / "startup")))) == before
    assert os.listdir(str(sites)) == ["site"]


@pytest.mark.parametrize("option", ["max_size", "max_members", "max_ratio"])
def test_a_cap_below_1_is_a_bad_argument(kit, sites, capsys, option):
    result, _raw = run_module(kit_extract, {"src": kit, "dest": str(sites / "site"), option: 0}, capsys)
    assert result["failed"] is True and result["reason"] == "bad_argument" and option in result["msg"]
    assert os.listdir(str(sites)) == []


def test_kits_each_held_to_the_caps(tmp_path, bomb, sites, capsys):
    other = _zip(tmp_path / "other.zip", dict(KIT, **{"startup/random.bin": os.urandom(300 * 1024)}))
    kits = [
        {"src": other, "dest": str(sites / "a")},
        {"src": bomb, "dest": str(sites / "b")},
        {"src": other, "dest": str(sites / "c")},
    ]
    # The top-level caps are each kit's default; they hold per kit (a and c together pass 400 KiB).
    result, raw = run_module(kit_extract, {"kits": kits, "max_size": 400 * 1024}, capsys)
    assert result["failed"] is True and result["reason"] == "limit"
    assert result["msg"].startswith("1 of 3 kits could not be installed: Cannot extract kit %s into %s: " % (
        bomb, str(sites / "b")))
    assert "over max_size 409600 (400 KiB)" in result["msg"] and "Traceback" not in raw
    assert [k.get("reason") for k in result["kits"]] == [None, "limit", None]
    assert sorted(os.listdir(str(sites))) == ["a", "c"]
    # A kit's own cap wins over the top-level one.
    kits[1].update(max_size=8 * MiB, max_ratio=100000)
    kits[2].update(max_members=2)
    result, _raw = run_module(kit_extract, {"kits": kits, "max_size": 400 * 1024}, capsys)
    assert [k.get("reason") for k in result["kits"]] == [None, None, "limit"]
    assert "holds 4 members, over max_members 2" in result["kits"][2]["msg"]
    assert os.path.getsize(str(sites / "b" / "startup" / "blob.bin")) == 4 * MiB
    assert sorted(os.listdir(str(sites / "c" / "startup"))) == ["client.crt", "client.key", "random.bin", "start.sh"]


def test_the_documentation_matches_the_argument_spec():
    doc = yaml.safe_load(kit_extract.DOCUMENTATION)
    defaults = {"max_size": kit_archive.DEFAULT_MAX_SIZE, "max_members": kit_archive.DEFAULT_MAX_MEMBERS,
                "max_ratio": kit_archive.DEFAULT_MAX_RATIO}
    assert defaults == {"max_size": 256 * MiB, "max_members": 2000, "max_ratio": 200}
    for option, default in defaults.items():
        assert doc["options"][option]["type"] == "int" and doc["options"][option]["default"] == default
        assert doc["options"]["kits"]["suboptions"][option]["type"] == "int"
        assert "default" not in doc["options"]["kits"]["suboptions"][option]
        assert option in kit_extract.KIT_DEFAULTS
    assert "V(limit)" in yaml.safe_load(kit_extract.RETURN)["reason"]["description"][0]


def test_a_member_whose_header_understates_its_size_is_stopped(tmp_path, sites, capsys):
    src = _zip(tmp_path / "liar.zip", dict(KIT, **{"startup/blob.bin": bytes(4 * MiB)}))
    with open(src, "rb") as fh:
        data = bytearray(fh.read())
    with zipfile.ZipFile(src) as zf:
        local = zf.getinfo("startup/blob.bin").header_offset
    central = data.find(bytes(data[local + 4:local + 26]), local + 30) - 6  # its central header: the same fields
    assert data[central:central + 4] == b"PK\x01\x02"
    struct.pack_into("<I", data, local + 22, 1000)
    struct.pack_into("<I", data, central + 24, 1000)
    with open(src, "wb") as fh:
        fh.write(bytes(data))
    dest = str(sites / "site")
    result, raw = run_module(kit_extract, {"src": src, "dest": dest}, capsys)
    assert result["failed"] is True and result["reason"] == "corrupt"
    assert "member 'startup/blob.bin' holds more than the 1000 bytes its header declares" in result["msg"]
    assert "Traceback" not in raw and os.listdir(str(sites)) == []
