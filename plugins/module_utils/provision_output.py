# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read the startup-kit passwords out of a Clara Train / NVFlare provisioner's output.

Pure functions, no Ansible imports: the module ``clarafl.federation.provision_kits``
and the unit tests share them.

Formats understood:

``clara_table``
    Clara Train 3.1 / 4.0 (``nvflare==1.0.x``) prints a Rich table with the columns
    ``Password | Zip file name | Email of recipient (if provided)``. Rich lays it out
    for the terminal width it detects (``COLUMNS`` when stdout is not a tty): headers
    wrap, and a cell that does not fit is cut with an ellipsis ``…`` (or, with
    ``overflow="fold"``, folded over several physical lines). Unicode boxes and the
    ASCII box Rich uses on non-UTF-8 consoles are both read.
``password_lines``
    NVFlare 2.0 - 2.2 (``DistributionBuilder`` with ``zip_password: true``) prints one
    ``Password <pw> on <name>.zip`` line per kit.
``zip_names``
    No passwords at all (unencrypted kits; NVFlare >= 2.3 no longer encrypts). The
    caller must say so with ``encrypted=False`` and list the kits with ``zip_names``.

The parser never guesses: a cut cell, an incomplete or unterminated table, a row that
cannot be split unambiguously, a row without its zip file or a zip file without its
row raises :class:`ProvisionOutputError` with a message that names the affected rows
and zip files and says what to do. Passwords never appear in those messages.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

ELLIPSIS = "\u2026"

# Passwords: the provisioners make 16 characters of [A-Za-z0-9]; accept any printable
# ASCII without whitespace of a sane length so that other generators still parse.
PASSWORD_RE = re.compile(r"^[\x21-\x7e]{8,128}$")
_EMAIL_RE = re.compile(r"^[^\s@]+@[^\s@]+$")
_PASSWORDISH_RE = re.compile(r"^[A-Za-z0-9]{12,128}$")
_ANSI_RE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_LINES_RE = re.compile(r"^\s*Password (\S+) on (\S.*\.zip)\s*$")
_LINES_LOOSE_RE = re.compile(r"^\s*Password \S")

_VERTICALS = "\u2502\u2503\u2551|\u254e\u254f\u2506\u2507\u250a\u250b"
_TOP_LEFT = "\u250f\u250c\u256d\u2554\u250d\u250e\u2552\u2553"
_BOTTOM_LEFT = "\u2517\u2514\u2570\u255a\u2515\u2516\u2558\u2559"
_SEP_LEFT = "\u2521\u251c\u2523\u255e\u255f\u2560\u251d\u251e\u251f\u2520\u2522"
_ASCII_BORDER_RE = re.compile(r"^\+[-=+]*\+$")
_ASCII_SEP_RE = re.compile(r"^\|[-=+|]*[-=][-=+|]*\|$")

# A logical row may span this many physical lines at most (a 64-character name
# folded into a 1-character column is already absurd).
_MAX_ROW_HEIGHT = 80

WIDER_HINT = (
    "Re-run the provisioner with a wider terminal, e.g. `COLUMNS=250 provision ...` "
    "(Rich sizes the table from COLUMNS when the output is not a terminal). With the same "
    "project.yml and the same audit file (-t) the provisioner reproduces the same keys and "
    "passwords, so nothing already deployed is invalidated."
)


class ProvisionOutputError(Exception):
    """The provisioner output cannot be read completely and unambiguously.

    ``problems`` lists the individual findings (already free of passwords).
    ``sensitive_values`` holds the password-like strings seen while parsing, so that a
    caller (an Ansible module) can add them to its no-log values before reporting.
    """

    def __init__(self, message, problems=None, sensitive_values=None):
        self.sensitive_values = frozenset(sensitive_values or ())
        message = redact(message, self.sensitive_values)
        self.problems = [redact(p, self.sensitive_values) for p in (problems or [])]
        super(ProvisionOutputError, self).__init__(message)


def redact(text, secrets):
    """Replace every occurrence of each secret (4+ characters) in text with '********'."""
    for secret in sorted(secrets or (), key=len, reverse=True):
        if secret and len(secret) >= 4:
            text = text.replace(secret, "********")
    return text


