# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The partner's side of a federation across organizations: a site's kit handed over by the lead is checked before
anything changes (its password, the federation and site it is made for, its digest), the server is asked for a TLS
handshake with the kit's own certificates from the site's machine, and the site's log is read for its registration.

Pure standard library (the handshake uses ``ssl``); each check ends in one sentence that says what is wrong and
what to do.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import re
import shutil
import socket
import ssl
import tempfile

from ansible_collections.clarafl.federation.plugins.module_utils import _dialect_clara40 as dialect
from ansible_collections.clarafl.federation.plugins.module_utils.kit_archive import (
    KitArchiveError, member_digests, read_members)

FED_CLIENT = "startup/fed_client.json"
FED_SERVER = "startup/fed_server.json"
ADMIN_SCRIPT = "startup/fl_admin.sh"
CLIENT_CERT = "startup/client.crt"
CLIENT_KEY = "startup/client.key"
ROOT_CA = "startup/rootCA.pem"
KIT_MEMBERS = (FED_CLIENT, FED_SERVER, ADMIN_SCRIPT, CLIENT_CERT, ROOT_CA)
CREDENTIALS = (ROOT_CA, CLIENT_CERT, CLIENT_KEY)
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
# The object identifier of an X.509 name's common name (2.5.4.3), DER-encoded.
_CN_OID = b"\x55\x04\x03"
_STRING_TAGS = (0x0C, 0x13, 0x14, 0x16, 0x1E)  # UTF8String, PrintableString, T61String, IA5String, BMPString
ASK = "ask the lead"


class PartnerKitError(Exception):
    """A kit that cannot be used; the message is one sentence that says why and what to do."""

    def __init__(self, message, reason):
        super(PartnerKitError, self).__init__(message)
        self.reason = reason


# ----------------------------------------------------------------------------- certificates

def _tlv(data, pos):
    """(tag, content start, content end) of the DER element at POS."""
    if pos + 2 > len(data):
        raise ValueError("truncated DER")
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise ValueError("bad DER length")
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise ValueError("truncated DER")
    return tag, pos, pos + length


def _children(data, start, end):
    out, pos = [], start
    while pos < end:
        tag, begin, stop = _tlv(data, pos)
        out.append((tag, begin, stop))
        pos = stop
    return out


def _name_cn(data, start, end):
    for _set_tag, set_start, set_end in _children(data, start, end):
        for _seq_tag, seq_start, seq_end in _children(data, set_start, set_end):
            parts = _children(data, seq_start, seq_end)
            if len(parts) == 2 and parts[0][0] == 0x06 and data[parts[0][1]:parts[0][2]] == _CN_OID:
                tag, begin, stop = parts[1]
                if tag not in _STRING_TAGS:
                    return None
                raw = data[begin:stop]
                return raw.decode("utf-16-be" if tag == 0x1E else "utf-8", "replace")
    return None


def common_names(pem):
    """(subject CN, issuer CN) of a PEM certificate (bytes or text); None for a name without one. Raises ValueError
    for something that is no certificate."""
    text = pem.decode("ascii", "replace") if isinstance(pem, bytes) else pem
    match = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", text, re.S)
    if not match:
        raise ValueError("no PEM certificate")
    data = ssl.PEM_cert_to_DER_cert(match.group(0))
    _tag, start, end = _tlv(data, 0)
    _tag, start, end = _children(data, start, end)[0]  # tbsCertificate
    fields = _children(data, start, end)
    if fields and fields[0][0] == 0xA0:  # [0] version
        fields = fields[1:]
    # serialNumber, signature, issuer, validity, subject
    if len(fields) < 5:
        raise ValueError("not an X.509 certificate")
    issuer, subject = fields[2], fields[4]
    return _name_cn(data, subject[1], subject[2]), _name_cn(data, issuer[1], issuer[2])


# ----------------------------------------------------------------------------- the kit

