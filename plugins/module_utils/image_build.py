# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a built Clara runtime image is made of, and the tag that follows from it (role clara_image, source build).

The role's variables (SETTINGS, named as in roles/clara_image/defaults/main.yml) give the build's inputs. Their
hash is recorded on the image (label org.clarafl.build-inputs) and names its tag: the role's default inputs keep
the plain tag (4.0), any other package set gets 4.0-x<first 8 hex of the hash>, so a project that adds a package
builds an image of its own instead of replacing the one other projects on the machine run.

Package index URLs may carry a token (https://user:token@host/simple, ...?token=...): only their public part
(scheme, host, port, path) enters the hash, the labels and the messages, so a rotated token does not rename the image.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json

try:
    from urllib.parse import urlsplit, urlunsplit
except ImportError:  # pragma: no cover (Python 2)
    from urlparse import urlsplit, urlunsplit  # type: ignore

HASH_LABEL = "org.clarafl.build-inputs"
SUMMARY_LABEL = "org.clarafl.build-summary"

# What decides which files end up installed: the plain tag is kept for the role's defaults of these alone (a CA
# bundle only lets pip reach the same index; the recipe is the role's own Dockerfile).
CONTENT = ("base", "nvflare", "packages", "extra_packages", "index_url", "extra_index_url")

LABELS = {
    "base": "base image (clara_image_build_base)",
    "nvflare": "nvflare version (clara_image_build_nvflare_version)",
    "packages": "engine packages (clara_image_build_pip_packages)",
    "extra_packages": "extra packages (clara_image_build_extra_pip_packages)",
    "index_url": "package index (clara_image_build_pip_index_url)",
    "extra_index_url": "extra package index (clara_image_build_pip_extra_index_url)",
    "ca_bundle": "CA bundle (clara_image_build_ca_bundle)",
    "recipe": "the role's Dockerfile (a newer role version)",
}


def public_url(url):
    """URL without what may be a secret: no user, password, query or fragment ('' stays '')."""
    url = (url or "").strip()
    if not url:
        return ""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return "<not a URL>"
    host = parts.hostname or ""
    if ":" in host:
        host = "[%s]" % host
    netloc = host + (":%d" % parts.port if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _packages(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(p) for p in value]
    raise TypeError("a list of pip requirements was expected, got %r" % (value,))


def build_inputs(settings, recipe):
    """The inputs of a build, from the role's variables SETTINGS (clara_image_build_* names), secrets cut out."""
    return {
        "base": str(settings.get("clara_image_build_base") or ""),
        "nvflare": str(settings.get("clara_image_build_nvflare_version") or ""),
        "packages": _packages(settings.get("clara_image_build_pip_packages")),
        "extra_packages": _packages(settings.get("clara_image_build_extra_pip_packages")),
        "index_url": public_url(settings.get("clara_image_build_pip_index_url")),
        "extra_index_url": public_url(settings.get("clara_image_build_pip_extra_index_url")),
        "ca_bundle": bool(settings.get("clara_image_build_ca_bundle")),
        "recipe": recipe,
    }


def inputs_hash(inputs):
    """sha256 of the inputs, as the role has recorded it since recipe 2 (one list of packages; an extra index
    only when there is one), so images built before the extra index existed keep their hash."""
    document = {"base": inputs["base"], "nvflare": inputs["nvflare"],
                "packages": list(inputs["packages"]) + list(inputs["extra_packages"]),
                "index_url": inputs["index_url"]}
    if inputs.get("extra_index_url"):
        document["extra_index_url"] = inputs["extra_index_url"]
    document["ca_bundle"] = inputs["ca_bundle"]
    document["recipe"] = inputs["recipe"]
    return hashlib.sha256(json.dumps(document).encode("utf-8")).hexdigest()


def derived_tag(inputs, standard, version):
    """VERSION for the STANDARD (the role's default) content, else VERSION-x<8 hex of the inputs' hash>."""
    if all(inputs[key] == standard[key] for key in CONTENT):
        return version
    return "%s-x%s" % (version, inputs_hash(inputs)[:8])


def identity(settings, defaults, version, recipe):
    """{tag, hash, inputs, summary} of the build SETTINGS describe; DEFAULTS are the role's defaults."""
    inputs = build_inputs(settings, recipe)
    standard = build_inputs(defaults, recipe)
    return {
        "tag": derived_tag(inputs, standard, version),
        "hash": inputs_hash(inputs),
        "inputs": inputs,
        # Images built before the summary label existed are recognised when they hold the defaults.
        "standard": standard,
        # The label that lets a refusal say what differs (no secrets: the URLs are public parts).
        "summary": json.dumps(inputs, sort_keys=True),
    }


def _show(value):
    if isinstance(value, list):
        return ", ".join(value) if value else "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value) if value not in ("", None) else "none"


def _recorded(labels, standard):
    """The inputs the image with LABELS was built from: its summary label, else the STANDARD inputs (with or
    without a CA bundle) when its hash is theirs, else None."""
    try:
        there = json.loads(labels.get(SUMMARY_LABEL) or "")
    except ValueError:
        there = None
    if isinstance(there, dict):
        return there
    for ca_bundle in (False, True):
        candidate = dict(standard or {}, ca_bundle=ca_bundle)
        if standard and inputs_hash(candidate) == labels[HASH_LABEL]:
            return candidate
    return None


def differences(labels, inputs, standard=None):
    """What differs between the image whose labels are LABELS and INPUTS, in words (STANDARD: the role's default
    inputs, recognised on an image that records only their hash)."""
    labels = labels or {}
    if not labels.get(HASH_LABEL):
        return "it was not built by this role (it has no %s label)" % HASH_LABEL
    there = _recorded(labels, standard)
    if not isinstance(there, dict):
        return "it records only the hash of its inputs (%s), not the inputs" % labels[HASH_LABEL][:8]
    found = []
    for key in CONTENT + ("ca_bundle", "recipe"):
        if there.get(key) != inputs.get(key):
            found.append("%s: %s there, %s here" % (LABELS[key], _show(there.get(key)), _show(inputs.get(key))))
    return "; ".join(found) or "its recorded inputs hash differently (%s)" % labels[HASH_LABEL][:8]


def conflict(images, build, name):
    """The sentence refusing to replace the image NAME (IMAGES: docker_image_info's list) built from other inputs
    than BUILD (an identity()); '' when there is no image or it was built from the same inputs."""
    if not images:
        return ""
    labels = ((images[0] or {}).get("Config") or {}).get("Labels") or {}
    if labels.get(HASH_LABEL) == build["hash"]:
        return ""
    return ("The image %s exists but was built from other inputs (%s): set clara_image_build_tag to another tag,"
            " or leave it empty for a tag derived from the inputs (%s), or set clara_image_build_replace: true"
            " to rebuild %s from these inputs." % (name, differences(labels, build["inputs"], build.get("standard")), build["tag"], name))
