# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Extract a password-protected provisioner startup kit (a zip) safely, atomically and
idempotently. Pure standard library (Python 3.8+); ``pyzipper`` is used when importable
for WinZip-AES archives.

What is managed
    The *managed entries* are the top-level names the archive holds (``startup/`` for a
    Clara Train kit). Each managed entry is replaced as a whole, so files under it that
    the archive does not hold are removed (reported in ``removed``). Anything else in
    ``dest`` (the engine's run folders, logs, ...) is left alone.

How it stays safe
    Every member name is checked first (no absolute paths, no ``..``, no symlinks or
    device members, nothing that resolves outside ``dest``, no duplicates). The whole
    archive is then read once without writing anything: the password is checked and
    every member's CRC (and, for AES, its HMAC) verified. Only then, and only if
    something differs, the archive is extracted into a private staging directory (inside
    ``dest``, or beside it when ``dest`` does not exist yet, so renames stay on one file
    system), modes and owners are set there, and each changed managed entry is swapped
    into place with ``rename``. A wrong password, a corrupt or a truncated archive
    therefore leaves ``dest`` exactly as it was.

How it stays bounded
    Before anything is read, an archive with more members than ``max_members``, more bytes
    uncompressed than ``max_size``, or a compression ratio over ``max_ratio`` (the whole
    archive's, or that of a member above 1 MiB) is refused (reason ``limit``): a kit is a few
    dozen files, well under 1 MiB. So is a member compressed otherwise than stored or deflated
    (reason ``unsupported``): zipfile decompresses bzip2 and LZMA without bounding the output of
    a read. Declared sizes can lie, so every read also counts the bytes really decompressed and
    stops as soon as a member holds more than it declares (reason ``corrupt``) or the running
    total passes ``max_size`` - before the byte is written, and the staging directory goes as on
    any other failure.

Mode policy (documented in the kit_extract module too)
    * ``dest`` itself: ``mode`` (default ``0755``).
    * private keys - ``*.key`` files and any file holding a PEM ``PRIVATE KEY`` block
      (e.g. ``*.pem``): ``private_mode`` (default ``0600``).
    * a directory that directly holds a private key: ``private_mode`` plus an execute
      bit for each read bit (``0600`` -> ``0700``, ``0640`` -> ``0750``).
    * ``*.sh`` files and files stored with an owner-execute bit: ``0755``.
    * other files ``0644``, other directories ``0755``.
    * with ``owner`` / ``group``, every extracted entry and ``dest`` get them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import errno
import grp
import hashlib
import json
import os
import pwd
import re
import shutil
import stat
import tempfile
import zipfile

try:
    import pyzipper  # optional: WinZip-AES support
except ImportError:  # pragma: no cover - depends on the host
    pyzipper = None

AES_COMPRESS_TYPE = 99
STAGING_PREFIX = ".clarafl-kit-staging-"
DEFAULT_ROOT_MODE = 0o755
DEFAULT_PRIVATE_MODE = 0o600
DIR_MODE = 0o755
FILE_MODE = 0o644
EXEC_MODE = 0o755
_CHUNK = 1024 * 256
_ROOM = 2 * _CHUNK  # see _with_room
KEEP_LIMIT = 64 * 1024 * 1024
_PEM_PRIVATE_RE = re.compile(br"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
# Caps on what an archive may hold (the kit_extract options max_size, max_members, max_ratio): a startup
# kit is a few dozen files, well under 1 MiB; anything far beyond is refused before a byte is written.
DEFAULT_MAX_SIZE = 256 * 1024 * 1024
DEFAULT_MAX_MEMBERS = 2000
DEFAULT_MAX_RATIO = 200
RATIO_MEMBER_FLOOR = 1024 * 1024  # a member's own compression ratio counts from this size on
# zipfile decompresses bzip2 and LZMA without a bound on the output of one read: a few KiB of a member that
# lies about its size can become GiBs in memory before a byte can be counted. Kits are stored or deflated.
_BOUNDED_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_METHOD_NAMES = {9: "deflate64", 12: "bzip2", 14: "LZMA", 93: "zstandard", 95: "xz"}


class KitArchiveError(Exception):
    """An archive cannot be extracted. ``reason`` is a short machine-readable word:
    missing, not_zip, truncated, corrupt, wrong_password, password_required,
    aes_unsupported, unsupported, unsafe_member, limit, bad_argument, io, owner."""

    def __init__(self, message, reason):
        super(KitArchiveError, self).__init__(message)
        self.reason = reason


# ----------------------------------------------------------------------------- helpers

def parse_mode(value, name="mode"):
    """Accept an int (already numeric, as YAML 0755 gives) or an octal string ('0700', '700', '0o700')."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise KitArchiveError("%s must be an octal mode such as '0755', not a boolean" % name, "bad_argument")
    if isinstance(value, int):
        mode = value
    else:
        text = str(value).strip().lower()
        if text.startswith("0o"):
            text = text[2:]
        if not text or any(c not in "01234567" for c in text):
            raise KitArchiveError("%s %r is not an octal mode such as '0755'" % (name, value), "bad_argument")
        mode = int(text, 8)
    if mode < 0 or mode > 0o7777:
        raise KitArchiveError("%s %r is out of range (0000-7777)" % (name, value), "bad_argument")
    return mode


def parse_limit(value, name, default):
    """A cap (max_size, max_members, max_ratio): a whole number of 1 or more; None gives the default."""
    if value is None:
        return default
    text = str(value).strip()
    if isinstance(value, bool) or not re.match(r"^[0-9]+$", text) or int(text) < 1:
        raise KitArchiveError("%s must be a whole number of 1 or more, such as %d, not %r" % (name, default, value),
                              "bad_argument")
    return int(text)


def _fmt_size(size):
    """A byte count for people: 2147483648 -> '2 GiB', 2202009 -> '2.1 MiB', 12 -> '12 bytes'."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            if size % scale == 0:
                return "%d %s" % (size // scale, unit)
            return "%.1f %s" % (size / scale, unit)
    return "%d byte%s" % (size, "" if size == 1 else "s")


def _ratio(size, packed):
    """Uncompressed / compressed; unbounded when something comes out of nothing."""
    if packed <= 0:
        return float("inf") if size > 0 else 0.0
    return size / packed


def _fmt_ratio(ratio):
    return "unbounded ratio" if ratio == float("inf") else "ratio %d:1" % ratio


def _check_limits(src, infos, max_size, max_members, max_ratio):
    """Refuse, by the zip directory alone (nothing read or written yet), an archive that holds far
    more than a startup kit: too many members, too many bytes uncompressed, or a compression ratio
    only a zip bomb has (the whole archive's, or a member's above RATIO_MEMBER_FLOOR)."""
    if len(infos) > max_members:
        raise KitArchiveError(
            "archive %s holds %d members, over max_members %d: this is not a startup kit; raise max_members if "
            "it really is one" % (src, len(infos), max_members), "limit")
    for info in infos:
        if info.compress_type not in _BOUNDED_METHODS and not _is_dir_member(info):
            raise KitArchiveError(
                "archive %s member %r is compressed with %s, which is refused because its output cannot be bounded "
                "while it is read (a crafted member could exhaust this host's memory); startup kits are deflated, "
                "as zip -P makes them, so make this zip again with zip"
                % (src, info.filename, _METHOD_NAMES.get(info.compress_type, "method %d" % info.compress_type)),
                "unsupported")
    size = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos)
    if size > max_size:
        raise KitArchiveError(
            "archive %s declares %s uncompressed, over max_size %d (%s): this is not a startup kit; raise max_size "
            "if it really is one" % (src, _fmt_size(size), max_size, _fmt_size(max_size)), "limit")
    for info in infos:
        ratio = _ratio(info.file_size, info.compress_size)
        if info.file_size > RATIO_MEMBER_FLOOR and ratio > max_ratio:
            raise KitArchiveError(
                "archive %s member %r declares %s uncompressed from %s compressed (%s), over max_ratio %d: this "
                "is a zip bomb, not a startup kit; raise max_ratio if it really is one"
                % (src, info.filename, _fmt_size(info.file_size), _fmt_size(info.compress_size), _fmt_ratio(ratio),
                   max_ratio), "limit")
    ratio = _ratio(size, packed)
    if ratio > max_ratio:
        raise KitArchiveError(
            "archive %s declares %s uncompressed from %s compressed (%s), over max_ratio %d: this is a zip bomb, "
            "not a startup kit; raise max_ratio if it really is one"
            % (src, _fmt_size(size), _fmt_size(packed), _fmt_ratio(ratio), max_ratio), "limit")


def _with_room(info):
    """A copy of info that lets zipfile decompress past the member's declared size.

    zipfile stops a member at the size its header declares and checks the CRC right there, so a
    member that holds more than it declares would surface as a bare CRC error, or, with a CRC
    that matches the cut data, as a cut file. With room for more than one read (_CHUNK, plus what
    zipfile buffers), the byte count in _Archive.stream sees the excess first and says what it is.
    """
    roomy = copy.copy(info)
    roomy.file_size = info.file_size + _ROOM
    return roomy


def private_dir_mode(private_mode):
    """Directory mode that matches a private file mode: add x wherever r is set."""
    mode = private_mode | 0o700
    if private_mode & 0o040:
        mode |= 0o010
    if private_mode & 0o004:
        mode |= 0o001
    return mode & 0o7777


def resolve_uid(owner):
    if owner is None or owner == "":
        return None
    text = str(owner)
    try:
        return pwd.getpwnam(text).pw_uid
    except KeyError:
        if text.isdigit():
            return int(text)
    raise KitArchiveError("owner %r is not a user on this host (and not a numeric uid)" % text, "owner")


def resolve_gid(group):
    if group is None or group == "":
        return None
    text = str(group)
    try:
        return grp.getgrnam(text).gr_gid
    except KeyError:
        if text.isdigit():
            return int(text)
    raise KitArchiveError("group %r is not a group on this host (and not a numeric gid)" % text, "owner")


def _fmt_mode(mode):
    return "%04o" % mode


def _member_type(info):
    return stat.S_IFMT(info.external_attr >> 16)


def _is_dir_member(info):
    return info.filename.endswith("/") or _member_type(info) == stat.S_IFDIR


def _safe_parts(info, dest):
    """Return the member's path components, or raise naming the unsafe member."""
    name = info.filename
    shown = repr(name)
    if "\x00" in name:
        raise KitArchiveError("unsafe member %s: the name holds a NUL byte" % shown, "unsafe_member")
    if name.startswith("/") or name.startswith("\\") or re.match(r"^[A-Za-z]:", name):
        raise KitArchiveError("unsafe member %s: absolute path" % shown, "unsafe_member")
    if "\\" in name:
        raise KitArchiveError("unsafe member %s: backslash in the name (ambiguous path separator)" % shown,
                              "unsafe_member")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise KitArchiveError("unsafe member %s: '..' in the path would leave the destination" % shown,
                              "unsafe_member")
    if not parts:
        raise KitArchiveError("unsafe member %s: empty path" % shown, "unsafe_member")
    if STAGING_PREFIX in parts[0]:
        raise KitArchiveError("unsafe member %s: the name is reserved for the extraction's staging directory"
                              % shown, "unsafe_member")
    ftype = _member_type(info)
    if ftype == stat.S_IFLNK:
        raise KitArchiveError("unsafe member %s: symbolic link (kits hold regular files only)" % shown,
                              "unsafe_member")
    if ftype not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise KitArchiveError("unsafe member %s: special file (device, FIFO or socket)" % shown, "unsafe_member")
    root = os.path.abspath(dest)
    target = os.path.normpath(os.path.join(root, *parts))
    if not target.startswith(root.rstrip(os.sep) + os.sep):
        raise KitArchiveError("unsafe member %s: it resolves outside the destination" % shown, "unsafe_member")
    return parts


def _classify_open_failure(src):
    """Why zipfile could not open src: truncated, or corrupt / not a zip."""
    try:
        size = os.path.getsize(src)
        with open(src, "rb") as fh:
            head = fh.read(4)
    except OSError:
        size, head = 0, b""
    if size == 0:
        return "truncated", "the file is empty (0 bytes): the copy is truncated"
    if head == b"PK\x03\x04":
        return ("truncated", "it starts like a zip archive but its end-of-archive record is missing: the file "
                "is truncated (an interrupted copy or download)")
    return "not_zip", "it is not a zip archive (no zip signature)"


# ----------------------------------------------------------------------------- archive reading

class _Archive:
    """Open src with the right zip implementation and check its size, names and encryption."""

    def __init__(self, src, dest, password, max_size=DEFAULT_MAX_SIZE, max_members=DEFAULT_MAX_MEMBERS,
                 max_ratio=DEFAULT_MAX_RATIO):
        self.src = src
        self.max_size = max_size
        if not os.path.exists(src):
            raise KitArchiveError("archive %s does not exist on this host" % src, "missing")
        if not os.path.isfile(src):
            raise KitArchiveError("archive %s is not a regular file" % src, "missing")
        try:
            probe = zipfile.ZipFile(src)
        except zipfile.BadZipFile as exc:
            if "not a zip file" in str(exc):
                reason, why = _classify_open_failure(src)
            else:
                reason, why = "corrupt", "its zip directory is damaged (%s): the archive is corrupt" % exc
            raise KitArchiveError("cannot read archive %s: %s. Copy the kit again from the provisioner."
                                  % (src, why), reason)
        except (OSError, EOFError, ValueError) as exc:
            raise KitArchiveError("cannot read archive %s: %s" % (src, exc), "io")
        infos = probe.infolist()
        self.aes = any(i.compress_type == AES_COMPRESS_TYPE for i in infos)
        self.encrypted = any(i.flag_bits & 0x1 for i in infos)
        if self.aes:
            probe.close()
            if pyzipper is None:
                raise KitArchiveError(
                    "archive %s is AES-encrypted (WinZip AES); Python's zipfile reads only ZipCrypto. Install "
                    "the Python package pyzipper on this host (pip install pyzipper) and try again." % src,
                    "aes_unsupported")
            self.zf = pyzipper.AESZipFile(src)
            self.infos = self.zf.infolist()
        else:
            self.zf = probe
            self.infos = infos
        self.encryption = "aes" if self.aes else ("zipcrypto" if self.encrypted else "none")
        try:
            _check_limits(src, self.infos, max_size, max_members, max_ratio)
            self.members = self._check_members(dest)
        except BaseException:
            self.close()
            raise
        if self.encrypted and not password:
            self.close()
            raise KitArchiveError(
                "archive %s is password-protected and no password was given: pass the kit's password "
                "(from the provisioner's output)." % src, "password_required")
        self.pwd = password.encode("utf-8") if (password and self.encrypted) else None
        # Members read once are kept (kits are small): decrypting ZipCrypto in pure Python is slow,
        # and extraction reads every member twice (verify, then write).
        self._kept = {}
        self._keep_budget = KEEP_LIMIT
        # Bytes really decompressed, per member (its last read) and all together: declared sizes can lie.
        self._counted = {}
        self._counted_total = 0

    def _check_members(self, dest):
        """Every member's safe path; raise naming the first unsafe or conflicting member."""
        members = []
        seen = {}
        for info in self.infos:
            parts = _safe_parts(info, dest)
            rel = "/".join(parts)
            is_dir = _is_dir_member(info)
            if rel in seen:
                if is_dir and seen[rel]:
                    continue  # the same directory twice is harmless
                raise KitArchiveError("unsafe member %r: the path %r appears more than once in the archive"
                                      % (info.filename, rel), "unsafe_member")
            seen[rel] = is_dir
            members.append((info, parts, rel, is_dir))
        for info, parts, rel, is_dir in members:
            for k in range(1, len(parts)):
                parent = "/".join(parts[:k])
                if seen.get(parent) is False:
                    raise KitArchiveError("unsafe member %r: its parent %r is a file in the archive"
                                          % (info.filename, parent), "unsafe_member")
        if not members:
            raise KitArchiveError("archive %s is empty" % self.src, "corrupt")
        return members

    def close(self):
        try:
            self.zf.close()
        except Exception:  # pylint: disable=broad-except
            pass

    def check_password(self):
        """Open every encrypted member: all fail -> wrong password; a minority fails -> corrupt."""
        if not self.pwd:
            return
        ok = bad = 0
        for info, _parts, _rel, is_dir in self.members:
            if is_dir or not info.flag_bits & 0x1:
                continue
            try:
                with self.zf.open(info, pwd=self.pwd):
                    ok += 1
            except RuntimeError as exc:
                if "password" not in str(exc).lower():
                    raise self._read_error(info, exc)
                bad += 1
            except Exception as exc:  # pylint: disable=broad-except
                raise self._read_error(info, exc)
        if bad and bad >= ok:
            raise KitArchiveError(
                "wrong password for archive %s: the password check failed for %d of %d encrypted members. Use the "
                "password the provisioner printed for this kit's zip (each kit has its own)."
                % (self.src, bad, ok + bad), "wrong_password")
        if bad:
            raise KitArchiveError(
                "archive %s is corrupt: %d of %d encrypted members fail the password check while the others pass "
                "(damaged member headers). Copy the kit again from the provisioner." % (self.src, bad, ok + bad),
                "corrupt")

    def _read_error(self, info, exc):
        text = str(exc)
        if isinstance(exc, NotImplementedError):
            return KitArchiveError("archive %s member %r uses an unsupported compression or encryption (%s)"
                                   % (self.src, info.filename, text), "unsupported")
        if isinstance(exc, RuntimeError) and "password" in text.lower():
            return KitArchiveError("wrong password for archive %s (member %r)" % (self.src, info.filename),
                                   "wrong_password")
        if isinstance(exc, EOFError) or "truncated" in text.lower():
            return KitArchiveError(
                "archive %s is truncated or corrupt: member %r ends early (%s). Copy the kit again from the "
                "provisioner." % (self.src, info.filename, text or exc.__class__.__name__), "truncated")
        return KitArchiveError(
            "archive %s is corrupt: member %r fails its integrity check (%s). Copy the kit again from the "
            "provisioner." % (self.src, info.filename, text or exc.__class__.__name__), "corrupt")

    def _chunks(self, info):
        """The member's bytes in chunks: from memory when it was read before, else decrypted."""
        kept = self._kept.get(info.filename)
        if kept is not None:
            for start in range(0, len(kept), _CHUNK):
                yield kept[start:start + _CHUNK]
            return
        keep = info.file_size <= self._keep_budget
        parts = []
        with self.zf.open(_with_room(info), pwd=self.pwd) as fh:
            while True:
                chunk = fh.read(_CHUNK)
                if not chunk:
                    break
                if keep:
                    parts.append(chunk)
                yield chunk
        # Kept only once read to the end, that is, once zipfile has verified its CRC.
        if keep:
            self._kept[info.filename] = b"".join(parts)
            self._keep_budget -= info.file_size

    def stream(self, info, sink=None):
        """Read a member to the end (CRC/HMAC verified by zipfile), feeding sink; return (sha256, private).

        The bytes are counted as they come, before sink sees them: a member that holds more than
        it declares, or a running total over max_size, stops the read there.
        """
        digest = hashlib.sha256()
        tail = b""
        private = False
        others = self._counted_total - self._counted.pop(info.filename, 0)
        self._counted_total = others
        count = 0
        chunks = self._chunks(info)
        try:
            for chunk in chunks:
                count += len(chunk)
                self._check_count(info, count, others + count)
                digest.update(chunk)
                if not private and _PEM_PRIVATE_RE.search(tail + chunk):
                    private = True
                tail = chunk[-64:]
                if sink is not None:
                    try:
                        sink(chunk)
                    except (OSError, IOError) as exc:
                        raise KitArchiveError("cannot write while extracting %s: %s" % (self.src, exc), "io")
        except KitArchiveError:
            raise
        except Exception as exc:  # pylint: disable=broad-except
            # zipfile/pyzipper raise BadZipFile, zlib.error, EOFError, RuntimeError, ... for damaged data
            raise self._read_error(info, exc)
        finally:
            chunks.close()
        self._counted[info.filename] = count
        self._counted_total = others + count
        return digest.hexdigest(), private

    def _check_count(self, info, count, total):
        if count > info.file_size:
            raise KitArchiveError(
                "archive %s member %r holds more than the %s its header declares: the archive's sizes lie (a zip "
                "bomb or a damaged archive), so it is refused and nothing of it is kept; copy the kit again from the "
                "provisioner" % (self.src, info.filename, _fmt_size(info.file_size)), "corrupt")
        if total > self.max_size:
            raise KitArchiveError(
                "archive %s holds more than max_size %d (%s) uncompressed although it declares less (member %r): "
                "this is not a startup kit; raise max_size if it really is one"
                % (self.src, self.max_size, _fmt_size(self.max_size), info.filename), "limit")


# ----------------------------------------------------------------------------- desired state

def _desired_state(archive, private_mode, uid, gid):
    """Read the whole archive (no writes) and return {rel: entry} with modes decided."""
    entries = {}
    for info, parts, rel, is_dir in archive.members:
        for k in range(1, len(parts)):
            parent = "/".join(parts[:k])
            entries.setdefault(parent, {"type": "dir", "info": None})
        if is_dir:
            entries[rel] = {"type": "dir", "info": info}
            continue
        sha, private = archive.stream(info)
        name = parts[-1]
        private = private or name.endswith(".key")
        entries[rel] = {"type": "file", "info": info, "sha256": sha, "size": info.file_size, "private": private}
    private_dirs = set()
    for rel, e in entries.items():
        if e["type"] == "file" and e["private"]:
            private_dirs.add(rel.rsplit("/", 1)[0] if "/" in rel else "")
    for rel, e in entries.items():
        if e["type"] == "dir":
            e["mode"] = private_dir_mode(private_mode) if rel in private_dirs else DIR_MODE
        elif e["private"]:
            e["mode"] = private_mode
        elif rel.endswith(".sh") or (e["info"].external_attr >> 16) & 0o100:
            e["mode"] = EXEC_MODE
        else:
            e["mode"] = FILE_MODE
        e["uid"] = uid
        e["gid"] = gid
    return entries


def _sha256_file(path):
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as fh:
        while True:
            chunk = fh.read(_CHUNK)
            if not chunk:
                break
            digest.update(chunk)
    return digest.hexdigest()


def _lstat(path):
    try:
        return os.lstat(path)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        raise


def _existing_tree(dest, top_names):
    """lstat-walk dest's managed entries without following symlinks: {rel: (kind, st)}."""
    found = {}
    stack = list(top_names)
    while stack:
        rel = stack.pop()
        st = _lstat(os.path.join(dest, *rel.split("/")))
        if st is None:
            continue
        if stat.S_ISDIR(st.st_mode):
            found[rel] = ("dir", st)
            for child in os.listdir(os.path.join(dest, *rel.split("/"))):
                stack.append(rel + "/" + child)
        elif stat.S_ISREG(st.st_mode):
            found[rel] = ("file", st)
        elif stat.S_ISLNK(st.st_mode):
            found[rel] = ("symlink", st)
        else:
            found[rel] = ("other", st)
    return found


def _show(rel, kind):
    return rel + "/" if kind == "dir" else rel


def _listing_line(rel, kind, mode, uid, gid, sha=None, size=None, private=False, owner_shown=False):
    line = "%s %s" % (_fmt_mode(mode), _show(rel, kind))
    if kind == "file":
        line += " (%d bytes, %s)" % (size, "private key" if private else "sha256 " + (sha or "?")[:16])
    elif kind not in ("dir",):
        line += " (%s)" % kind
    if owner_shown:
        line += " uid=%s gid=%s" % (uid, gid)
    return line


# ----------------------------------------------------------------------------- public API

QUICK_CHECK_LIMIT = 64 * 1024


def check_kit_password(src, password, full=True):
    """Return True when password opens every encrypted member of src and the CRCs verify.

    With full=False only members up to QUICK_CHECK_LIMIT bytes are read to the end (the
    password is still checked against every member's header): decrypting in pure Python is
    slow, and a kit's large members (the HE contexts) add nothing to the proof.

    Raises KitArchiveError for a wrong password (reason wrong_password), a corrupt or truncated
    archive, or an AES archive without pyzipper.
    """
    archive = _Archive(src, os.path.dirname(os.path.abspath(src)) or "/", password)
    try:
        archive.check_password()
        for info, _parts, _rel, is_dir in archive.members:
            if not is_dir and (full or info.file_size <= QUICK_CHECK_LIMIT):
                archive.stream(info)
        return True
    finally:
        archive.close()


def read_members(src, password, names):
    """{name: bytes} of the file members NAMES (paths in the archive, such as ``startup/client.crt``) that src
    holds, each read to the end with PASSWORD (CRC verified) and kept in memory; names it lacks are left out.

    Nothing is written. Raises KitArchiveError as extraction does (wrong_password, corrupt, truncated, limit, ...).
    """
    wanted = set(names)
    archive = _Archive(src, os.path.dirname(os.path.abspath(src)) or "/", password)
    try:
        archive.check_password()
        out = {}
        for info, _parts, rel, is_dir in archive.members:
            if is_dir or rel not in wanted:
                continue
            chunks = []
            archive.stream(info, chunks.append)
            out[rel] = b"".join(chunks)
        return out
    finally:
        archive.close()


def member_digests(src, password, skip=None):
    """{name: sha256} of every file member of src, read to the end with PASSWORD (CRC verified), except those for
    which skip(name) is true (they are not even decrypted). Raises KitArchiveError as read_members does."""
    archive = _Archive(src, os.path.dirname(os.path.abspath(src)) or "/", password)
    try:
        archive.check_password()
        out = {}
        for info, _parts, rel, is_dir in archive.members:
            if is_dir or (skip is not None and skip(rel)):
                continue
            out[rel] = archive.stream(info)[0]
        return out
    finally:
        archive.close()


def extract_kit(src, dest, password=None, mode=DEFAULT_ROOT_MODE, private_mode=DEFAULT_PRIVATE_MODE,
                owner=None, group=None, check_mode=False, record=None, checksum=None, max_size=DEFAULT_MAX_SIZE,
                max_members=DEFAULT_MAX_MEMBERS, max_ratio=DEFAULT_MAX_RATIO):
    """Make dest hold exactly the archive's managed entries, with the mode policy applied.

    An archive with more than ``max_members`` members, more than ``max_size`` bytes uncompressed
    (as declared, and as really decompressed), or a compression ratio over ``max_ratio`` (the
    whole archive's, or a member's above 1 MiB) is refused with reason ``limit`` before anything
    is written; so is (reason ``corrupt``) a member that holds more than it declares.

    With ``record`` (a file path), what was extracted is remembered there (0600): a later call
    with the same archive bytes, password and modes compares ``dest`` with the record and does
    not decrypt the archive again unless something differs.

    With ``checksum`` (the archive's expected SHA-256), a missing archive fails with reason
    ``missing`` and another archive with reason ``checksum``, before anything else is looked at.

    :returns: dict with changed, created, added, changed_files, removed, encryption,
        members and diff ({'before', 'after', 'before_header', 'after_header'}).
    :raises KitArchiveError: nothing in dest was modified when it is raised (except when the
        final swap itself fails, which is rolled back).
    """
    root_mode = parse_mode(mode, "mode")
    if root_mode is None:
        root_mode = DEFAULT_ROOT_MODE
    priv_mode = parse_mode(private_mode, "private_mode")
    if priv_mode is None:
        priv_mode = DEFAULT_PRIVATE_MODE
    limits = dict(max_size=parse_limit(max_size, "max_size", DEFAULT_MAX_SIZE),
                  max_members=parse_limit(max_members, "max_members", DEFAULT_MAX_MEMBERS),
                  max_ratio=parse_limit(max_ratio, "max_ratio", DEFAULT_MAX_RATIO))
    uid = resolve_uid(owner)
    gid = resolve_gid(group)
    dest = os.path.abspath(dest)
    src = os.path.abspath(src)
    src_sha = None
    if checksum:
        if not os.path.isfile(src):
            raise KitArchiveError("archive %s does not exist on this host" % src, "missing")
        src_sha = _sha256_file(src)
        if src_sha != checksum.strip().lower():
            raise KitArchiveError("archive %s is not the expected one (sha256 %s, expected %s): copy the kit again "
                                  "from the provisioner" % (src, src_sha, checksum.strip().lower()), "checksum")
    parent = os.path.dirname(dest)
    if not os.path.isdir(parent):
        raise KitArchiveError("the parent directory %s of dest does not exist: create it first" % parent,
                              "bad_argument")
    dest_st = _lstat(dest)
    if dest_st is not None and not stat.S_ISDIR(os.stat(dest).st_mode):
        raise KitArchiveError("dest %s exists and is not a directory" % dest, "bad_argument")

    key = None
    if record:
        try:
            key = _record_key(src, password, root_mode, priv_mode, uid, gid, src_sha)
        except (OSError, IOError):
            key = None  # the archive cannot be read: the full path below says why
        cached = _read_record(record, key) if key else None
        if cached is not None:
            result = _plan(src, dest, dest_st is not None, cached["desired"], root_mode, uid, gid)
            result.pop("_changed_tops")
            if not result["changed"]:
                result["encryption"] = cached["encryption"]
                return result

    archive = _Archive(src, dest, password, **limits)
    try:
        archive.check_password()
        desired = _desired_state(archive, priv_mode, uid, gid)
        result = _plan_and_apply(archive, src, dest, dest_st is not None, desired, root_mode, uid, gid, check_mode)
        if key and not check_mode:
            _write_record(record, key, archive.encryption, desired)
        return result
    except (OSError, IOError) as exc:
        raise KitArchiveError("cannot update %s from %s: %s" % (dest, src, exc), "io")
    finally:
        archive.close()


# ----------------------------------------------------------------------------- extraction record

_RECORD_VERSION = 1
_RECORD_FIELDS = ("type", "sha256", "size", "private", "mode", "uid", "gid")


def _record_key(src, password, root_mode, private_mode, uid, gid, archive_sha=None):
    """What a record is valid for: the archive's bytes, the password and the mode policy.

    The password enters only through a hash salted with the archive's digest.
    """
    archive_sha = archive_sha or _sha256_file(src)
    secret = hashlib.sha256(archive_sha.encode("ascii") + b"\0" + _to_bytes(password)).hexdigest()
    return {"version": _RECORD_VERSION, "archive": archive_sha, "password": secret, "mode": root_mode,
            "private_mode": private_mode, "uid": uid, "gid": gid}


def _to_bytes(value):
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    return value.encode("utf-8")


def _read_record(path, key):
    """The recorded desired state when the record matches key, else None (never raises)."""
    try:
        with open(path) as fh:
            data = json.load(fh)
        if not isinstance(data, dict) or data.get("key") != key:
            return None
        desired = {}
        for rel, e in data["desired"].items():
            if not isinstance(e, dict) or e.get("type") not in ("dir", "file"):
                return None
            desired[rel] = dict((k, e.get(k)) for k in _RECORD_FIELDS)
        return {"desired": desired, "encryption": data.get("encryption")}
    except (OSError, IOError, ValueError, KeyError, TypeError, AttributeError):
        return None


def installed_kit(src, dest, record, mode=DEFAULT_ROOT_MODE, private_mode=DEFAULT_PRIVATE_MODE, owner=None,
                  group=None):
    """Whether DEST holds the kit SRC as its extraction RECORD says, with nothing to change: what extract_kit with the
    same arguments finds on a rerun, read without the password (the record binds the password to the archive's bytes,
    which must be the same). Reads only.

    Returns (the SHA-256 of SRC or None when it is missing, None when the kit is in place, else the reason
    extract_kit would act, a few words).
    """
    if not os.path.isfile(src):
        return None, "its zip %s is not on this host" % src
    archive_sha = _sha256_file(src)
    try:
        root_mode = parse_mode(mode, "mode")
        priv_mode = parse_mode(private_mode, "private_mode")
        uid, gid = resolve_uid(owner), resolve_gid(group)
    except KitArchiveError as exc:
        return archive_sha, str(exc)
    try:
        with open(record) as fh:
            key = json.load(fh).get("key")
    except (OSError, IOError, ValueError, AttributeError):
        return archive_sha, "it has no extraction record %s" % record
    wanted = _record_key(src, None, DEFAULT_ROOT_MODE if root_mode is None else root_mode,
                         DEFAULT_PRIVATE_MODE if priv_mode is None else priv_mode, uid, gid, archive_sha)
    if not isinstance(key, dict) or any(key.get(k) != v for k, v in wanted.items() if k != "password"):
        return archive_sha, "its extraction record %s is of another zip or other modes" % record
    cached = _read_record(record, key)
    if cached is None:
        return archive_sha, "its extraction record %s cannot be read" % record
    if not os.path.isdir(dest) or os.path.islink(dest):
        return archive_sha, "its folder %s is missing" % dest
    planned = _plan(src, dest, True, cached["desired"], wanted["mode"], uid, gid)
    if planned["changed"]:
        count = len(planned["added"]) + len(planned["changed_files"]) + len(planned["removed"])
        return archive_sha, "its folder %s differs from the kit (%s)" % (
            dest, "%d file(s)" % count if count else "the folder's mode or owner")
    return archive_sha, None


def _write_record(path, key, encryption, desired):
    data = {"key": key, "encryption": encryption,
            "desired": dict((rel, dict((k, e.get(k)) for k in _RECORD_FIELDS)) for rel, e in desired.items())}
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".kit-record-", dir=directory)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, sort_keys=True)
        os.chmod(tmp, 0o600)
        os.rename(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def _plan_and_apply(archive, src, dest, dest_exists, desired, root_mode, uid, gid, check_mode):
    result = _plan(src, dest, dest_exists, desired, root_mode, uid, gid)
    result["encryption"] = archive.encryption
    changed_tops = result.pop("_changed_tops")
    if result["changed"] and not check_mode:
        _apply(archive, dest, dest_exists, desired, root_mode, uid, gid, changed_tops)
    return result


def _plan(src, dest, dest_exists, desired, root_mode, uid, gid):
    """Compare dest with the desired state (no writes); the result as extract_kit returns it."""
    owner_shown = uid is not None or gid is not None
    top_names = sorted(set(rel.split("/")[0] for rel in desired))
    existing = _existing_tree(dest, top_names) if dest_exists else {}
    hashes = {}

    def existing_sha(rel):
        if rel not in hashes:
            hashes[rel] = _sha256_file(os.path.join(dest, *rel.split("/")))
        return hashes[rel]

    added, changed, removed = [], [], []
    changed_tops = set()
    for rel in sorted(desired):
        want = desired[rel]
        have = existing.get(rel)
        if have is None:
            added.append(_show(rel, want["type"]))
            changed_tops.add(rel.split("/")[0])
            continue
        kind, st = have
        differs = kind != want["type"] or stat.S_IMODE(st.st_mode) != want["mode"]
        differs = differs or (uid is not None and st.st_uid != uid) or (gid is not None and st.st_gid != gid)
        if not differs and kind == "file":
            differs = st.st_size != want["size"] or existing_sha(rel) != want["sha256"]
        if differs:
            changed.append(_show(rel, want["type"]))
            changed_tops.add(rel.split("/")[0])
    for rel in sorted(existing):
        if rel not in desired:
            removed.append(_show(rel, existing[rel][0]))
            changed_tops.add(rel.split("/")[0])

    root_st = os.stat(dest) if dest_exists else None
    root_changed = root_st is None or stat.S_IMODE(root_st.st_mode) != root_mode or \
        (uid is not None and root_st.st_uid != uid) or (gid is not None and root_st.st_gid != gid)
    is_changed = bool(added or changed or removed or root_changed)

    before_lines = []
    if root_st is not None:
        before_lines.append(_listing_line(".", "dir", stat.S_IMODE(root_st.st_mode), root_st.st_uid,
                                          root_st.st_gid, owner_shown=owner_shown))
        for rel in sorted(existing):
            kind, st = existing[rel]
            private = bool(desired.get(rel, {}).get("private")) or rel.endswith(".key")
            sha = existing_sha(rel) if kind == "file" and not private else None
            before_lines.append(_listing_line(rel, kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, sha,
                                              st.st_size, private, owner_shown))
    after_uid = uid if uid is not None else (root_st.st_uid if root_st else os.getuid())
    after_gid = gid if gid is not None else (root_st.st_gid if root_st else os.getgid())
    after_lines = [_listing_line(".", "dir", root_mode, after_uid, after_gid, owner_shown=owner_shown)]
    for rel in sorted(desired):
        e = desired[rel]
        after_lines.append(_listing_line(rel, e["type"], e["mode"], e["uid"], e["gid"], e.get("sha256"),
                                         e.get("size"), e.get("private", False), owner_shown))

    result = {
        "changed": is_changed,
        "created": not dest_exists,
        "dest": dest,
        "added": added,
        "changed_files": changed,
        "removed": removed,
        "encryption": None,
        "members": sum(1 for e in desired.values() if e["type"] == "file"),
        "diff": {
            "before_header": dest,
            "after_header": "%s extracted into %s" % (src, dest),
            "before": "\n".join(before_lines) + "\n" if before_lines else "",
            "after": "\n".join(after_lines) + "\n",
        },
        "_changed_tops": changed_tops,
    }
    return result


# ----------------------------------------------------------------------------- applying

def _write_member(archive, info, path):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "wb") as out:
        return archive.stream(info, out.write)


def _chown(path, uid, gid):
    if uid is None and gid is None:
        return
    try:
        os.lchown(path, -1 if uid is None else uid, -1 if gid is None else gid)
    except OSError as exc:
        raise KitArchiveError("cannot set owner/group of %s (%s): run the task with become (as root) or drop "
                              "owner/group" % (path, exc.strerror or exc), "owner")


def _build(archive, base, desired, top_names, uid, gid):
    """Extract the given top-level entries under base, set modes and owners."""
    wanted = [rel for rel in sorted(desired) if rel.split("/")[0] in top_names]
    for rel in wanted:
        e = desired[rel]
        path = os.path.join(base, *rel.split("/"))
        if e["type"] == "dir":
            if not os.path.isdir(path):
                os.makedirs(path, 0o700)
        else:
            d = os.path.dirname(path)
            if not os.path.isdir(d):
                os.makedirs(d, 0o700)
            sha, _private = _write_member(archive, e["info"], path)
            if sha != e["sha256"]:
                raise KitArchiveError("archive %s changed while it was being extracted (member %r): try again"
                                      % (archive.src, rel), "corrupt")
    # Deepest first so a directory is locked down only after its content is in place.
    for rel in sorted(wanted, key=lambda r: r.count("/"), reverse=True):
        path = os.path.join(base, *rel.split("/"))
        os.chmod(path, desired[rel]["mode"])
        _chown(path, uid, gid)


def _clean_stale_staging(where, prefix=STAGING_PREFIX):
    """Remove staging directories an interrupted run left behind (only our own names)."""
    try:
        names = os.listdir(where)
    except OSError:
        return
    for name in names:
        if name.startswith(prefix):
            shutil.rmtree(os.path.join(where, name), ignore_errors=True)


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.unlink(path)


def _apply(archive, dest, dest_exists, desired, root_final, uid, gid, changed_tops):
    if not dest_exists:
        parent, base = os.path.split(dest)
        _clean_stale_staging(parent, "." + base + STAGING_PREFIX)
        staging = tempfile.mkdtemp(prefix="." + base + STAGING_PREFIX, dir=parent)
        try:
            _build(archive, staging, desired, set(r.split("/")[0] for r in desired), uid, gid)
            os.chmod(staging, root_final)
            _chown(staging, uid, gid)
            os.rename(staging, dest)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return
    _clean_stale_staging(dest)
    staging = tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=dest)
    try:
        _build(archive, staging, desired, changed_tops, uid, gid)
        trash = os.path.join(staging, ".replaced")
        os.mkdir(trash, 0o700)
        swapped = []
        try:
            for top in sorted(changed_tops):
                live = os.path.join(dest, top)
                new = os.path.join(staging, top)
                had_old = _lstat(live) is not None
                if had_old:
                    os.rename(live, os.path.join(trash, top))
                swapped.append((top, had_old))
                if os.path.lexists(new):
                    os.rename(new, live)
        except BaseException:
            for top, had_old in reversed(swapped):  # put the old entries back
                live = os.path.join(dest, top)
                if had_old:
                    _remove(live)
                    os.rename(os.path.join(trash, top), live)
            raise
        st = os.stat(dest)
        if stat.S_IMODE(st.st_mode) != root_final:
            os.chmod(dest, root_final)
        _chown(dest, uid, gid)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# ----------------------------------------------------------------------------- several kits in one call

