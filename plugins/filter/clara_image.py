# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the clara_image role: the identity (tag, hash, labels) of a built image, and the refusal to
replace an image built from other inputs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.clarafl.federation.plugins.module_utils import image_build


def _mapping(value, what):
    if not isinstance(value, dict):
        raise AnsibleFilterError('%s expects a mapping, got %s' % (what, type(value).__name__))
    return value


def clara_image_build_identity(settings, defaults, version='4.0', recipe=2):
    """{tag, hash, inputs, summary} of the build the role's variables SETTINGS describe (DEFAULTS: the role's)."""
    try:
        return image_build.identity(_mapping(settings, 'clara_image_build_identity'),
                                    _mapping(defaults, 'clara_image_build_identity (defaults)'),
                                    str(version), int(recipe))
    except TypeError as exc:
        raise AnsibleFilterError('clara_image_build_identity: %s' % exc)


def clara_image_build_conflict(images, build, name):
    """'' or the sentence refusing to replace the image NAME (docker_image_info's IMAGES) built from other inputs."""
    if not isinstance(images, (list, tuple)):
        raise AnsibleFilterError('clara_image_build_conflict expects docker_image_info images, got %s'
                                 % type(images).__name__)
    return image_build.conflict(list(images), _mapping(build, 'clara_image_build_conflict (build)'), str(name))


class FilterModule(object):
    def filters(self):
        return {'clara_image_build_identity': clara_image_build_identity,
                'clara_image_build_conflict': clara_image_build_conflict}