def is_valid_password(value):
    return bool(value) and PASSWORD_RE.match(value) is not None


def strip_ansi(text):
    return _ANSI_RE.sub("", text)


class _Line:
    __slots__ = ("no", "kind", "text", "cells")

    def __init__(self, no, kind, text, cells=None):
        self.no = no
        self.kind = kind
        self.text = text
        self.cells = cells


def _is_box(s):
    return bool(s) and all(0x2500 <= ord(c) <= 0x257F for c in s)


def _classify(raw):
    s = raw.strip()
    if not s:
        return "blank"
    if _is_box(s):
        if s[0] in _TOP_LEFT:
            return "top"
        if s[0] in _BOTTOM_LEFT:
            return "bottom"
        if s[0] in _SEP_LEFT:
            return "sep"
        return "other"
    if _ASCII_BORDER_RE.match(s) and "-" in s:
        return "ascii_border"
    if _ASCII_SEP_RE.match(s):
        return "sep"
    if len(s) >= 2 and s[0] in _VERTICALS and s[-1] in _VERTICALS:
        return "content"
    return "other"


def _split_cells(raw):
    s = raw.strip()
    inner = s[1:-1]
    cells = []
    cur = []
    for ch in inner:
        if ch in _VERTICALS:
            cells.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    cells.append("".join(cur))
    return cells


def _cell_text(cell):
    return cell.strip()


def _cell_full(cell):
    """True when the cell's text fills its column (Rich pads one space each side).

    Only a full line can be continued by a fold on the next physical line.
    """
    return len(cell) >= 3 and cell[-1] == " " and cell[-2] != " " and cell[0] == " "


def _find_tables(lines):
    """Return (tables, stray_rows). Each table is a dict with its lines and whether it is closed."""
    tables = []
    stray = []
    current = None
    for no, raw in enumerate(lines, 1):
        kind = _classify(raw)
        if current is None:
            if kind in ("top", "ascii_border"):
                current = {"start": no, "ascii": kind == "ascii_border", "lines": [], "closed": False,
                           "interrupted": None}
            elif kind == "content" and len(_split_cells(raw)) >= 2:
                stray.append(no)
            continue
        if current["ascii"] and kind == "ascii_border":
            kind = "bottom"
        if kind == "bottom":
            current["closed"] = True
            current["end"] = no
            tables.append(current)
            current = None
        elif kind in ("content", "sep"):
            cells = _split_cells(raw) if kind == "content" else None
            current["lines"].append(_Line(no, kind, raw, cells))
        else:
            current["interrupted"] = no
            current["end"] = no - 1
            tables.append(current)
            current = None
    if current is not None:
        current["end"] = len(lines)
        tables.append(current)
    return tables, stray


def _zip_hint(line, zip_col):
    if line.cells is None or zip_col is None or zip_col >= len(line.cells):
        return ""
    return _cell_text(line.cells[zip_col])


def _header_mapping(header_lines, ncols):
    joined = []
    for c in range(ncols):
        joined.append(" ".join(_cell_text(ln.cells[c]) for ln in header_lines if _cell_text(ln.cells[c])).lower())
    mapping = {}
    for c, text in enumerate(joined):
        if "password" in text and "pw" not in mapping:
            mapping["pw"] = c
        elif "zip" in text and "zip" not in mapping:
            mapping["zip"] = c
        elif "email" in text and "email" not in mapping:
            mapping["email"] = c
    if "pw" in mapping and "zip" in mapping:
        return mapping
    return None


def _default_mapping(ncols):
    if ncols == 3:
        return {"pw": 0, "zip": 1, "email": 2}
    if ncols == 2:
        return {"pw": 0, "zip": 1}
    return None


