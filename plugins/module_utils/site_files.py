# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the FL client role needs to know about the files of several sites, read in one pass.

For each site: whether its startup kit is there (``startup/client.crt`` under the kit folder)
and the certificate's SHA-256 (which labels the site's container, so that a new kit recreates
it), whether its dataset folder exists, and the demo data's record (a short plain-text file the
demo data tool writes beside the data). Pure standard library.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os

CERT_PATH = os.path.join("startup", "client.crt")
# Where the site connects to (the server's name and port): a re-provisioning that keeps the certificate may
# still change it, and the running site must then be restarted.
CONNECTION_PATH = os.path.join("startup", "fed_client.json")
DEMO_MARKER = ".clarafl-demo-data"
# The engine's log in a kit folder: a site that joins from another organization's controller reads its registration
# there, after the size it had before its container started.
LOG_PATH = "log.txt"
MARKER_LIMIT = 4096


class SiteFilesError(Exception):
    """A site description the module cannot use."""


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _size(path):
    try:
        return os.path.getsize(path)
    except (IOError, OSError):
        return 0


def _read_marker(path):
    """The record's text, or '' when it is missing, unreadable, too long or not text."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MARKER_LIMIT + 1)
    except (IOError, OSError):
        return ""
    if len(data) > MARKER_LIMIT:
        return ""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return ""


def site_files(sites):
    """Map each site's name to {kit, cert_sha256, connection_sha256, dataset, demo_marker, log_size}.

    ``sites`` is a list of dicts with ``name``, ``kit_dir`` and an optional ``dataset_dir``.
    A certificate that exists but cannot be read counts as no kit (cert_error says why).
    """
    out = {}
    for site in sites:
        name = site.get("name")
        if not name or not site.get("kit_dir"):
            raise SiteFilesError("every site needs a name and a kit_dir, got %r" % (site,))
        if name in out:
            raise SiteFilesError("site %s is listed twice" % name)
        cert = os.path.join(site["kit_dir"], CERT_PATH)
        result = {"kit": False, "cert_sha256": "", "connection_sha256": "", "dataset": False, "demo_marker": "",
                  "log_size": _size(os.path.join(site["kit_dir"], LOG_PATH))}
        if os.path.isfile(cert):
            try:
                result["cert_sha256"] = _sha256(cert)
                result["kit"] = True
                connection = os.path.join(site["kit_dir"], CONNECTION_PATH)
                if os.path.isfile(connection):
                    result["connection_sha256"] = _sha256(connection)
            except (IOError, OSError) as exc:
                result["cert_error"] = "cannot read %s: %s" % (cert, exc.strerror or exc)
        dataset = site.get("dataset_dir") or ""
        if dataset:
            result["dataset"] = os.path.isdir(dataset)
            if result["dataset"]:
                result["demo_marker"] = _read_marker(os.path.join(dataset, DEMO_MARKER))
        out[name] = result
    return out


def departed_kits(kit_root, keep):
    """Site kits in KIT_ROOT (folders holding ``startup/client.crt`` and ``startup/fed_client.json``: an admin's kit
    has a client.crt too, not a fed_client.json) of sites not in KEEP, sorted.

    KEEP is every site of the federation (not only this machine's: inventory hosts may share a machine). Only a
    kit the collection extracted counts (its record ``.kits/<site>.zip.extracted`` is there): a kit root may be a
    folder of the user's, and a kit unzipped there by hand is not the collection's to remove. A missing kit root
    has none.
    """
    keep = set(keep or [])
    try:
        names = os.listdir(kit_root)
    except (IOError, OSError):
        return []
    return sorted(n for n in names
                  if n not in keep and not n.startswith(".") and os.path.isfile(os.path.join(kit_root, n, CERT_PATH))
                  and os.path.isfile(os.path.join(kit_root, n, CONNECTION_PATH))
                  and os.path.isfile(os.path.join(kit_root, ".kits", n + ".zip.extracted")))


DEMO_RECORDS = os.path.join(".demo", "records")


def departed_demo_data(kit_root, names):
    """[{site, dataset_dir, record}] of the departed sites NAMES whose demo data share the collection wrote, by the
    record the demo tool kept of where it went (<kit_root>/.demo/records/<site>.json); a site without a record (its
    data is the user's, or was written before records were kept) has none."""
    out = []
    for name in sorted(set(names or [])):
        path = os.path.join(kit_root, DEMO_RECORDS, "%s.json" % name)
        text = _read_marker(path)
        try:
            record = json.loads(text) if text else None
        except ValueError:
            record = None
        if not isinstance(record, dict) or record.get("site") != name:
            continue
        dataset_dir = record.get("dataset_dir")
        if isinstance(dataset_dir, str) and dataset_dir.startswith("/"):
            out.append({"site": name, "dataset_dir": dataset_dir,
                        "record": os.path.join(DEMO_RECORDS, "%s.json" % name)})
    return out
