# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""zerotier_api_error: one sentence per failure of the ZeroTier API, the token never in it."""

from __future__ import absolute_import, division, print_function

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.clarafl.federation.plugins.filter.zerotier import FilterModule, zerotier_api_error

TOKEN = "sekrit-token"
CENTRAL = dict(member="8832e7599d", network="8056c2e21c000001", host="fl-server",
               api_base="https://api.zerotier.com/api/v1", api_type="central", token=TOKEN, delegate_to="localhost",
               web_url="https://my.zerotier.com")
CONTROLLER = dict(member="8832e7599d", network="8056c2e21c000001", host="fl-server", api_base="http://127.0.0.1:9993",
                  api_type="controller", token=TOKEN, delegate_to="zt-controller", web_url="https://my.zerotier.com")
NO_TOKEN = dict((key, "" if key == "token" else value) for key, value in CENTRAL.items())
WHAT = "member 8832e7599d of network 8056c2e21c000001 for fl-server"


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_token_says_where_to_create_one(status):
    message = zerotier_api_error({"status": status, "msg": "refused " + TOKEN}, action="looking up", **CENTRAL)
    assert message == (
        "The ZeroTier API at https://api.zerotier.com/api/v1 refused zerotier_api_token (HTTP %d) while looking up %s:"
        " the token is wrong, revoked, or has no access to this network. Create an API access token at"
        " https://my.zerotier.com/account, keep it in Ansible Vault, and rerun." % (status, WHAT))


def test_a_refused_controller_token_points_at_the_controllers_secret():
    message = zerotier_api_error({"status": 401}, **CONTROLLER)
    assert message == (
        "The ZeroTier API at http://127.0.0.1:9993 refused zerotier_api_token (HTTP 401) while authorizing %s:"
        " the token is wrong, revoked, or has no access to this network. Use the controller's authtoken.secret,"
        " keep it in Ansible Vault, and rerun." % WHAT)


def test_an_unreachable_api_names_the_host_the_request_came_from_and_hides_the_token():
    response = {"status": -1, "msg": "Status code was -1 and not [200, 404]: Request failed: <urlopen error"
                                     " [Errno 111] Connection refused> %s   more" % TOKEN}
    message = zerotier_api_error(response, action="looking up", **CONTROLLER)
    assert message == (
        "The ZeroTier API at http://127.0.0.1:9993 could not be reached from zt-controller while looking up %s"
        " (Status code was -1 and not [200, 404]: Request failed: <urlopen error [Errno 111] Connection refused>"
        " ******** more): check zerotier_api_url and that host's network and proxy, then rerun." % WHAT)
    assert TOKEN not in message


def test_no_status_at_all_is_an_unreachable_api():
    message = zerotier_api_error({"msg": "no status"}, **CENTRAL)
    assert "could not be reached from localhost while authorizing %s (no status):" % WHAT in message


def test_the_error_text_is_cut_at_a_word():
    words = "aaaa bbbbbbbbb cccccccccccc dddddddddd eeeeeeeeeeeeee fffffffffffff gggggggggggg hhhhhhhhhhh iiiiiiiiii" \
            " jjjjjjjjjjjjj kkkkkkkkkkk lllllllllll mmmmmmmmmmm nnnnnnnnnn oooooooooo pppppppppp qqqqqqqqqq rrrrrrrrrr"
    message = zerotier_api_error({"status": -1, "msg": words + " ssssssss"}, **CENTRAL)
    assert ("(aaaa bbbbbbbbb cccccccccccc dddddddddd eeeeeeeeeeeeee fffffffffffff gggggggggggg hhhhhhhhhhh iiiiiiiiii"
            " jjjjjjjjjjjjj kkkkkkkkkkk lllllllllll mmmmmmmmmmm nnnnnnnnnn oooooooooo pppppppppp...):") in message
    # Text that fits (up to five characters over) is kept whole.
    short = "x" * 205
    assert "(%s)" % short in zerotier_api_error({"status": -1, "msg": short}, **CENTRAL)


def test_without_a_token_no_error_text_is_quoted():
    message = zerotier_api_error({"status": 500, "msg": "HTTP Error 500"}, **NO_TOKEN)
    assert message.endswith("answered HTTP 500 while authorizing %s (); rerun later." % WHAT)


def test_an_unknown_network():
    message = zerotier_api_error({"status": 404}, action="looking up", **CENTRAL)
    assert message == (
        "The ZeroTier API at https://api.zerotier.com/api/v1 does not know network 8056c2e21c000001 (HTTP 404 while"
        " looking up %s): check zerotier_network_id, and that the network belongs to the account or controller of"
        " zerotier_api_token." % WHAT)


def test_accepted_but_not_authorized():
    message = zerotier_api_error({"status": 200, "json": {}}, **CENTRAL)
    assert message == (
        "The ZeroTier API at https://api.zerotier.com/api/v1 accepted the request but does not show member 8832e7599d"
        " of network 8056c2e21c000001 as authorized: authorize it by hand and rerun.")


def test_another_status_quotes_the_error_without_the_token():
    message = zerotier_api_error({"status": 500, "msg": "HTTP Error 500: Internal \n  Server Error " + TOKEN}, **CENTRAL)
    assert message == (
        "The ZeroTier API at https://api.zerotier.com/api/v1 answered HTTP 500 while authorizing %s (HTTP Error 500:"
        " Internal Server Error ********); rerun later." % WHAT)


def test_a_status_that_is_no_number_is_zero():
    assert "answered HTTP 0 while" in zerotier_api_error({"status": "teapot"}, **CENTRAL)


def test_only_a_registered_result_is_read():
    with pytest.raises(AnsibleFilterError, match="expects a registered ansible.builtin.uri result"):
        zerotier_api_error("401", **CENTRAL)


def test_registered_under_its_name():
    assert FilterModule().filters()["zerotier_api_error"] is zerotier_api_error