def _scan_rows(block, i, mapping, zip_filter):
    """Yield (j, value) for every valid logical row made of block[i:j].

    Cells are top-aligned by Rich and a cell continues on the next physical line only when
    its text fills the column (a fold), so a column is 'closed' by an empty line, by a
    line that does not fill it, or (zip column) by a complete '<name>.zip'. A non-empty
    piece in a closed column means no longer row can start at i.
    """
    cols = [c for c in (mapping["pw"], mapping["zip"], mapping.get("email")) if c is not None]
    first = block[i].cells
    if not _cell_text(first[mapping["pw"]]) or not _cell_text(first[mapping["zip"]]):
        return
    closed = dict((c, False) for c in cols)
    pieces = dict((c, []) for c in cols)
    for k in range(i, min(len(block), i + _MAX_ROW_HEIGHT)):
        cells = block[k].cells
        any_text = False
        for c in cols:
            cell = cells[c]
            text = _cell_text(cell)
            if not text:
                closed[c] = True
                continue
            any_text = True
            if closed[c] or " " in text:
                return
            pieces[c].append(text)
            if not _cell_full(cell):
                closed[c] = True
            elif c == mapping["zip"] and zip_filter is None and text.endswith(".zip"):
                # without the real zip names, a complete '<name>.zip' ends the row's zip cell
                closed[c] = True
        if not any_text:
            return
        value = _row_value(pieces, mapping, zip_filter)
        if value is not None:
            yield k + 1, value


def _row_value(pieces, mapping, zip_filter):
    pw = "".join(pieces[mapping["pw"]])
    zipname = "".join(pieces[mapping["zip"]])
    email = "".join(pieces[mapping["email"]]) if mapping.get("email") is not None else ""
    if not is_valid_password(pw):
        return None
    if not zipname.endswith(".zip") or len(zipname) <= 4:
        return None
    if email and not _EMAIL_RE.match(email):
        return None
    if zip_filter is not None and zipname not in zip_filter:
        return None
    return (pw, zipname, email)


def _segment(block, mapping, zip_filter):
    """Split a block of physical lines into logical rows.

    Returns (count, rows, reach): count is the number of valid splits (capped at 2),
    rows the split when count == 1, reach the furthest line index that a valid prefix
    of rows reaches (for diagnostics).
    """
    n = len(block)
    valid = {}
    for i in range(n):
        for j, value in _scan_rows(block, i, mapping, zip_filter):
            valid.setdefault(i, []).append((j, value))
    count = [0] * (n + 1)
    count[n] = 1
    choice = [None] * (n + 1)
    for i in range(n - 1, -1, -1):
        total = 0
        for j, value in valid.get(i, []):
            if count[j]:
                total += count[j]
                if choice[i] is None:
                    choice[i] = (j, value)
        count[i] = min(total, 2)
    reach = 0
    reachable = set([0])
    for i in range(n):
        if i in reachable:
            for j, _value in valid.get(i, []):
                reachable.add(j)
                reach = max(reach, j)
    rows = None
    if count[0] == 1:
        rows = []
        i = 0
        while i < n:
            j, (pw, zipname, email) = choice[i]
            rows.append({"password": pw, "zip": zipname, "email": email,
                         "lines": (block[i].no, block[j - 1].no)})
            i = j
    return count[0], rows, reach


def _line_range(a, b):
    return "output line %d" % a if a == b else "output lines %d-%d" % (a, b)


