# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The clara_image filters: arguments checked, the module_utils answers passed through."""

from __future__ import absolute_import, division, print_function

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.clarafl.federation.plugins.filter.clara_image import (
    FilterModule,
    clara_image_build_conflict,
    clara_image_build_identity,
)

DEFAULTS = {"clara_image_build_base": "python:3.8-slim", "clara_image_build_extra_pip_packages": ["x"]}


def test_both_filters_are_registered():
    assert sorted(FilterModule().filters()) == ["clara_image_build_conflict", "clara_image_build_identity"]


def test_identity():
    assert clara_image_build_identity(DEFAULTS, DEFAULTS)["tag"] == "4.0"
    other = clara_image_build_identity(dict(DEFAULTS, clara_image_build_extra_pip_packages=["y"]), DEFAULTS, "4.1")
    assert other["tag"].startswith("4.1-x")


def test_identity_rejects_what_is_no_mapping_or_no_list():
    with pytest.raises(AnsibleFilterError, match="expects a mapping"):
        clara_image_build_identity("x", DEFAULTS)
    with pytest.raises(AnsibleFilterError, match="a list of pip requirements"):
        clara_image_build_identity(dict(DEFAULTS, clara_image_build_extra_pip_packages="y"), DEFAULTS)


def test_conflict():
    build = clara_image_build_identity(DEFAULTS, DEFAULTS)
    assert clara_image_build_conflict([], build, "r:t") == ""
    assert clara_image_build_conflict([{"Config": {"Labels": {}}}], build, "r:t").startswith("The image r:t exists")
    with pytest.raises(AnsibleFilterError):
        clara_image_build_conflict({}, build, "r:t")
