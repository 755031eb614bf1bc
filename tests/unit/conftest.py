# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared pytest setup for the collection's unit tests.

* Puts ``<repo>/.collections`` first on sys.path so that
  ``ansible_collections.clarafl.federation`` resolves to this checkout (the directory holds a
  symlink back to the repository). ``ansible_collections`` is a namespace package, so the
  collections bundled with the ``ansible`` package in site-packages still resolve too.
* Provides the real Clara Train 4.0 provisioner (``nvflare==1.0.2`` on CPython 3.8) through
  the session fixture ``engine_venv``. Without Python 3.8 those tests are skipped, unless
  ``CLARAFL_REQUIRE_ENGINE=1`` (CI) makes them fail instead.
"""

from __future__ import absolute_import, division, print_function

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
COLLECTIONS = os.path.join(REPO, ".collections")
FIXTURES = os.path.join(HERE, "fixtures")

_LINK = os.path.join(COLLECTIONS, "ansible_collections", "clarafl", "federation")
if not os.path.lexists(_LINK):  # a fresh checkout without the link: make it (relative, idempotent)
    os.makedirs(os.path.dirname(_LINK), exist_ok=True)
    os.symlink(os.path.join("..", "..", ".."), _LINK)
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

try:
    import ansible_collections.clarafl.federation.plugins.module_utils  # noqa: F401  pylint: disable=unused-import
except ImportError as exc:  # pragma: no cover - only on a broken checkout
    raise ImportError(
        "cannot import ansible_collections.clarafl.federation from %s (%s): %s/ansible_collections/clarafl/"
        "federation must be a symlink to the repository root" % (COLLECTIONS, exc, COLLECTIONS))

import engine_venv as _engine  # noqa: E402  (needs HERE on sys.path)


def engine_required():
    return os.environ.get("CLARAFL_REQUIRE_ENGINE", "") == "1"


@pytest.fixture(scope="session")
def engine_venv():
    """Path of the cached engine venv (built on first use)."""
    try:
        return _engine.ensure_engine_venv()
    except _engine.EngineUnavailable as exc:
        if engine_required():
            pytest.fail("CLARAFL_REQUIRE_ENGINE=1 but the real provisioner is unavailable: %s" % exc,
                        pytrace=False)
        pytest.skip("real provisioner unavailable: %s" % exc)


@pytest.fixture(scope="session")
def fixtures_dir():
    return FIXTURES


@pytest.fixture(scope="session")
def partner_runs(engine_venv, tmp_path_factory):
    """Real kits of a federation with partner sites (tests/unit/partner_kits.py), made once per session; read only."""
    import partner_kits  # noqa: E402  (needs HERE on sys.path)

    return partner_kits.provision(engine_venv, tmp_path_factory.mktemp("partner-kits"))