def _parse_table(table, zip_names):
    """Return (rows, secrets) for one closed table, or raise ProvisionOutputError."""
    body = table["lines"]
    secrets = set()
    content = [ln for ln in body if ln.kind == "content"]
    if not content:
        raise ProvisionOutputError(
            "The provisioner's password table (output lines %d-%d) has no rows: the output is incomplete "
            "or the provisioner produced no kits." % (table["start"], table["end"]))
    # Blocks of content lines between separator lines; with a header, the first block is it.
    blocks = [[]]
    for ln in body:
        if ln.kind == "sep":
            blocks.append([])
        else:
            blocks[-1].append(ln)
    header = None
    if len(blocks) > 1 and blocks[0]:
        if not any(_cell_text(c).endswith(".zip") for ln in blocks[0] for c in ln.cells):
            header = blocks[0]
            blocks = blocks[1:]
    blocks = [b for b in blocks if b]
    # Whatever could be a password, wherever a garbled row put it, is kept out of messages.
    for ln in (ln for b in blocks for ln in b):
        for i, cell in enumerate(ln.cells):
            text = _cell_text(cell).rstrip(ELLIPSIS).strip()
            if text and (i == 0 or _PASSWORDISH_RE.match(text)):
                secrets.add(text)
    ncols = len(content[0].cells)
    for ln in content:
        if len(ln.cells) != ncols:
            raise ProvisionOutputError(
                "The provisioner's password table is garbled at output line %d: it has %d cells where the "
                "table has %d columns. Use the unmodified output of the provisioner. %s"
                % (ln.no, len(ln.cells), ncols, WIDER_HINT), sensitive_values=secrets)
    mapping = _header_mapping(header, ncols) if header else None
    if mapping is None:
        mapping = _default_mapping(ncols)
    if mapping is None:
        raise ProvisionOutputError(
            "The provisioner's table at output lines %d-%d has %d columns and no recognizable "
            "'Password' / 'Zip file name' header: this is not the Clara Train startup-kit table."
            % (table["start"], table["end"], ncols), sensitive_values=secrets)
    if not blocks:
        raise ProvisionOutputError(
            "The provisioner's password table (output lines %d-%d) has a header but no rows: the output is "
            "incomplete or the provisioner produced no kits." % (table["start"], table["end"]))
    for ln in (ln for b in blocks for ln in b):
        pw_text = _cell_text(ln.cells[mapping["pw"]]).rstrip(ELLIPSIS).strip()
        if pw_text:
            secrets.add(pw_text)
    # Any cut cell makes the table unusable: a truncated password cannot be recovered.
    cut = []
    names = {"pw": "password", "zip": "zip name", "email": "email"}
    for ln in (ln for b in blocks for ln in b):
        which = [names[k] for k in ("pw", "zip", "email")
                 if mapping.get(k) is not None and ELLIPSIS in ln.cells[mapping[k]]]
        if which or any(ELLIPSIS in c for c in ln.cells):
            cut.append((ln, which or ["a cell"]))
    if cut:
        rows_desc = "; ".join(
            "output line %d, zip %r: %s cut" % (ln.no, _zip_hint(ln, mapping["zip"]), " and ".join(which))
            for ln, which in cut)
        raise ProvisionOutputError(
            "The provisioner's password table was cut to fit a narrow terminal: %d row(s) have cells "
            "ending in an ellipsis, so their passwords or zip names are incomplete: %s. %s"
            % (len(cut), rows_desc, WIDER_HINT),
            problems=["cut row at output line %d" % ln.no for ln, _which in cut], sensitive_values=secrets)
    rows = []
    for block in blocks:
        count, seg, reach = 0, None, 0
        if zip_names is not None:
            # The real zip names decide where wrapped rows end; fall back to the
            # plain split only when no split matches them (a row then lacks its zip,
            # which the cross-check reports by name).
            count, seg, reach = _segment(block, mapping, zip_names)
        if count == 0:
            count, seg, reach = _segment(block, mapping, None)
        if count == 1:
            rows.extend(seg)
            continue
        first, last = block[0].no, block[-1].no
        zips = [_zip_hint(ln, mapping["zip"]) for ln in block if _zip_hint(ln, mapping["zip"])]
        if count == 0:
            bad = block[reach] if reach < len(block) else block[-1]
            raise ProvisionOutputError(
                "The provisioner's password table cannot be read completely: %s cannot be split into "
                "complete rows (Password, Zip file name, Email). The first line that does not fit is output "
                "line %d (zip cell %r). A row is garbled, misaligned or cut (wrapped over lines that are "
                "missing). Zip cells seen in this part: %s. Use the complete, unmodified provisioner "
                "output. %s" % (_line_range(first, last), bad.no, _zip_hint(bad, mapping["zip"]),
                                ", ".join(zips) or "none", WIDER_HINT),
                problems=["unreadable rows at %s" % _line_range(first, last)], sensitive_values=secrets)
        raise ProvisionOutputError(
            "The provisioner's password table is ambiguous at %s: its wrapped cells can be joined into "
            "rows in more than one way (zip cells seen: %s). Give the list of produced zip files "
            "(packages_dir / zip_names) so the rows can be matched, or: %s"
            % (_line_range(first, last), ", ".join(zips) or "none", WIDER_HINT),
            problems=["ambiguous rows at %s" % _line_range(first, last)], sensitive_values=secrets)
    folded = [r for r in rows if r["lines"][0] != r["lines"][1]]
    lengths = sorted(set(len(r["password"]) for r in rows))
    if folded and zip_names is None and len(lengths) > 1:
        # Provisioners make passwords of one length; differing lengths after joining
        # folded cells mean the rows were probably split in the wrong places.
        raise ProvisionOutputError(
            "The provisioner's password table has cells folded over several lines (%s) and joining them gives "
            "passwords of differing lengths (%s characters), so the rows cannot be proven right. Give the list "
            "of produced zip files (packages_dir / zip_names) so the rows can be matched, or: %s"
            % (", ".join(_line_range(*r["lines"]) for r in folded), "/".join(str(n) for n in lengths),
               WIDER_HINT),
            problems=["folded rows with differing password lengths"], sensitive_values=secrets)
    for r in rows:
        secrets.add(r["password"])
    return rows, secrets