SHIPPABLE_REASONS = ("missing", "checksum")


def _make_dirs(path, uid, gid):
    """Create path and its missing parents as private folders (0700), like ``mkdir -p -m 0700``."""
    missing = []
    while path and not os.path.isdir(path):
        if os.path.lexists(path) and not os.path.isdir(path):
            raise KitArchiveError("%s is in the way: it should be a folder but is not; move it away" % path, "io")
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, 0o700)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise KitArchiveError("cannot create the folder %s: %s" % (folder, exc.strerror or exc), "io")
        os.chmod(folder, 0o700)
        _chown(folder, uid, gid)
    return bool(missing)


def copy_zip(copy_from, src, checksum, owner=None, group=None, check_mode=False):
    """Put the archive copy_from (on this host) at src, 0600, when src is missing or is another archive.

    Used where the provisioner's workspace and the kit's host are one machine: the zip needs no
    trip through the controller. Missing parent folders of src are created 0700. Returns True when
    src was (or, in check mode, would be) written.
    """
    checksum = (checksum or "").strip().lower()
    if not checksum:
        raise KitArchiveError("copy_from needs the archive's checksum", "bad_argument")
    if os.path.isfile(src) and _sha256_file(src) == checksum:
        return False
    if not os.path.isfile(copy_from):
        raise KitArchiveError("the archive %s to copy from does not exist: provision the project first" % copy_from,
                              "missing")
    found = _sha256_file(copy_from)
    if found != checksum:
        raise KitArchiveError("the archive %s is not the expected one (sha256 %s, expected %s): the provisioning "
                              "workspace changed since its kits were read" % (copy_from, found, checksum), "checksum")
    if check_mode:
        return True
    uid = resolve_uid(owner)
    gid = resolve_gid(group)
    folder = os.path.dirname(os.path.abspath(src))
    _make_dirs(folder, uid, gid)
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".clarafl-kit-copy-")
    except (OSError, IOError) as exc:
        raise KitArchiveError("cannot write into %s: %s" % (folder, exc), "io")
    try:
        with os.fdopen(fd, "wb") as out, open(copy_from, "rb") as inp:
            os.fchmod(out.fileno(), 0o600)
            shutil.copyfileobj(inp, out, _CHUNK)
        _chown(tmp, uid, gid)
        os.rename(tmp, src)
    except (OSError, IOError) as exc:
        _remove(tmp)
        raise KitArchiveError("cannot copy %s to %s: %s" % (copy_from, src, exc), "io")
    except KitArchiveError:
        _remove(tmp)
        raise
    return True