def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _target(fed_client):
    """(project, cn, port) of a kit's fed_client.json."""
    doc = json.loads(fed_client.decode("utf-8"))
    server = (doc.get("servers") or [{}])[0]
    target = str((server.get("service") or {}).get("target") or "")
    host, _sep, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError("no server target")
    return str(server.get("name") or ""), host.strip("[]"), int(port)


def check_kit(src, password, project, site, sha256=None, variable="fl_partner_kit_passwords"):
    """The kit at SRC checked before it is used: {site, project, server_cn, fed_learn_port, sha256}.

    In this order: the zip is there; it has the digest SHA256 (when given: the lead's README names it); PASSWORD
    opens it; it is a site's kit (not the server's or an admin's); it is the kit of site SITE (its certificate's
    name) and of federation PROJECT (the server it connects to and the root CA's name). Raises PartnerKitError with
    one sentence.
    """
    if not os.path.isfile(src):
        raise PartnerKitError("There is no kit for site %s at %s on this controller: copy the folder the lead handed "
                              "over there, or set fl_partner_kit_dir to where it is." % (site, src), "missing")
    digest = file_sha256(src)
    if sha256 and digest != sha256.strip().lower():
        raise PartnerKitError(
            "The kit %s is not the one the lead exported for site %s: its SHA-256 is %s, the lead's README says %s. "
            "It was changed or damaged on its way: %s for it again." % (src, site, digest, sha256.strip().lower(), ASK),
            "checksum")
    if not password:
        raise PartnerKitError("No password for site %s's kit: set %s.%s (the lead's passwords file for your "
                              "organization sets it)." % (site, variable, site), "password_required")
    try:
        # Every member read to the end (its CRC verified), then the few this check reads.
        member_digests(src, password)
        members = read_members(src, password, KIT_MEMBERS)
    except KitArchiveError as exc:
        if exc.reason == "wrong_password":
            raise PartnerKitError(
                "The password given for site %s (%s.%s) does not open %s: use the one the lead's passwords file gives "
                "for this kit (each kit has its own)." % (site, variable, site, src), "wrong_password")
        raise PartnerKitError("The kit %s of site %s cannot be read: %s. %s for it again." % (
            src, site, str(exc).rstrip("."), ASK.capitalize()), exc.reason)
    if FED_CLIENT not in members:
        what = ("the FL server's kit" if FED_SERVER in members else "an admin console's kit"
                if ADMIN_SCRIPT in members else "no startup kit")
        raise PartnerKitError("%s is %s, not the kit of a site: use the zip the lead exported for site %s."
                              % (src, what, site), "not_a_site")
    try:
        kit_project, cn, port = _target(members[FED_CLIENT])
        subject, _issuer = common_names(members.get(CLIENT_CERT, b""))
        root, _root_issuer = common_names(members.get(ROOT_CA, b""))
    except (ValueError, KeyError, UnicodeDecodeError) as exc:
        raise PartnerKitError("The kit %s of site %s is damaged (%s): %s for it again." % (src, site, exc, ASK),
                              "corrupt")
    if subject != site:
        raise PartnerKitError(
            "%s is the kit of site %s, not of site %s: use the zip of site %s, or name the site as its kit does."
            % (src, subject, site, site), "other_site")
    if project and (kit_project != project or root != project):
        raise PartnerKitError(
            "%s is a kit of federation %s, not of %s (fl_project_name): use the kit the lead of %s exported, or set "
            "fl_project_name to the federation you join." % (src, kit_project or root, project, project),
            "other_project")
    return {"site": site, "project": kit_project, "server_cn": cn, "fed_learn_port": port, "sha256": digest}


def kit_credentials(src, password, folder):
    """Write the kit's root CA, certificate and key into FOLDER (files 0600) for a handshake; {member: path}."""
    members = read_members(src, password, CREDENTIALS)
    paths = {}
    for name in CREDENTIALS:
        if name not in members:
            raise PartnerKitError("The kit %s lacks %s: %s for it again." % (src, name, ASK), "corrupt")
        path = os.path.join(folder, os.path.basename(name))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(members[name])
        paths[name] = path
    return paths