def _last_traceback_line(lines):
    seen = False
    last = None
    for raw in lines:
        if raw.startswith("Traceback (most recent call last)"):
            seen = True
            continue
        if seen and raw and not raw.startswith(" ") and ":" in raw:
            last = raw.strip()
    return last if seen else None


def _find_table_rows(lines, zip_names):
    tables, stray = _find_tables(lines)
    if not tables:
        if stray:
            raise ProvisionOutputError(
                "The provisioner output holds table rows (output lines %d-%d) but no table top border: the "
                "output was cut at the beginning. Capture the complete output. %s"
                % (stray[0], stray[-1], WIDER_HINT))
        return None, set()
    if len(tables) > 1:
        raise ProvisionOutputError(
            "The provisioner output holds %d tables (starting at output lines %s); expected exactly one "
            "password table. Give the output of one provisioner run only."
            % (len(tables), ", ".join(str(t["start"]) for t in tables)))
    table = tables[0]
    if not table["closed"]:
        try:
            partial = _parse_table(table, None)[1]
        except ProvisionOutputError as exc:
            partial = exc.sensitive_values
        if table["interrupted"]:
            msg = ("The provisioner's password table starting at output line %d is interrupted at output "
                   "line %d by a line that is not part of the table: the output is truncated or garbled, "
                   "it lacks the table's closing border." % (table["start"], table["interrupted"]))
        else:
            msg = ("The provisioner output is truncated: the password table starting at output line %d "
                   "lacks its closing border (the output ends at line %d), so rows may be missing."
                   % (table["start"], table["end"]))
        raise ProvisionOutputError(
            msg + " Capture the complete provisioner output (e.g. with output_file) and try again.",
            sensitive_values=partial)
    if stray:
        raise ProvisionOutputError(
            "The provisioner output holds table-like rows outside the password table (output lines %s): "
            "it is garbled. Use the unmodified output of one provisioner run." % ", ".join(map(str, stray)))
    return _parse_table(table, zip_names)


def _find_password_lines(lines):
    rows = []
    secrets = set()
    problems = []
    for no, raw in enumerate(lines, 1):
        m = _LINES_RE.match(raw)
        if m:
            pw, zipname = m.group(1), m.group(2).strip()
            secrets.add(pw)
            if not is_valid_password(pw):
                problems.append("output line %d (zip %r) has an invalid password" % (no, zipname))
            elif ELLIPSIS in zipname or ELLIPSIS in pw:
                problems.append("output line %d (zip %r) is cut with an ellipsis" % (no, zipname))
            rows.append({"password": pw, "zip": zipname, "email": "", "lines": (no, no)})
        elif _LINES_LOOSE_RE.match(raw) and " on " in raw:
            # a 'Password ... on ...' line we cannot read exactly is a garbled kit line
            tail = raw.split(" on ", 1)[1].strip()
            secrets.add(raw.split()[1] if len(raw.split()) > 1 else "")
            problems.append("output line %d (kit %r) does not read as 'Password <password> on <name>.zip'"
                            % (no, tail))
    if problems:
        raise ProvisionOutputError(
            "The provisioner's 'Password ... on ....zip' lines cannot be read: " + "; ".join(problems)
            + ". Use the complete, unmodified provisioner output.", problems=problems, sensitive_values=secrets)
    return rows, secrets


