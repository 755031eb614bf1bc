# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The built image's tag, inputs hash and the refusal to replace another build's image (role clara_image)."""

from __future__ import absolute_import, division, print_function

import json
import os
import re

import pytest
import yaml

from ansible_collections.clarafl.federation.plugins.module_utils import image_build

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


def _role_defaults():
    with open(os.path.join(REPO, "roles", "clara_image", "defaults", "main.yml")) as handle:
        return yaml.safe_load(handle)


DEFAULTS = _role_defaults()


def settings(**changes):
    return dict(DEFAULTS, **changes)


def ident(**changes):
    return image_build.identity(settings(**changes), DEFAULTS, "4.0", 2)


def test_the_role_defaults_keep_the_plain_tag():
    assert ident()["tag"] == "4.0"


def test_the_hash_of_the_defaults_is_the_one_images_already_carry():
    # Images built before the extra index existed keep their label, so existing hosts do not rebuild.
    assert ident()["hash"] == "d6218520a20c1b686f4234b71378f89168741f65140166ffcea3aaae418b579e"
    assert ident(clara_image_build_ca_bundle="/etc/ssl/certs/ca-certificates.crt")["hash"] == \
        "31e085a097ab4d519af60244f376cde081400326d95c01ff0132e700d8c58280"


def test_a_ca_bundle_alone_keeps_the_plain_tag_but_changes_the_hash():
    with_ca = ident(clara_image_build_ca_bundle="/etc/ssl/certs/ca-certificates.crt")
    assert with_ca["tag"] == "4.0"
    assert with_ca["hash"] != ident()["hash"]


@pytest.mark.parametrize("changes", [
    {"clara_image_build_extra_pip_packages": ["scikit-learn<1.4", "tabulate"]},
    {"clara_image_build_extra_pip_packages": []},
    {"clara_image_build_pip_index_url": "https://pypi.example.org/simple"},
    {"clara_image_build_pip_extra_index_url": "https://wheels.example.org/simple"},
    {"clara_image_build_base": "registry.example.org/python:3.8-slim"},
    {"clara_image_build_nvflare_version": "1.0.1"},
    {"clara_image_build_pip_packages": ["rich"]},
])
def test_other_content_gets_a_tag_of_its_own_from_the_hash(changes):
    build = ident(**changes)
    assert re.match(r"^4\.0-x[0-9a-f]{8}$", build["tag"]), build["tag"]
    assert build["tag"] == "4.0-x" + build["hash"][:8]
    assert build["tag"] != ident()["tag"]


def test_the_tag_is_stable_and_follows_every_package():
    one = ident(clara_image_build_extra_pip_packages=["scikit-learn<1.4", "tabulate"])
    assert one == ident(clara_image_build_extra_pip_packages=["scikit-learn<1.4", "tabulate"])
    assert one["tag"] != ident(clara_image_build_extra_pip_packages=["scikit-learn<1.4", "tabulate==0.9.0"])["tag"]
    # Two projects with the same packages share an image; a CA bundle makes another one (its layers differ).
    assert one["tag"] != ident(clara_image_build_extra_pip_packages=["scikit-learn<1.4", "tabulate"],
                               clara_image_build_ca_bundle="/ca.crt")["tag"]


def test_a_rotated_token_keeps_the_tag_and_no_secret_reaches_hash_or_summary():
    one = ident(clara_image_build_pip_extra_index_url="https://me:tok-ONE@wheels.example.org/simple?key=k1")
    two = ident(clara_image_build_pip_extra_index_url="https://me:tok-TWO@wheels.example.org/simple?key=k2")
    assert one["tag"] == two["tag"] and one["hash"] == two["hash"]
    assert "tok-ONE" not in json.dumps(one) and "k1" not in json.dumps(one)
    assert one["inputs"]["extra_index_url"] == "https://wheels.example.org/simple"


@pytest.mark.parametrize("url,public", [
    ("", ""),
    (None, ""),
    ("https://pypi.org/simple", "https://pypi.org/simple"),
    ("https://__token__:abc@pkgs.example.org:8443/simple/?x=1#f", "https://pkgs.example.org:8443/simple/"),
    ("http://token@[::1]:3141/root/simple", "http://[::1]:3141/root/simple"),
    ("not a url", "<not a URL>"),
])
def test_public_url(url, public):
    assert image_build.public_url(url) == public


def test_the_summary_holds_the_inputs():
    build = ident(clara_image_build_extra_pip_packages=["tabulate"])
    assert json.loads(build["summary"]) == build["inputs"]
    assert build["inputs"]["extra_packages"] == ["tabulate"]


def test_packages_must_be_a_list():
    with pytest.raises(TypeError):
        ident(clara_image_build_extra_pip_packages="tabulate")


def image(build=None, labels=None):
    if labels is None:
        labels = {image_build.HASH_LABEL: build["hash"], image_build.SUMMARY_LABEL: build["summary"]}
    return [{"Id": "sha256:abc", "Config": {"Labels": labels}}]


def test_no_conflict_without_an_image_or_with_the_same_inputs():
    build = ident(clara_image_build_extra_pip_packages=["tabulate"])
    assert image_build.conflict([], build, "r:t") == ""
    assert image_build.conflict(image(build), build, "r:t") == ""


def test_a_conflict_says_what_differs_and_what_to_do():
    there = ident()
    here = ident(clara_image_build_extra_pip_packages=["scikit-learn<1.4", "tabulate"])
    sentence = image_build.conflict(image(there), here, "clarafl/clara-train-cpu:4.0")
    assert sentence == (
        "The image clarafl/clara-train-cpu:4.0 exists but was built from other inputs (extra packages"
        " (clara_image_build_extra_pip_packages): scikit-learn<1.4 there, scikit-learn<1.4, tabulate here):"
        " set clara_image_build_tag to another tag, or leave it empty for a tag derived from the inputs (%s),"
        " or set clara_image_build_replace: true to rebuild clarafl/clara-train-cpu:4.0 from these inputs."
        % here["tag"])


def test_a_conflict_names_several_differences():
    there = ident()
    here = ident(clara_image_build_base="b:1", clara_image_build_ca_bundle="/ca.crt")
    sentence = image_build.conflict(image(there), here, "r:t")
    assert "base image (clara_image_build_base): python:3.8-slim there, b:1 here" in sentence
    assert "CA bundle (clara_image_build_ca_bundle): no there, yes here" in sentence


def test_a_conflict_with_an_image_the_role_did_not_build_or_without_a_summary():
    here = ident()
    assert "it was not built by this role (it has no org.clarafl.build-inputs label)" in \
        image_build.conflict(image(labels={}), here, "r:t")
    assert "it was not built by this role" in image_build.conflict([{"Config": {"Labels": None}}], here, "r:t")
    assert "it records only the hash of its inputs (31e085a0), not the inputs" in image_build.conflict(
        image(labels={image_build.HASH_LABEL: "31e085a0" + "0" * 56}), here, "r:t")


def test_an_older_image_of_the_defaults_is_recognised_by_its_hash():
    # Built before the summary label: only org.clarafl.build-inputs, the hash of the defaults with a CA bundle.
    older = image(labels={image_build.HASH_LABEL: "31e085a097ab4d519af60244f376cde081400326d95c01ff0132e700d8c58280"})
    here = ident(clara_image_build_extra_pip_packages=["tabulate"], clara_image_build_ca_bundle="/ca.crt")
    assert "(extra packages (clara_image_build_extra_pip_packages): scikit-learn<1.4 there, tabulate here)" in \
        image_build.conflict(older, here, "r:t")
