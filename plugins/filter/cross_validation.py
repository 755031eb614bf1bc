# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of cross-site validation: the engine's reply to ``validate all`` as a matrix and a table."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.clarafl.federation.plugins.module_utils.cross_validation import (
    matrix_lines, validation_matrix)


def fl_validation_matrix(reply, metric=None, sites=None):
    """The ``validate all`` REPLY as {models, sites, values, metric, metrics, missing, problems, state, lines}
    (module_utils/cross_validation.py); a garbled reply gives problems, not an error."""
    if sites is not None and not isinstance(sites, (list, tuple)):
        raise AnsibleFilterError('fl_validation_matrix expects a list of site names, got %s' % type(sites).__name__)
    if metric is not None and not isinstance(metric, str):
        raise AnsibleFilterError('fl_validation_matrix expects a metric name, got %s' % type(metric).__name__)
    matrix = validation_matrix(reply, metric=metric or None, sites=sites)
    matrix['lines'] = matrix_lines(matrix)
    return matrix


class FilterModule(object):
    def filters(self):
        return {'fl_validation_matrix': fl_validation_matrix}