def _zip_basenames(zip_names):
    if zip_names is None:
        return None
    names = set()
    for z in zip_names:
        b = os.path.basename(str(z).rstrip("/"))
        if b.endswith(".zip"):
            names.add(b)
    return names


def _norm_list(values):
    if values is None:
        return None
    return [str(v) for v in values]


def _classify_kits(rows, source, zip_set, expected, server_name, secrets):
    problems = []
    expected = dict(expected or {})
    exp_clients = _norm_list(expected.get("clients"))
    exp_admins = _norm_list(expected.get("admins"))
    # Sites the audit file knows but the project no longer lists: the tool still makes their kits.
    former = set(_norm_list(expected.get("former_clients")) or [])
    wanted_server = server_name or expected.get("server")

    # Duplicates first: a zip listed twice means a duplicated or corrupted row.
    by_zip = {}
    for r in rows:
        by_zip.setdefault(r["zip"], []).append(r)
    for z, rs in sorted(by_zip.items()):
        if len(rs) > 1:
            problems.append("zip %r is listed %d times (%s): duplicated or corrupted rows"
                            % (z, len(rs), ", ".join(_line_range(*r["lines"]) for r in rs if r.get("lines"))))

    names = [r["zip"][:-4] for r in rows]
    server = None
    if source == "clara_table" and "server" in names:
        server = "server"  # Clara 3.1/4.0 always name the server kit server.zip
    elif wanted_server and wanted_server in names:
        server = wanted_server
    elif source != "password_lines" and "server" in names:
        server = "server"
    if server is None:
        if wanted_server:
            problems.append("no kit for the server %r (looked for %r and 'server.zip')"
                            % (wanted_server, wanted_server + ".zip"))
        else:
            problems.append("cannot tell which kit is the server's: give server_name (the server's cn / kit name)")

    if exp_clients is not None and exp_admins is not None:
        both = sorted(set(exp_clients) & set(exp_admins))
        if both:
            problems.append("names expected both as client and admin: %s" % ", ".join(both))

    kits = []
    for r, name in zip(rows, names):
        email = r.get("email") or None
        if name == server:
            kind = "server"
        elif exp_admins is not None and name in exp_admins:
            kind = "admin"
        elif (exp_clients is not None and name in exp_clients) or name in former:
            kind = "client"
        elif "@" in name:
            kind = "admin"
        else:
            kind = "client"
        if kind == "admin" and email and "@" in name and email != name:
            problems.append("row for %r (%s) names the recipient %r, not the admin itself: garbled row"
                            % (r["zip"], _line_range(*r["lines"]), email))
        if kind == "client" and exp_clients is not None and name not in exp_clients and name not in former:
            problems.append("unexpected client kit %r (not in the expected clients)" % r["zip"])
        if kind == "admin" and exp_admins is not None and name not in exp_admins:
            problems.append("unexpected admin kit %r (not in the expected admins)" % r["zip"])
        kit = {"name": name, "zip": r["zip"], "password": r["password"], "email": email, "kind": kind}
        if kind == "client" and name in former and name not in (exp_clients or []):
            kit["former"] = True
        kits.append(kit)

    present = set(names)
    for c in exp_clients or []:
        if c not in present:
            problems.append("expected client %r has no kit (%r) in the provisioner output" % (c, c + ".zip"))
    for a in exp_admins or []:
        if a not in present:
            problems.append("expected admin %r has no kit (%r) in the provisioner output" % (a, a + ".zip"))

    if zip_set is not None:
        listed = set(by_zip)
        for z in sorted(listed - zip_set):
            problems.append("row for %r has no such zip file in the packages directory" % z)
        for z in sorted(zip_set - listed):
            problems.append("zip file %r in the packages directory has no row (no password) in the output" % z)

    if problems:
        raise ProvisionOutputError(
            "The provisioner output does not match what was expected:\n - " + "\n - ".join(problems)
            + "\nCheck that the output, the packages directory and the expected participants come from the "
            "same provisioner run; re-run the provisioner if they do not.",
            problems=problems, sensitive_values=secrets)
    return kits