# ----------------------------------------------------------------------------- the server

def handshake(address, port, cn, ca, cert, key, timeout=10.0, connect=socket.create_connection):
    """A TLS handshake with the FL server as the site's engine makes it: to ADDRESS:PORT, the server's certificate
    verified against the kit's root CA CA for the name CN, the site's certificate CERT and key KEY presented.

    Returns {ok, stage, error}: stage is where it ended (resolve, connect, tls, accepted), error what was said.
    A server that refuses the site's certificate says so right after the handshake (TLS 1.3), so one read follows.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=ca)
    context.load_cert_chain(certfile=cert, keyfile=key)
    context.check_hostname = True
    try:
        context.set_alpn_protocols(["h2"])
    except (NotImplementedError, AttributeError):  # pragma: no cover - an OpenSSL without ALPN
        pass
    try:
        sock = connect((address, port), timeout)
    except socket.gaierror as exc:
        return {"ok": False, "stage": "resolve", "error": exc.strerror or str(exc)}
    except socket.timeout:
        return {"ok": False, "stage": "connect", "error": "timed out"}
    except OSError as exc:
        return {"ok": False, "stage": "connect", "error": exc.strerror or str(exc)}
    try:
        sock.settimeout(timeout)
        try:
            tls = context.wrap_socket(sock, server_hostname=cn)
        except ssl.SSLCertVerificationError as exc:
            return {"ok": False, "stage": "verify", "error": exc.verify_message or str(exc)}
        except socket.timeout:
            return {"ok": False, "stage": "tls", "error": "timed out"}
        except (ssl.SSLError, OSError) as exc:
            return {"ok": False, "stage": "tls", "error": _ssl_reason(exc)}
        try:
            tls.settimeout(min(timeout, 3.0))
            try:
                data = tls.recv(1)
            except socket.timeout:
                data = None  # nothing said: the site's certificate was not refused
            except (ssl.SSLError, OSError) as exc:
                return {"ok": False, "stage": "refused", "error": _ssl_reason(exc)}
            if data == b"":
                return {"ok": False, "stage": "refused", "error": "the server closed the connection"}
            return {"ok": True, "stage": "accepted", "error": "", "version": tls.version()}
        finally:
            tls.close()
    finally:
        sock.close()


def _ssl_reason(exc):
    reason = getattr(exc, "reason", None)
    text = str(reason or exc.strerror or exc)
    return text.replace("_", " ").lower() if reason else text


def handshake_sentence(outcome, site, host, cn, port, address=None):
    """One sentence for a handshake that failed (None when it succeeded): where it stopped, what that means and what
    to ask the lead."""
    if outcome.get("ok"):
        return None
    where = "%s:%s" % (cn, port) + ("" if not address or address == cn else " (at %s)" % address)
    error = outcome.get("error") or "no reason given"
    stage = outcome.get("stage")
    start = "From %s, site %s cannot reach the FL server %s" % (host, site, where)
    if stage == "resolve":
        return ("%s: the name %s does not resolve there (%s). Ask the lead for the server's address and set "
                "fl_partner_server_address to it (or add it to that machine's /etc/hosts); nothing was changed."
                % (start, address or cn, error))
    if stage == "connect" and "refused" in error.lower():
        return ("%s: the connection is refused (nothing listens on port %s there). Ask the lead whether the server is "
                "running and port %s is open to %s; nothing was changed." % (start, port, port, host))
    if stage in ("connect", "tls") and "timed out" in error.lower():
        return ("%s: no answer within the connection timeout (a firewall drops the packets, or the address is "
                "wrong). Ask the lead whether port %s of the server is open to %s's address; nothing was changed."
                % (start, port, host))
    if stage == "connect":
        return ("%s: %s. Ask the lead for the server's address and whether port %s is open to %s; nothing was "
                "changed." % (start, error, port, host))
    if stage == "verify":
        return ("%s: the server there does not prove it is this federation's server (%s): its certificate is not "
                "signed by the kit's root CA for the name %s. The kit is of another federation, or the lead made new "
                "keys (a re-key): ask the lead for a new kit; nothing was changed." % (start, error, cn))
    if stage == "refused":
        return ("%s: the server refuses site %s's certificate (%s). The lead made new keys (a re-key) or removed the "
                "site: ask the lead for a new kit; nothing was changed." % (start, site, error))
    return ("%s: the TLS handshake fails (%s); a server of this federation speaks TLS with the kit's certificates on "
            "that port. Ask the lead whether %s is its FL port; nothing was changed." % (start, error, port))


def check_server(kits, cn, port, address=None, timeout=10.0, host="this machine", workdir=None):
    """A handshake for each kit ({name, src, password}) from this machine; [{site, ok, stage, error, sentence}].
    The kit's credentials go to a private folder (0700) for the handshake only, and are removed after it."""
    results = []
    for kit in kits:
        folder = tempfile.mkdtemp(prefix=".clarafl-handshake-", dir=workdir)
        try:
            paths = kit_credentials(kit["src"], kit.get("password"), folder)
            outcome = handshake(address or cn, int(port), cn, paths[ROOT_CA], paths[CLIENT_CERT], paths[CLIENT_KEY],
                                timeout=timeout)
        except (KitArchiveError, PartnerKitError) as exc:
            outcome = {"ok": False, "stage": "kit", "error": str(exc)}
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        outcome = dict(outcome, site=kit["name"])
        if outcome["stage"] == "kit":
            outcome["sentence"] = "The kit of site %s cannot be read on %s: %s" % (kit["name"], host, outcome["error"])
        else:
            outcome["sentence"] = handshake_sentence(outcome, kit["name"], host, cn, port, address)
        results.append(outcome)
    return results