# Several kits are installed by up to this many processes at once (decrypting is CPU-bound).
PARALLEL_MIN_KITS = 4
PARALLEL_MAX_WORKERS = 4


def _install_one(kit, check_mode):
    """One kit of install_kits: its result dict (failed, reason and msg when it could not be installed)."""
    src = os.path.abspath(kit["src"])
    dest = os.path.abspath(kit["dest"])
    uid_gid = dict(owner=kit.get("owner"), group=kit.get("group"))
    # The paths as given, so that a play can match the results with its own list.
    result = {"src": kit["src"], "dest": kit["dest"], "copied": False}
    try:
        extract_from, record = src, kit.get("record")
        if kit.get("copy_from"):
            result["copied"] = copy_zip(kit["copy_from"], src, kit.get("checksum"), check_mode=check_mode, **uid_gid)
            if check_mode and result["copied"]:
                # Nothing was copied: predict from the archive that would have been.
                extract_from, record = kit["copy_from"], None
            if not check_mode:
                _make_dirs(os.path.dirname(dest), resolve_uid(kit.get("owner")), resolve_gid(kit.get("group")))
        if check_mode and not os.path.isdir(os.path.dirname(dest)) and kit.get("copy_from"):
            extracted = {"changed": True, "created": True, "added": [], "changed_files": [], "removed": [],
                         "encryption": "", "members": 0, "diff": {}}
        else:
            extracted = extract_kit(extract_from, dest, password=kit.get("password"),
                                    mode=kit.get("mode", DEFAULT_ROOT_MODE),
                                    private_mode=kit.get("private_mode", DEFAULT_PRIVATE_MODE),
                                    check_mode=check_mode, record=record,
                                    checksum=kit.get("checksum"), max_size=kit.get("max_size"),
                                    max_members=kit.get("max_members"), max_ratio=kit.get("max_ratio"),
                                    **uid_gid)
        extracted.pop("dest", None)
        result.update(extracted)
        result["changed"] = bool(extracted["changed"] or result["copied"])
    except KitArchiveError as exc:
        result.update(changed=False, failed=True, reason=exc.reason,
                      msg="Cannot extract kit %s into %s: %s" % (src, dest, exc))
    except Exception as exc:  # pylint: disable=broad-except
        # Also inside a worker process: the parent still gets a sentence, not a traceback.
        result.update(changed=False, failed=True, reason="io",
                      msg="Cannot extract kit %s into %s: unexpected %s: %s" % (src, dest, type(exc).__name__, exc))
    return result