def parse_provision(text, zip_names=None, expected=None, server_name=None, encrypted=None):
    """Parse provisioner output into kits.

    :arg text: the provisioner's combined stdout/stderr (str).
    :arg zip_names: names or paths of the ``*.zip`` files actually produced, or None to skip
        the cross-check. Every row needs its zip and every zip its row.
    :arg expected: optional ``{'server': cn, 'clients': [...], 'admins': [...]}``; given lists
        are cross-checked (each exactly once, nothing unexpected).
    :arg server_name: the server's kit name or cn (defaults to ``expected['server']``). The
        Clara 3.1/4.0 table always calls the server kit ``server.zip``.
    :arg encrypted: True: passwords are required; False: the kits are unencrypted, the output
        must hold no passwords and ``zip_names`` lists the kits; None: passwords are required
        too (an output without passwords is an error unless the caller says False).
    :returns: dict ``{'kits': [...], 'encrypted': bool, 'source': str}`` where each kit is
        ``{'name', 'zip', 'password', 'email', 'kind'}`` and source is one of
        ``clara_table``, ``password_lines``, ``zip_names``.
    :raises ProvisionOutputError: whenever the result could be incomplete or wrong.
    """
    if text is None:
        text = ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    lines = strip_ansi(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    zip_set = _zip_basenames(zip_names)

    table_rows, table_secrets = _find_table_rows(lines, zip_set)
    line_rows, line_secrets = _find_password_lines(lines)
    secrets = set(table_secrets) | set(line_secrets)

    if table_rows is not None and line_rows:
        raise ProvisionOutputError(
            "The provisioner output holds both a password table and 'Password ... on ....zip' lines: it mixes "
            "the output of several runs or tools. Give the output of one provisioner run only.",
            sensitive_values=secrets)
    if table_rows is not None:
        rows, source = table_rows, "clara_table"
    elif line_rows:
        rows, source = line_rows, "password_lines"
    else:
        rows, source = None, "zip_names"

    if encrypted is False:
        if rows is not None:
            raise ProvisionOutputError(
                "encrypted=false was given, but the provisioner output lists passwords for %d kit(s): the kits "
                "are encrypted. Set encrypted to true." % len(rows), sensitive_values=secrets)
        if not zip_set:
            raise ProvisionOutputError(
                "encrypted=false: the kits must then be listed from the packages directory (packages_dir / "
                "zip_names), and none was found. Point packages_dir at the provisioner's output directory.")
        rows = [{"password": None, "zip": z, "email": "", "lines": None} for z in sorted(zip_set)]
    elif rows is None:
        hint = ""
        tb = _last_traceback_line(lines)
        if tb:
            hint = " The provisioner failed: %s." % tb
            if "UnicodeEncodeError" in tb:
                hint += " Run it with PYTHONIOENCODING=utf-8 (Rich could not print the table)."
        raise ProvisionOutputError(
            "No startup-kit passwords were found in the provisioner output (neither the Clara Train password "
            "table nor 'Password ... on ....zip' lines).%s If the kits are deliberately unencrypted (NVFlare >= "
            "2.3, or zip_password: false), set encrypted to false; otherwise capture the complete output of "
            "the provisioner run." % hint, sensitive_values=secrets)

    if not rows:
        raise ProvisionOutputError("The provisioner output lists no kits.", sensitive_values=secrets)
    kits = _classify_kits(rows, source, zip_set, expected, server_name, secrets)
    return {"kits": kits, "encrypted": source != "zip_names", "source": source}


def parse_provision_output(text, zip_names=None, expected=None, server_name=None, encrypted=None):
    """Return the list of kits ``{name, zip, password, email, kind}``; see :func:`parse_provision`."""
    return parse_provision(text, zip_names=zip_names, expected=expected, server_name=server_name,
                           encrypted=encrypted)["kits"]
