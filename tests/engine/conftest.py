# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Engine tests: they need Docker and the Clara image, and stand up a real federation once per
session (see federation.py). Every test here carries the `engine` marker (`-m engine`), and the
stage runs on its own: `python -m pytest tests/engine`.

Without Docker or the image the tests are skipped, unless CLARAFL_REQUIRE_ENGINE=1 (CI), which
makes them fail instead. Each test's own module calls go through the real module code; the
readiness wait uses the same driver through module_utils.
"""

from __future__ import absolute_import, division, print_function

import os
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
for path in (os.path.join(REPO, ".collections"), os.path.join(REPO, "tests", "unit"), HERE):
    if path not in sys.path:
        sys.path.insert(0, path)

import federation as fedlib  # noqa: E402  pylint: disable=wrong-import-position


def pytest_configure(config):
    config.addinivalue_line("markers", "engine: needs Docker, the Clara image and a real federation (tests/engine)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if str(item.fspath).startswith(HERE + os.sep):
            item.add_marker(pytest.mark.engine)


def _unavailable(reason):
    if os.environ.get("CLARAFL_REQUIRE_ENGINE", "") == "1":
        pytest.fail("CLARAFL_REQUIRE_ENGINE=1 but the engine tests cannot run: %s" % reason, pytrace=False)
    pytest.skip("engine tests need Docker and the Clara image: %s" % reason)


def console(fed, **extra):
    """The console connection the admin modules use, to FED's admin container (module_utils/_admin_console.py)."""
    from ansible_collections.clarafl.federation.plugins.module_utils._admin_console import CONSOLE_ARGS, Console

    params = dict((key, spec.get("default")) for key, spec in CONSOLE_ARGS.items())
    params.update(container=fed.admin_container, username=fed.admin, server_host="localhost",
                  server_port=fed.admin_port, server_cn=fedlib.SERVER_CN, timeout=15)
    params.update(extra)
    return Console(params)


def admin(fed, commands=(), status=False, timeout=15):
    """Send admin COMMANDS (and read the status when STATUS) in FED's admin container through the collection's
    console (its driver, its dialect). The engine tests' one way to the console outside the modules under test:
    (the driver's result with its per-command "results", the parsed status or None). A command the engine refuses
    ends the list there, as the modules do; then result["ok"] is false and result["error"] says why."""
    from ansible_collections.clarafl.federation.plugins.module_utils._admin_console import ConsoleError

    link = console(fed, timeout=timeout)
    result = {"ok": True, "results": []}
    try:
        if commands:
            results, raw = link.run(list(commands))
            result.update(raw, results=results)
    except ConsoleError as exc:
        result.update(exc.details.get("result") or {}, ok=False, error=str(exc), error_kind=exc.kind,
                      results=exc.details.get("results") or [])
    parsed = None
    if status and result["ok"]:
        try:
            parsed = link.status()
        except ConsoleError as exc:
            result.update(ok=False, error=str(exc), error_kind=exc.kind)
    return result, parsed


def query_status(fed):
    """check_status server + client through the console, parsed; raises when the console could not read it."""
    result, parsed = admin(fed, status=True)
    if not result.get("ok") or parsed is None:
        raise RuntimeError("status query failed: %s" % result.get("error"))
    return parsed


def build_image(tmp):
    """Build the default Clara image with the clara_image role (playbooks/image.yml), as a fresh machine needs."""
    cli = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    with open(os.path.join(tmp, "ansible.cfg"), "w") as fh:
        fh.write("[defaults]\n")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".collections"),
               ANSIBLE_CONFIG=os.path.join(tmp, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    sys.stderr.write("\nbuilding the Clara image %s (tests/engine/playbooks/image.yml)\n" % fedlib.IMAGE)
    proc = subprocess.run([cli, "-i", "localhost,", "-e", "ansible_python_interpreter=" + sys.executable,
                           os.path.join(HERE, "playbooks", "image.yml")],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=tmp, check=False)
    out = proc.stdout.decode("utf-8", "replace")
    os.makedirs(os.path.join(REPO, "tests", "output"), exist_ok=True)
    with open(os.path.join(REPO, "tests", "output", "engine-image.log"), "w") as fh:
        fh.write(out)
    if proc.returncode != 0:
        _unavailable("building the Clara image %s failed (tests/output/engine-image.log):\n%s"
                     % (fedlib.IMAGE, out[-3000:]))


@pytest.fixture(scope="session")
def federation(tmp_path_factory):
    try:
        import docker  # noqa: F401  pylint: disable=unused-import
    except ImportError:
        _unavailable("the Python package docker is not installed")
    workdir = str(tmp_path_factory.mktemp("federation"))
    try:
        fed = fedlib.Federation(workdir)
        if fed.image == fedlib.IMAGE and not fed.has_image():
            build_image(str(tmp_path_factory.mktemp("image")))
        fed.check_preconditions()
    except fedlib.FederationError as exc:
        _unavailable(str(exc))
    # docker.from_env without a daemon
    except Exception as exc:  # pylint: disable=broad-except
        _unavailable("%s: %s" % (type(exc).__name__, exc))
    started = time.time()
    try:
        fed.provision()
        fed.write_app()
        fed.start()
        fed.ready_status = fed.wait_clients_reachable(lambda: query_status(fed))
        fed.timings["setup_total"] = round(time.time() - started, 1)
        sys.stderr.write("\nengine federation ready: %s\n" % fed.timings)
        yield fed
    except fedlib.FederationError as exc:
        pytest.fail("standing up the federation failed: %s" % exc, pytrace=False)
    finally:
        out = os.path.join(REPO, "tests", "output")
        try:
            os.makedirs(out, exist_ok=True)
            with open(os.path.join(out, "engine-federation.log"), "w") as fh:
                fh.write("timings: %s\n" % fed.timings)
                for part in ("server",) + fed.sites:
                    fh.write(fed.logs(part, tail=200) + "\n")
        except OSError:
            pass
        fed.remove_containers()
