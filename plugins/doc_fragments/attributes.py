# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # What the attributes of every module of the collection mean; each module says its own support and details.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check mode and say what it would change without changing it.
  diff_mode:
    description: Shows what changed (or would change, in check mode) in diff mode.
  platform:
    description: Target OS/families that can be operated against.
    platforms: posix
"""