def _install_one_star(args):
    return _install_one(*args)


def _workers(count):
    if count < PARALLEL_MIN_KITS:
        return 1
    try:
        import multiprocessing
        multiprocessing.get_context("fork")
    except (ImportError, ValueError, AttributeError):
        return 1
    return max(1, min(count, os.cpu_count() or 1, PARALLEL_MAX_WORKERS))


def install_kits(kits, check_mode=False, report_missing=False):
    """Install several kits, each a dict of extract_kit's arguments (src, dest, password, mode,
    private_mode, owner, group, record, checksum, max_size, max_members, max_ratio) plus an
    optional copy_from (see copy_zip). Each kit is held to its own caps.

    Every kit is tried; one kit's failure leaves the others alone. From PARALLEL_MIN_KITS kits on,
    they are installed by several processes at once (each kit has folders of its own). Returns
    (results, failures): one result dict per kit, in order (a failed kit's has failed, reason and
    msg), and the failed ones. With report_missing, a kit whose src is missing or another archive
    than its checksum names (and that has no copy_from) counts as a result to act on (ship the
    zip), not a failure.
    """
    kits = list(kits)
    workers = _workers(len(kits))
    if workers > 1:
        import multiprocessing
        pool = multiprocessing.get_context("fork").Pool(workers)
        try:
            results = pool.map(_install_one_star, [(kit, check_mode) for kit in kits], chunksize=1)
        finally:
            pool.close()
            pool.join()
    else:
        results = [_install_one(kit, check_mode) for kit in kits]
    failures = [result for kit, result in zip(kits, results)
                if result.get("failed")
                and not (report_missing and result.get("reason") in SHIPPABLE_REASONS and not kit.get("copy_from"))]
    return results, failures
