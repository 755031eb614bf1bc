# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the zerotier role: what to tell the operator when a request to the ZeroTier API failed."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.errors import AnsibleFilterError

DETAIL_WIDTH = 200
MASK = "********"


def _truncate(text, length, end="...", leeway=5):
    """TEXT cut at a word to LENGTH characters with END, as Jinja's truncate filter does (not when it fits)."""
    if len(text) <= length + leeway:
        return text
    return text[:length - len(end)].rsplit(" ", 1)[0] + end


def _status(response):
    """The HTTP status of a registered ansible.builtin.uri result: -1 when there is none, 0 when it is no number."""
    try:
        return int(response.get("status", -1))
    except (TypeError, ValueError):
        return 0


def zerotier_api_error(response, action="authorizing", member="", network="", host="", api_base="",
                       api_type="central", token="", delegate_to="localhost",
                       web_url="https://my.zerotier.com"):
    """What to tell the operator about RESPONSE, a registered ansible.builtin.uri result from the ZeroTier API.

    Built from the status code and the ids only; the module's error text, quoted when nothing else explains the
    failure, has TOKEN cut out (and is left out entirely when there is no token to cut out).
    """
    if not isinstance(response, dict):
        raise AnsibleFilterError("zerotier_api_error expects a registered ansible.builtin.uri result (a dictionary),"
                                 " got %s" % type(response).__name__)
    status = _status(response)
    what = "%s member %s of network %s for %s" % (action, member, network, host)
    detail = ""
    if token:
        detail = str(response.get("msg", "")).replace(token, MASK)
    detail = _truncate(re.sub(r"\s+", " ", detail), DETAIL_WIDTH)
    if status in (401, 403):
        fix = ("Create an API access token at %s/account" % web_url if api_type == "central"
               else "Use the controller's authtoken.secret")
        return ("The ZeroTier API at %s refused zerotier_api_token (HTTP %d) while %s: the token is wrong, revoked,"
                " or has no access to this network. %s, keep it in Ansible Vault, and rerun."
                % (api_base, status, what, fix))
    if status == -1:
        return ("The ZeroTier API at %s could not be reached from %s while %s (%s): check zerotier_api_url and that"
                " host's network and proxy, then rerun." % (api_base, delegate_to, what, detail))
    if status == 404:
        return ("The ZeroTier API at %s does not know network %s (HTTP 404 while %s): check zerotier_network_id, and"
                " that the network belongs to the account or controller of zerotier_api_token."
                % (api_base, network, what))
    if status == 200:
        return ("The ZeroTier API at %s accepted the request but does not show member %s of network %s as authorized:"
                " authorize it by hand and rerun." % (api_base, member, network))
    return "The ZeroTier API at %s answered HTTP %d while %s (%s); rerun later." % (api_base, status, what, detail)


class FilterModule(object):
    def filters(self):
        return {
            'zerotier_api_error': zerotier_api_error,
        }