# ----------------------------------------------------------------------------- the registration

def registration(log, site, since=0):
    """What a site's log (bytes) says about its registration after byte SINCE: {registered, refused, last}.

    registered: the engine said it registered this site; refused: the server still holds an earlier registration
    of it; last: the last line about the server (a registration or a communication error), or ''."""
    text = log[since:].decode("utf-8", "replace") if isinstance(log, bytes) else log[since:]
    registered = refused = False
    last = ""
    marker = "%s:%s " % (dialect.REGISTERED_LINE, site)
    for line in text.splitlines():
        if marker in line + " ":
            registered, refused, last = True, False, line.strip()
        elif dialect.ALREADY_REGISTERED in line:
            refused, last = True, line.strip()
        elif "client_registration" in line or "StatusCode.UNAVAILABLE" in line:
            last = line.strip()
    return {"registered": registered, "refused": refused and not registered, "last": last}


def registration_sentence(state, site, host, log_path, server, timeout):
    """One sentence for a site that did not register within TIMEOUT seconds (None when it did)."""
    if state.get("registered"):
        return None
    start = "Site %s on %s did not register with the FL server %s within %s s" % (site, host, server, timeout)
    if state.get("refused"):
        return ("%s: the server still holds an earlier registration of it (%s) and lets it go after its heartbeat "
                "timeout; wait and run again, or ask the lead to remove it from the server (remove_client %s)."
                % (start, dialect.ALREADY_REGISTERED, site))
    if state.get("last"):
        return ("%s: its log (%s) last says: %s. Ask the lead whether the server runs and accepts %s."
                % (start, log_path, state["last"][-300:], site))
    return ("%s: its log (%s) says nothing of the server yet (the engine may still be starting on a busy machine). "
            "Run again, or read the log." % (start, log_path))


# ----------------------------------------------------------------------------- the partner's inventory

