# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real kits for the partner tests, made by the real Clara Train 4.0 provisioner (tests/unit/engine_venv.py).

``first``: federation ``pfed`` (server cn localhost, org lead) with the lead's site org1-a, the partner site org2, the
lead's admin and a researcher of org2. ``second``: the same project provisioned again with the same audit file and one
more partner site, org3 (the existing kits are zipped anew). ``rekeyed``: a fresh audit file (a new root CA).
``other``: another federation, ``ofed`` (its server fl.other.example), with a site named org2 too.
"""

from __future__ import absolute_import, division, print_function

import hashlib
import os
import shutil
import socket
import ssl
import threading

import engine_venv as ev

PROJECT = "pfed"
ADMINS = [{"email": "admin@lead.test", "org": "lead", "roles": ["super"]},
          {"email": "res@org2.test", "org": "org2", "roles": ["lead_researcher"]}]


def _spec(name, clients, cn="localhost"):
    return {"name": name, "server_cn": cn, "server_org": "lead",
            "clients": [{"name": c, "org": c.split("-")[0]} for c in clients], "admins": ADMINS}


def _run(venv, work, spec, audit_from=None):
    os.makedirs(work)
    if audit_from:
        shutil.copy(os.path.join(audit_from, "AUDIT"), os.path.join(work, "AUDIT"))
    project_yml, authz = ev.write_project(venv, work, spec)
    rc, out = ev.run_provision(venv, project_yml, authz, os.path.join(work, "packages"), columns=250)
    assert rc == 0, out[-2000:]
    packages = os.path.join(work, "packages")
    passwords = ev.audit_passwords(os.path.join(work, "AUDIT"), spec["name"])
    kits = {}
    for zip_name, password in passwords.items():
        path = os.path.join(packages, zip_name)
        with open(path, "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
        name = zip_name[:-4]
        kind = "server" if name == "server" else "admin" if "@" in name else "client"
        kits[name] = {"name": name, "zip": zip_name, "password": password, "sha256": digest, "kind": kind,
                      "path": path}
    return {"dir": work, "packages": packages, "kits": kits}


def provision(venv, tmp):
    """The four provisioner runs above, under TMP."""
    tmp = str(tmp)
    first = _run(venv, os.path.join(tmp, "first"), _spec(PROJECT, ["org1-a", "org2"]))
    second = _run(venv, os.path.join(tmp, "second"), _spec(PROJECT, ["org1-a", "org2", "org3"]),
                  audit_from=first["dir"])
    rekeyed = _run(venv, os.path.join(tmp, "rekeyed"), _spec(PROJECT, ["org1-a", "org2"]))
    other = _run(venv, os.path.join(tmp, "other"), _spec("ofed", ["org2"], cn="fl.other.example"))
    return {"first": first, "second": second, "rekeyed": rekeyed, "other": other}


def server_credentials(run, folder):
    """The server kit's certificate, key and root CA of RUN, extracted into FOLDER: {name: path}."""
    from ansible_collections.clarafl.federation.plugins.module_utils.kit_archive import read_members

    kit = run["kits"]["server"]
    members = read_members(kit["path"], kit["password"], ["startup/server.crt", "startup/server.key",
                                                          "startup/rootCA.pem"])
    out = {}
    for name, data in members.items():
        path = os.path.join(str(folder), os.path.basename(name))
        with open(path, "wb") as handle:
            handle.write(data)
        out[os.path.basename(name)] = path
    return out


class TlsServer(object):
    """A TLS server with the real server kit's certificate that asks each client for a certificate of CLIENT_CA, as
    the FL server does (gRPC over TLS); it sends a few bytes once the handshake is done."""

    def __init__(self, creds, client_ca, speak=True):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(creds["server.crt"], creds["server.key"])
        self.context.verify_mode = ssl.CERT_REQUIRED
        self.context.load_verify_locations(client_ca)
        self.speak = speak
        self.held = []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(5)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self.serve)
        self.thread.daemon = True
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, _addr = self.listener.accept()
            except OSError:
                return
            try:
                if not self.speak:
                    self.held.append(conn)  # takes the connection, never speaks TLS
                    conn = None
                    continue
                tls = self.context.wrap_socket(conn, server_side=True)
                tls.sendall(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
                tls.recv(1)
            except (OSError, ssl.SSLError):
                pass
            finally:
                if conn is not None:
                    conn.close()

    def close(self):
        self.listener.close()
        for conn in self.held:
            conn.close()
