# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of the provisioner-output parser.

The main matrix runs the REAL Clara Train 4.0 provisioner (nvflare==1.0.2 on Python 3.8) for
several projects at several terminal widths and checks every result against the passwords the
provisioner recorded in its audit file, and by opening each zip with the parsed password.
For widths where Rich cut cells with an ellipsis, the parser must refuse, naming the rows.
"""

from __future__ import absolute_import, division, print_function

import glob
import io
import os
import random
import re
import string
import zipfile

import pytest

import engine_venv as ev
from ansible_collections.clarafl.federation.plugins.module_utils.provision_output import (
    ELLIPSIS,
    ProvisionOutputError,
    parse_provision,
    parse_provision_output,
)

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(os.path.dirname(os.path.dirname(HERE)), "fixtures", "provision")
DEFAULT_FIXTURE = os.path.join(FIXTURES, "clara-4.0-default-project.txt")

WIDTHS = (40, 60, 80, 120, 250)


def _long(prefix, length, suffix=""):
    """A name of exactly `length` characters (the X.509 limit is 64)."""
    body = (prefix + "-abcdefghijklmnopqrstuvwxyz0123456789" * 3)[:length - len(suffix)]
    return body + suffix


PROJECTS = {
    # The shipped defaults (3 clients, 5 admins), one client carrying an e-mail.
    "default": {
        "name": "example_project",
        "server_cn": "fl-server.example.org",
        "clients": [{"name": "org1-a", "org": "org1"},
                    {"name": "org1-b", "org": "org1", "email": "it-contact@org1.com"},
                    {"name": "org2", "org": "org2"}],
        "admins": [{"email": "admin@nvidia.com", "org": "nvidia", "roles": ["super"]},
                   {"email": "researcher@nvidia.com", "org": "nvidia", "roles": ["lead_it", "site_researcher"]},
                   {"email": "researcher@org1.com", "org": "org1", "roles": ["site_researcher"]},
                   {"email": "researcher@org2.com", "org": "org2", "roles": ["lead_researcher"]},
                   {"email": "it@org2.com", "org": "org2", "roles": ["lead_it"]}],
    },
    # One client, one admin, another project name.
    "solo": {
        "name": "solo_federation",
        "server_cn": "fl.solo.example",
        "clients": [{"name": "hospital-a", "org": "hosp"}],
        "admins": [{"email": "admin@solo.example", "org": "hosp", "roles": ["super"]}],
    },
    # Twelve clients, names up to the 64-character limit, several admins with long e-mails.
    "wide": {
        "name": "big_federation_2026",
        "server_cn": "fl-server.big-federation.example.org",
        "clients": [{"name": _long("site-%02d" % i, 8 + 5 * i if i < 11 else 64), "org": "org%d" % (i % 3)}
                    for i in range(12)],
        "admins": [{"email": "admin@nvidia.com", "org": "nvidia", "roles": ["super"]},
                   {"email": _long("lead.researcher", 64, "@research.example.org"), "org": "org1",
                    "roles": ["lead_researcher"]},
                   {"email": _long("it", 40, "@org2.example"), "org": "org2", "roles": ["lead_it"]},
                   {"email": _long("site.researcher", 60, "@org0.example"), "org": "org0",
                    "roles": ["site_researcher"]}],
    },
}


def _expected(spec):
    return {"server": spec["server_cn"], "clients": [c["name"] for c in spec["clients"]],
            "admins": [a["email"] for a in spec["admins"]]}


def _truth_kits(spec, passwords):
    kits = [{"name": "server", "zip": "server.zip", "password": passwords["server.zip"], "email": None,
             "kind": "server"}]
    for c in spec["clients"]:
        kits.append({"name": c["name"], "zip": c["name"] + ".zip", "password": passwords[c["name"] + ".zip"],
                     "email": c.get("email"), "kind": "client"})
    for a in spec["admins"]:
        kits.append({"name": a["email"], "zip": a["email"] + ".zip", "password": passwords[a["email"] + ".zip"],
                     "email": a["email"], "kind": "admin"})
    return kits


def _open_with(zip_path, password, full=False):
    """Prove a password: the check byte of every member and the CRC of the smallest (or every) member."""
    with zipfile.ZipFile(zip_path) as zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        for info in infos:
            with zf.open(info, pwd=password.encode()):
                pass
        for info in (infos if full else [min(infos, key=lambda i: i.file_size)]):
            zf.read(info, pwd=password.encode())


def _table_lines(text):
    return [ln for ln in text.splitlines() if ln.startswith((u"\u2502", u"\u2503", u"\u250f", u"\u2514"))]


class _Runs(object):
    """Run the provisioner once per (project, width); one audit file per project, so the same
    passwords come out at every width and the audit file is the independent truth."""

    def __init__(self, venv, base):
        self.venv = venv
        self.base = base
        self.cache = {}

    def get(self, project, width, extra_env=None, tag=""):
        key = (project, width, tag)
        if key not in self.cache:
            spec = PROJECTS[project]
            work = os.path.join(self.base, project)
            if not os.path.exists(os.path.join(work, "project.yml")):
                ev.write_project(self.venv, work, spec)
            outdir = os.path.join(work, "out-%s%s" % (width, tag))
            rc, out = ev.run_provision(self.venv, os.path.join(work, "project.yml"),
                                       os.path.join(work, "authz_config.json"), outdir, columns=width,
                                       extra_env=extra_env)
            passwords = None
            if os.path.exists(os.path.join(work, "AUDIT")):
                passwords = ev.audit_passwords(os.path.join(work, "AUDIT"), spec["name"])
            self.cache[key] = (rc, out, outdir, passwords)
        return self.cache[key]


@pytest.fixture(scope="session")
def runs(engine_venv, tmp_path_factory):
    return _Runs(engine_venv, str(tmp_path_factory.mktemp("provision")))


def _assert_no_password(message, passwords):
    for pw in passwords:
        assert pw not in message, "a password leaked into the error message"
        assert pw[:9] not in message, "a password prefix leaked into the error message"


# ----------------------------------------------------------------------------- real provisioner


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("project", sorted(PROJECTS))
def test_real_provisioner_output_at_width(runs, project, width):
    spec = PROJECTS[project]
    rc, out, outdir, passwords = runs.get(project, width)
    assert rc == 0, out[-3000:]
    zips = sorted(glob.glob(os.path.join(outdir, "*.zip")))
    truth = _truth_kits(spec, passwords)
    assert sorted(os.path.basename(z) for z in zips) == sorted(k["zip"] for k in truth)
    cut = [ln for ln in _table_lines(out) if ELLIPSIS in ln and not ln.startswith(u"\u2503")]
    if cut:
        with pytest.raises(ProvisionOutputError) as err:
            parse_provision_output(out, zip_names=zips, expected=_expected(spec))
        msg = str(err.value)
        assert "cut" in msg and "COLUMNS=" in msg
        lines = out.splitlines()
        for ln in cut:
            assert "output line %d" % (lines.index(ln) + 1) in msg
        _assert_no_password(msg, passwords.values())
        return
    for variant in ({}, {"zip_names": zips}, {"zip_names": zips, "expected": _expected(spec)},
                    {"zip_names": zips, "server_name": spec["server_cn"]}):
        kits = parse_provision_output(out, **variant)
        assert kits == truth
    for kit in truth:
        _open_with(os.path.join(outdir, kit["zip"]), kit["password"], full=(width == 250))


@pytest.mark.parametrize("project", sorted(PROJECTS))
def test_real_provisioner_wide_terminal_always_parses_and_narrow_always_refuses(runs, project):
    rc, out, outdir, passwords = runs.get(project, 250)
    assert rc == 0
    assert len(parse_provision_output(out)) == len(passwords)
    rc, out, outdir, passwords = runs.get(project, 40)
    with pytest.raises(ProvisionOutputError, match="narrow terminal"):
        parse_provision_output(out)


def test_real_provisioner_ascii_box(runs):
    """On a non-UTF-8 console Rich draws an ASCII box (+---+ and |)."""
    rc, out, outdir, passwords = runs.get("default", 120, extra_env={"PYTHONIOENCODING": "ascii"}, tag="-ascii")
    assert rc == 0, out[-2000:]
    assert "+----" in out and u"\u2502" not in out
    kits = parse_provision_output(out, zip_names=glob.glob(os.path.join(outdir, "*.zip")),
                                  expected=_expected(PROJECTS["default"]))
    assert kits == _truth_kits(PROJECTS["default"], passwords)


def test_real_provisioner_ascii_console_crash_is_explained(runs):
    """Narrow and ASCII: Rich cannot print '…' and the provisioner dies before the table."""
    rc, out, outdir, passwords = runs.get("default", 40, extra_env={"PYTHONIOENCODING": "ascii"}, tag="-ascii")
    assert "UnicodeEncodeError" in out
    with pytest.raises(ProvisionOutputError) as err:
        parse_provision_output(out, zip_names=glob.glob(os.path.join(outdir, "*.zip")))
    msg = str(err.value)
    assert "PYTHONIOENCODING=utf-8" in msg and "provisioner failed" in msg
    _assert_no_password(msg, passwords.values())


def test_real_provisioner_crash_on_too_long_name(engine_venv, tmp_path):
    spec = dict(PROJECTS["solo"], clients=[{"name": "x" * 65, "org": "hosp"}])
    project_yml, authz = ev.write_project(engine_venv, str(tmp_path), spec)
    rc, out = ev.run_provision(engine_venv, project_yml, authz, str(tmp_path / "out"), columns=250)
    assert "Traceback" in out
    with pytest.raises(ProvisionOutputError, match=r"provisioner failed: ValueError: .*64"):
        parse_provision_output(out)


# ----------------------------------------------------------------------------- shared fixture


@pytest.fixture
def fixture_text():
    with io.open(DEFAULT_FIXTURE, encoding="utf-8") as fh:
        return fh.read()


FIXTURE_ZIPS = ["server.zip", "org1-a.zip", "org1-b.zip", "org2.zip", "admin@nvidia.com.zip",
                "researcher@nvidia.com.zip", "researcher@org1.com.zip", "researcher@org2.com.zip", "it@org2.com.zip"]
FIXTURE_EXPECTED = {"server": "fl-server.example.org", "clients": ["org1-a", "org1-b", "org2"],
                    "admins": ["admin@nvidia.com", "researcher@nvidia.com", "researcher@org1.com",
                               "researcher@org2.com", "it@org2.com"]}


def _fixture_passwords(text):
    return re.findall(u"\u2502 ([A-Za-z0-9]{16}) \u2502", text)


def test_shared_fixture(fixture_text):
    result = parse_provision(fixture_text, zip_names=FIXTURE_ZIPS, expected=FIXTURE_EXPECTED)
    assert result["encrypted"] is True and result["source"] == "clara_table"
    kits = result["kits"]
    assert [k["zip"] for k in kits] == FIXTURE_ZIPS
    assert kits[0] == {"name": "server", "zip": "server.zip", "password": "64CWMI3Zb00JRcPn", "email": None,
                       "kind": "server"}
    assert kits[4] == {"name": "admin@nvidia.com", "zip": "admin@nvidia.com.zip", "password": "n0ldaxCZYoj8Orpv",
                       "email": "admin@nvidia.com", "kind": "admin"}
    assert [k["kind"] for k in kits] == ["server"] + ["client"] * 3 + ["admin"] * 5


def test_ansi_colours_and_crlf(fixture_text):
    coloured = fixture_text.replace(u"Password", u"\x1b[1;35mPassword\x1b[0m").replace("\n", "\r\n")
    assert parse_provision_output(coloured) == parse_provision_output(fixture_text)


def _lines(text):
    return text.split("\n")


def _index(lines, needle):
    return [i for i, ln in enumerate(lines) if needle in ln][0]


def _expect_error(text, match, **kwargs):
    with pytest.raises(ProvisionOutputError) as err:
        parse_provision_output(text, **kwargs)
    msg = str(err.value)
    assert re.search(match, msg), msg
    _assert_no_password(msg, _fixture_passwords(DEFAULT_TEXT))
    return msg


with io.open(DEFAULT_FIXTURE, encoding="utf-8") as _fh:
    DEFAULT_TEXT = _fh.read()


def test_truncated_mid_table(fixture_text):
    lines = _lines(fixture_text)
    cut = "\n".join(lines[:_index(lines, "org2.zip") + 1])
    _expect_error(cut, r"truncated.*lacks its closing border")


def test_truncated_mid_line(fixture_text):
    lines = _lines(fixture_text)
    i = _index(lines, "researcher@org1.com.zip")
    cut = "\n".join(lines[:i] + [lines[i][:30]])
    _expect_error(cut, r"interrupted at output line %d|truncated" % (i + 1))


def test_missing_closing_border(fixture_text):
    lines = _lines(fixture_text)
    del lines[_index(lines, u"\u2514")]
    _expect_error("\n".join(lines), r"lacks the table's closing border")


def test_cut_at_the_beginning(fixture_text):
    lines = _lines(fixture_text)
    del lines[_index(lines, u"\u250f")]
    _expect_error("\n".join(lines), r"cut at the beginning")


def test_row_removed(fixture_text):
    lines = _lines(fixture_text)
    del lines[_index(lines, "org1-b.zip")]
    text = "\n".join(lines)
    _expect_error(text, r"zip file 'org1-b.zip' in the packages directory has no row", zip_names=FIXTURE_ZIPS)
    _expect_error(text, r"expected client 'org1-b' has no kit", expected=FIXTURE_EXPECTED)


def test_duplicated_row(fixture_text):
    lines = _lines(fixture_text)
    i = _index(lines, "org2.zip")
    lines.insert(i, lines[i])
    _expect_error("\n".join(lines), r"zip 'org2.zip' is listed 2 times")


def test_garbled_row_missing_separator(fixture_text):
    lines = _lines(fixture_text)
    i = _index(lines, "org1-a.zip")
    lines[i] = lines[i].replace(u" \u2502 org1-a", u"   org1-a", 1)
    _expect_error("\n".join(lines), r"garbled at output line %d" % (i + 1))


def test_garbled_row_shifted_cells(fixture_text):
    lines = _lines(fixture_text)
    i = _index(lines, "org2.zip")
    lines[i] = lines[i].replace("org2.zip  ", "  org2.zip")
    # still readable: cells are stripped; the value is unchanged
    assert parse_provision_output("\n".join(lines))[3]["zip"] == "org2.zip"
    lines[i] = lines[i].replace("org2.zip", "org2 zip")
    _expect_error("\n".join(lines), r"output line %d" % (i + 1))


def test_garbled_password_cell(fixture_text):
    lines = _lines(fixture_text)
    i = _index(lines, "server.zip")
    lines[i] = lines[i].replace("64CWMI3Zb00JRcPn", "64CWMI3 b00JRcPn")
    _expect_error("\n".join(lines), r"cannot be read completely.*output line %d" % (i + 1))


def test_swapped_cells_never_echo_the_password(fixture_text):
    lines = _lines(fixture_text)
    i = _index(lines, "server.zip")
    lines[i] = u"\u2502".join([u"", u" server.zip       ", u" 64CWMI3Zb00JRcPn          ", u" " * 34, u""])
    msg = _expect_error("\n".join(lines), r"output line %d" % (i + 1))
    assert "********" in msg  # the zip cell that holds the password is shown redacted


def test_blank_line_inside_table(fixture_text):
    lines = _lines(fixture_text)
    lines.insert(_index(lines, "org2.zip"), "")
    _expect_error("\n".join(lines), r"interrupted")


def test_single_ellipsis_in_one_password(fixture_text):
    lines = _lines(fixture_text)
    i = _index(lines, "it@org2.com.zip")
    lines[i] = lines[i].replace("I4iSdFg6sf5mV2c3", u"I4iSdFg6sf5mV2\u2026 ")
    msg = _expect_error("\n".join(lines), r"narrow terminal")
    assert "output line %d, zip 'it@org2.com.zip': password cut" % (i + 1) in msg
    assert "I4iSdFg6sf5mV2" not in msg


def test_zip_without_row_and_row_without_zip(fixture_text):
    msg = _expect_error(fixture_text, r"no row", zip_names=FIXTURE_ZIPS + ["org3.zip"])
    assert "'org3.zip'" in msg
    msg = _expect_error(fixture_text, r"has no such zip file",
                        zip_names=[z for z in FIXTURE_ZIPS if z != "org2.zip"])
    assert "'org2.zip'" in msg


def test_paths_accepted_as_zip_names(fixture_text):
    kits = parse_provision_output(fixture_text, zip_names=["/srv/out/" + z for z in FIXTURE_ZIPS])
    assert len(kits) == 9


def test_unexpected_participants(fixture_text):
    exp = dict(FIXTURE_EXPECTED, clients=["org1-a", "org2"], admins=["admin@nvidia.com"])
    msg = _expect_error(fixture_text, r"unexpected client kit 'org1-b.zip'", expected=exp)
    assert "unexpected admin kit 'it@org2.com.zip'" in msg


def test_a_former_site_kit_is_allowed_marked_and_not_required(fixture_text):
    # org1-b left the federation: the tool, given the project's audit file, still makes its kit.
    exp = dict(FIXTURE_EXPECTED, clients=["org1-a", "org2"], former_clients=["org1-b", "org9-gone"])
    kits = parse_provision_output(fixture_text, expected=exp)
    by_name = dict((k["name"], k) for k in kits)
    assert by_name["org1-b"]["kind"] == "client" and by_name["org1-b"]["former"] is True
    assert "former" not in by_name["org1-a"] and "org9-gone" not in by_name


def test_expected_participant_missing(fixture_text):
    exp = dict(FIXTURE_EXPECTED, clients=FIXTURE_EXPECTED["clients"] + ["org3"])
    _expect_error(fixture_text, r"expected client 'org3' has no kit", expected=exp)


def test_two_tables(fixture_text):
    _expect_error(fixture_text + fixture_text, r"holds 2 tables")


def test_stray_row_after_table(fixture_text):
    lines = _lines(fixture_text)
    lines.append(lines[_index(lines, "org2.zip")])
    _expect_error("\n".join(lines), r"outside the password table")


def test_admin_email_mismatch(fixture_text):
    text = fixture_text.replace(u"\u2502 it@org2.com           ", u"\u2502 it@org9.com           ")
    _expect_error(text, r"names the recipient 'it@org9.com'")


def test_header_only_table():
    text = u"\n".join([
        u"\u250f\u2501\u2501\u2501\u2533\u2501\u2501\u2501\u2513",
        u"\u2503 Password \u2503 Zip file name \u2503",
        u"\u2521\u2501\u2501\u2501\u2547\u2501\u2501\u2501\u2529",
        u"\u2514\u2500\u2500\u2500\u2534\u2500\u2500\u2500\u2518"])
    _expect_error(text, r"no rows")


def test_server_resolution(fixture_text):
    # the Clara table always names the server kit server.zip, whatever the cn
    kits = parse_provision_output(fixture_text, server_name="fl-server.example.org")
    assert [k["name"] for k in kits if k["kind"] == "server"] == ["server"]


# ----------------------------------------------------------------------------- folded (wrapped) cells

FOLD_TRUTH = [
    ("Xq7Lm2Pz9Ab4Cd6E", "server.zip", None),
    ("Hh3Jj5Kk7Ll9Mm1N", "hospital-with-a-long-name-01.zip", None),
    ("Rr2Ss4Tt6Uu8Vv0W", "b.zip", None),
    ("Aa1Bb2Cc3Dd4Ee5F", "admin@nvidia.com.zip", "admin@nvidia.com"),
    ("Zz9Yy8Xx7Ww6Vv5U", "lead.researcher@university.example.org.zip", "lead.researcher@university.example.org"),
]


@pytest.mark.parametrize("name", ["rich-fold-width34.txt", "rich-fold-show-lines-width40.txt"])
@pytest.mark.parametrize("with_zips", [False, True])
def test_folded_fixture(name, with_zips):
    with io.open(os.path.join(FIXTURES, name), encoding="utf-8") as fh:
        text = fh.read()
    zips = [t[1] for t in FOLD_TRUTH] if with_zips else None
    kits = parse_provision_output(text, zip_names=zips)
    assert [(k["password"], k["zip"], k["email"]) for k in kits] == FOLD_TRUTH
    assert [k["kind"] for k in kits] == ["server", "client", "client", "admin", "admin"]


def test_folded_row_missing_a_continuation_line():
    with io.open(os.path.join(FIXTURES, "rich-fold-width34.txt"), encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    i = _index(lines, "e-01.zip")  # last line of the folded hospital row
    del lines[i]
    with pytest.raises(ProvisionOutputError) as err:
        parse_provision_output("\n".join(lines), zip_names=[t[1] for t in FOLD_TRUTH])
    assert "hospital-with-a-long-name-01.zip" in str(err.value) or "cannot be read" in str(err.value)
    for pw, _z, _e in FOLD_TRUTH:
        assert pw[:8] not in str(err.value)


def test_rich_layouts_never_misread():
    """Every Rich layout (fold or ellipsis, with or without row lines, 8-200 columns) parses to the
    truth or raises; it never returns a wrong value."""
    rich_console = pytest.importorskip("rich.console")
    rich_table = pytest.importorskip("rich.table")
    rnd = random.Random(7)

    def pw():
        return "".join(rnd.choice(string.ascii_letters + string.digits) for _i in range(16))

    rows = [(pw(), "server.zip", "")]
    for n in ["hospital-a", _long("hospital", 40), "b", _long("clinic", 64), "c"]:
        rows.append((pw(), n + ".zip", ""))
    for e in ["admin@nvidia.com", _long("researcher", 64, "@university.example.org"), "x@y.zz"]:
        rows.append((pw(), e + ".zip", e))
    truth = [(p, z, e or None) for p, z, e in rows]
    outcomes = {"fold": 0, "ellipsis": 0, "refused": 0}
    for overflow in ("fold", "ellipsis"):
        for show_lines in (False, True):
            for width in range(8, 201, 3):
                buf = io.StringIO()
                console = rich_console.Console(file=buf, width=width, color_system=None)
                table = rich_table.Table(show_header=True, header_style="bold magenta", show_lines=show_lines)
                for header in ("Password", "Zip file name", "Email of recipient (if provided)"):
                    table.add_column(header, overflow=overflow)
                for r in rows:
                    table.add_row(*r)
                console.print(table)
                for zips in (None, [r[1] for r in rows]):
                    try:
                        kits = parse_provision_output(buf.getvalue(), zip_names=zips)
                    except ProvisionOutputError as exc:
                        outcomes["refused"] += 1
                        for p, _z, _e in rows:
                            assert p not in str(exc)
                        continue
                    assert [(k["password"], k["zip"], k["email"]) for k in kits] == truth, buf.getvalue()
                    outcomes[overflow] += 1
    # folded layouts are read, not just refused; wide ellipsis layouts are read too
    assert outcomes["fold"] > 120 and outcomes["ellipsis"] > 40, outcomes


def test_ambiguous_fold_needs_zip_names():
    """A name holding '.zip' folded right after it could be two rows; the real zip names decide."""
    text = u"\n".join([
        u"\u250f\u2501\u2501\u2501\u2501\u2501\u2501\u2501\u2501\u2501\u2501\u2533\u2501\u2501\u2501\u2501\u2501"
        u"\u2501\u2501\u2513",
        u"\u2503 Password \u2503 Zip   \u2503",
        u"\u2521\u2501\u2501\u2501\u2501\u2501\u2501\u2501\u2501\u2501\u2501\u2547\u2501\u2501\u2501\u2501\u2501"
        u"\u2501\u2501\u2529",
        u"\u2502 server01 \u2502 serve \u2502",
        u"\u2502 Abcd1234 \u2502 r.zip \u2502",
        u"\u2502 Pqrs5678 \u2502 a.zip \u2502",
        u"\u2502 Wxyz9012 \u2502 b.zip \u2502",
        u"\u2514\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2534\u2500\u2500\u2500\u2500\u2500"
        u"\u2500\u2500\u2518"])
    # Without zip names the '.zip' rule splits it into server.zip (folded, 16-character password),
    # a.zip and b.zip (8-character passwords): differing lengths after a fold are not proof.
    with pytest.raises(ProvisionOutputError, match="differing lengths") as err:
        parse_provision_output(text)
    assert "Pqrs5678" not in str(err.value) and "server01" not in str(err.value)
    # The real zip names decide: one row 'a.zipb.zip' whose password is folded too ...
    kits = parse_provision_output(text, zip_names=["server.zip", "a.zipb.zip"])
    assert [(k["zip"], k["password"]) for k in kits] == [
        ("server.zip", "server01Abcd1234"), ("a.zipb.zip", "Pqrs5678Wxyz9012")]
    # ... or two rows.
    kits = parse_provision_output(text, zip_names=["server.zip", "a.zip", "b.zip"])
    assert [(k["zip"], k["password"]) for k in kits] == [
        ("server.zip", "server01Abcd1234"), ("a.zip", "Pqrs5678"), ("b.zip", "Wxyz9012")]


# ----------------------------------------------------------------------------- NVFlare 2.x lines and no passwords

NVFLARE2_OUTPUT = u"""Project yaml file: /workspace/project.yml.
Generated results can be found under /workspace/workspace/example_project/prod_00.
Password A1b2C3d4E5f6G7h8 on localhost.zip
Password Q9w8E7r6T5y4U3i2 on site-1.zip
Password Z1x2C3v4B5n6M7k8 on site-2.zip
Password P0o9I8u7Y6t5R4e3 on admin@nvidia.com.zip
"""
NVFLARE2_ZIPS = ["localhost.zip", "site-1.zip", "site-2.zip", "admin@nvidia.com.zip"]


def test_nvflare2_password_lines():
    result = parse_provision(NVFLARE2_OUTPUT, zip_names=NVFLARE2_ZIPS, server_name="localhost",
                             expected={"clients": ["site-1", "site-2"], "admins": ["admin@nvidia.com"]})
    assert result["source"] == "password_lines" and result["encrypted"] is True
    assert [(k["name"], k["kind"], k["password"]) for k in result["kits"]] == [
        ("localhost", "server", "A1b2C3d4E5f6G7h8"), ("site-1", "client", "Q9w8E7r6T5y4U3i2"),
        ("site-2", "client", "Z1x2C3v4B5n6M7k8"), ("admin@nvidia.com", "admin", "P0o9I8u7Y6t5R4e3")]


def test_nvflare2_needs_the_server_name():
    with pytest.raises(ProvisionOutputError, match="give server_name") as err:
        parse_provision_output(NVFLARE2_OUTPUT)
    assert "A1b2C3d4E5f6G7h8" not in str(err.value)


def test_nvflare2_garbled_line():
    text = NVFLARE2_OUTPUT.replace("Password Z1x2C3v4B5n6M7k8 on site-2.zip", "Password Z1x2C3v4B5n6M7k8 on site-2")
    with pytest.raises(ProvisionOutputError, match="site-2") as err:
        parse_provision_output(text, server_name="localhost")
    assert "Z1x2C3v4B5n6M7k8" not in str(err.value)


def test_nvflare2_line_missing_is_caught_by_zip_names():
    text = NVFLARE2_OUTPUT.replace("Password Z1x2C3v4B5n6M7k8 on site-2.zip\n", "")
    with pytest.raises(ProvisionOutputError, match="'site-2.zip' in the packages directory has no row"):
        parse_provision_output(text, zip_names=NVFLARE2_ZIPS, server_name="localhost")


def test_mixed_formats_refused(fixture_text):
    with pytest.raises(ProvisionOutputError, match="both a password table"):
        parse_provision_output(fixture_text + NVFLARE2_OUTPUT)


def test_no_passwords_requires_explicit_unencrypted():
    text = "Project yaml file: project.yml.\nGenerated results can be found under prod_00.\n"
    with pytest.raises(ProvisionOutputError, match="set encrypted to false"):
        parse_provision_output(text, zip_names=NVFLARE2_ZIPS)
    result = parse_provision(text, zip_names=NVFLARE2_ZIPS, encrypted=False, server_name="localhost")
    assert result["encrypted"] is False and result["source"] == "zip_names"
    assert all(k["password"] is None for k in result["kits"])
    assert sorted(k["zip"] for k in result["kits"]) == sorted(NVFLARE2_ZIPS)
    assert [k["name"] for k in result["kits"] if k["kind"] == "server"] == ["localhost"]
    with pytest.raises(ProvisionOutputError, match="packages directory"):
        parse_provision_output(text, encrypted=False)


def test_unencrypted_flag_contradicted_by_passwords(fixture_text):
    with pytest.raises(ProvisionOutputError, match="Set encrypted to true") as err:
        parse_provision_output(fixture_text, zip_names=FIXTURE_ZIPS, encrypted=False)
    _assert_no_password(str(err.value), _fixture_passwords(fixture_text))


def test_empty_output():
    with pytest.raises(ProvisionOutputError, match="No startup-kit passwords"):
        parse_provision_output("")
    with pytest.raises(ProvisionOutputError, match="No startup-kit passwords"):
        parse_provision_output(None)


def test_bytes_input(fixture_text):
    assert parse_provision_output(fixture_text.encode("utf-8")) == parse_provision_output(fixture_text)


# ----------------------------------------------------------------------------- the engine venv helper


def test_engine_venv_marker_tracks_the_pins(engine_venv, monkeypatch):
    assert ev._marker_ok(engine_venv)
    monkeypatch.setattr(ev, "ENGINE_DEPS", ev.ENGINE_DEPS + ("extra-pin==1.0",))
    assert not ev._marker_ok(engine_venv)  # a changed pin set means a rebuild


def test_engine_unavailable_is_reported(monkeypatch, tmp_path):
    monkeypatch.setenv("CLARAFL_CACHE", str(tmp_path))
    monkeypatch.setenv("CLARAFL_PYTHON38", str(tmp_path / "no-python"))
    with pytest.raises(ev.EngineUnavailable, match="CPython 3.8 was not found"):
        ev.ensure_engine_venv()