def join_problems(hosts, host_vars, passwords=None, digests=None, kit_dir=None, project=None):
    """What stops a partner's inventory from joining, one sentence each: HOSTS are its machines
    (fl_partner_clients), HOST_VARS {host: {fl_sites or fl_client_name + fl_org}}; PASSWORDS
    fl_partner_kit_passwords, DIGESTS fl_partner_kit_sha256, KIT_DIR fl_partner_kit_dir, PROJECT fl_project_name."""
    problems = []
    if not hosts:
        return ["join.yml runs the sites of a partner organization: put your machines in the group fl_partner_clients, "
                "each with its sites (fl_sites)"]
    if not project:
        problems.append("fl_project_name is not set: set it to the federation's name the lead's README gives")
    if not kit_dir:
        problems.append("fl_partner_kit_dir is not set: set it to the folder on this controller that holds the kits "
                        "the lead handed over")
    elif not str(kit_dir).startswith("/"):
        problems.append("fl_partner_kit_dir (%s) must be an absolute path on this controller" % kit_dir)
    if passwords is not None and not isinstance(passwords, dict):
        problems.append("fl_partner_kit_passwords must be a dictionary {site: password} (the lead's passwords file)")
        passwords = {}
    if digests is not None and not isinstance(digests, dict):
        problems.append("fl_partner_kit_sha256 must be a dictionary {site: SHA-256} (the lead's README lists them)")
        digests = {}
    seen = {}
    for host in hosts:
        for site in sites_of(host, host_vars.get(host) or {}):
            name = site.get("name")
            if name in seen:
                problems.append("site %s is listed on %s and on %s: each site runs on one machine" % (
                    name, seen[name], host))
                continue
            seen[name] = host
            if not (passwords or {}).get(name):
                problems.append("site %s (on %s) has no password: fl_partner_kit_passwords.%s is not set (the lead's "
                                "passwords file for your organization sets it; pass it with -e @<file>)"
                                % (name, host, name))
            digest = (digests or {}).get(name)
            if digest is not None and not SHA256_RE.match(str(digest).strip().lower()):
                problems.append("fl_partner_kit_sha256.%s is not a SHA-256 (64 hexadecimal digits): copy it from the "
                                "lead's README" % name)
    if not seen:
        problems.append("no machine of fl_partner_clients lists a site: give each its sites, e.g. fl_sites: "
                        "[{name: org2, org: org2}]")
    return problems


def sites_of(host, hv):
    """The site entries of one partner machine: fl_sites, else fl_client_name + fl_org (as the lead's machines)."""
    sites = hv.get("fl_sites")
    if isinstance(sites, (list, tuple)):
        return [s for s in sites if isinstance(s, dict) and s.get("name")]
    if sites is not None:
        return []
    return [{"name": hv.get("fl_client_name") or host, "org": hv.get("fl_org") or ""}]


def kit_checks(sites, kit_dir, passwords=None, digests=None):
    """The kits fl_partner_kit checks for the sites of one machine: [{name, src, password, sha256}]."""
    out = []
    for site in sites or []:
        name = site["name"]
        out.append({"name": name, "src": os.path.join(str(kit_dir), name + ".zip"),
                    "password": (passwords or {}).get(name), "sha256": (digests or {}).get(name)})
    return out


def kit_installs(sites, kit_root, passwords, checked):
    """kit_extract's kits for the sites of one machine, from the zips handed over: each copied to
    <kit_root>/.kits/<site>.zip and extracted to <kit_root>/<site>, with its password and the digest the kit check
    read (CHECKED: the kits of clarafl.federation.fl_partner_kit)."""
    root = str(kit_root).rstrip("/")
    digests = dict((k.get("site"), k.get("sha256")) for k in checked or [] if isinstance(k, dict))
    return [{"src": "%s/.kits/%s.zip" % (root, site["name"]), "dest": "%s/%s" % (root, site["name"]),
             "record": "%s/.kits/%s.zip.extracted" % (root, site["name"]),
             "password": (passwords or {}).get(site["name"]), "checksum": digests.get(site["name"])}
            for site in sites or []]
