# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build (once, cached) a CPython 3.8 virtualenv holding the real Clara Train 4.0
provisioner (``nvflare==1.0.2``) and run it.

Used by the unit tests; can also be run by hand::

    python tests/unit/engine_venv.py            # build or reuse, print the venv path

The venv lives at ``${CLARAFL_CACHE:-~/.cache/clarafl}/engine-venv-py38``. A marker file
inside it records the pinned requirement set; when the pins below change, the venv is
rebuilt. The build happens in a temporary directory beside the target and is renamed
into place only when complete, so an interrupted build never leaves a half venv that
looks usable. Console-script shebangs would point at the temporary path, so the
provisioner is run as ``<venv>/bin/python -c <entry point>`` instead.
"""

from __future__ import absolute_import, division, print_function

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile

ENGINE_PACKAGE = "nvflare==1.0.2"
# nvflare is installed with --no-deps: it also lists torch and google-api-python-client,
# which the CPU provisioning/serving path does not need. numpy>=1.24 and protobuf>=4
# break the engine (see shared NOTES.md).
ENGINE_DEPS = (
    "rich",
    "cryptography",
    "grpcio",
    "psutil",
    "pyyaml",
    "tenseal==0.3.0",
    "numpy<1.24",
    "protobuf<4",
)
PYTHON_VERSION = "3.8"
MARKER = ".clarafl-engine-requirements.json"
VENV_NAME = "engine-venv-py38"

# The console script `provision` is `provision.provision:main`; calling it this way
# works from a renamed venv whose script shebangs are stale.
PROVISION_ENTRY = "import sys; from provision.provision import main; sys.argv[0] = 'provision'; sys.exit(main())"


class EngineUnavailable(Exception):
    """Python 3.8 (or the engine install) is not available on this machine."""


def cache_dir():
    return os.path.expanduser(os.environ.get("CLARAFL_CACHE") or "~/.cache/clarafl")


def venv_dir():
    return os.path.join(cache_dir(), VENV_NAME)


def requirement_set():
    return {"python": PYTHON_VERSION, "engine": ENGINE_PACKAGE, "deps": list(ENGINE_DEPS)}


def _is_python38(candidate):
    try:
        out = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=30, check=False,
        ).stdout.decode().strip()
    except (OSError, subprocess.SubprocessError):
        return False
    return out == PYTHON_VERSION


def find_python38():
    """Return the path of a CPython 3.8 interpreter, or None."""
    if os.environ.get("CLARAFL_PYTHON38"):
        # an explicit choice is the only candidate (also lets a test simulate its absence)
        cand = os.environ["CLARAFL_PYTHON38"]
        return cand if os.path.isfile(cand) and os.access(cand, os.X_OK) and _is_python38(cand) else None
    candidates = []
    pyenv = shutil.which("pyenv")
    if pyenv:
        try:
            prefix = subprocess.run(
                [pyenv, "prefix", "3.8.18"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                timeout=30, check=False,
            ).stdout.decode().strip()
        except (OSError, subprocess.SubprocessError):
            prefix = ""
        if prefix:
            candidates.append(os.path.join(prefix, "bin", "python3.8"))
    for root in ("~/.pyenv/versions/3.8.18", "/usr/local", "/usr"):
        candidates.append(os.path.join(os.path.expanduser(root), "bin", "python3.8"))
    found = shutil.which("python3.8")
    if found:
        candidates.append(found)
    for cand in candidates:
        if os.path.isfile(cand) and os.access(cand, os.X_OK) and _is_python38(cand):
            return cand
    return None


def _marker_ok(path):
    try:
        with open(os.path.join(path, MARKER)) as fh:
            return json.load(fh) == requirement_set()
    except (OSError, ValueError):
        return False


@contextlib.contextmanager
def _lock(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _run(cmd, log):
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    log.append("$ %s\n%s" % (" ".join(cmd), proc.stdout.decode(errors="replace")))
    if proc.returncode != 0:
        raise EngineUnavailable(
            "building the engine venv failed at: %s\n%s" % (" ".join(cmd), "\n".join(log)[-4000:])
        )


def ensure_engine_venv():
    """Return the path of a ready engine venv, building it when missing or stale.

    Raises EngineUnavailable when Python 3.8 cannot be found or the install fails.
    """
    target = venv_dir()
    if _marker_ok(target):
        return target
    python38 = find_python38()
    if python38 is None:
        raise EngineUnavailable(
            "CPython 3.8 was not found (tried $CLARAFL_PYTHON38, else `pyenv prefix 3.8.18` and python3.8 on "
            "PATH); the real Clara Train 4.0 provisioner (nvflare==1.0.2) only loads on Python 3.8. Install it "
            "(e.g. `pyenv install 3.8.18`) or point CLARAFL_PYTHON38 at one"
        )
    with _lock(target + ".lock"):
        if _marker_ok(target):  # another process built it while we waited
            return target
        parent = os.path.dirname(target)
        tmp = tempfile.mkdtemp(prefix=VENV_NAME + ".build-", dir=parent)
        log = []
        try:
            _run([python38, "-m", "venv", tmp], log)
            py = os.path.join(tmp, "bin", "python")
            _run([py, "-m", "pip", "install", "-q", "--no-deps", ENGINE_PACKAGE], log)
            _run([py, "-m", "pip", "install", "-q"] + list(ENGINE_DEPS), log)
            _run([py, "-c", "import provision.provision, rich, tenseal"], log)
            with open(os.path.join(tmp, MARKER), "w") as fh:
                json.dump(requirement_set(), fh)
            if os.path.lexists(target):
                old = target + ".old"
                shutil.rmtree(old, ignore_errors=True)
                os.rename(target, old)
                shutil.rmtree(old, ignore_errors=True)
            os.rename(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def venv_python(venv):
    return os.path.join(venv, "bin", "python")


def provision_package_dir(venv):
    """Directory of the installed `provision` package (holds the default templates)."""
    out = subprocess.run(
        [venv_python(venv), "-c", "import os, provision; print(os.path.dirname(provision.__file__))"],
        stdout=subprocess.PIPE, check=True,
    ).stdout.decode().strip()
    return out


def run_provision(venv, project_yml, authz_json, outdir, columns=None, cwd=None, timeout=300, extra_env=None):
    """Run the real provisioner without a tty; return (returncode, combined output text).

    `columns` sets COLUMNS, which Rich uses for the table width when stdout is not a tty.
    The audit file is AUDIT beside project.yml (-t), so reruns reproduce the same kits.
    """
    env = dict(os.environ)
    env.pop("FORCE_COLOR", None)
    env["TERM"] = "dumb"
    env["PYTHONWARNINGS"] = "ignore"
    env["PYTHONIOENCODING"] = "utf-8"
    if columns is not None:
        env["COLUMNS"] = str(columns)
    else:
        env.pop("COLUMNS", None)
    env.pop("LINES", None)
    env.update(extra_env or {})
    proc = subprocess.run(
        [venv_python(venv), "-c", PROVISION_ENTRY, "-p", project_yml, "-a", authz_json, "-t", "AUDIT",
         "-o", outdir],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        cwd=cwd or os.path.dirname(os.path.abspath(project_yml)), env=env, timeout=timeout, check=False,
    )
    return proc.returncode, proc.stdout.decode("utf-8", errors="replace")


def write_project(venv, workdir, spec):
    """Write project.yml and authz_config.json for spec, using the installed defaults as templates.

    spec: {'name', 'server_cn', 'server_org', 'clients': [{'name', 'org', 'email'?}],
           'admins': [{'email', 'org', 'roles'?}]}
    Returns (project_yml_path, authz_json_path).
    """
    import yaml  # the test environment has PyYAML (ansible-core depends on it)

    pkg = provision_package_dir(venv)
    with open(os.path.join(pkg, "project.yml")) as fh:
        project = yaml.safe_load(fh)
    with open(os.path.join(pkg, "authz_config.json")) as fh:
        authz = json.load(fh)
    server_org = spec.get("server_org", "nvidia")
    project["name"] = spec["name"]
    project["server"]["cn"] = spec["server_cn"]
    project["server"]["org"] = server_org
    clients = []
    for c in spec["clients"]:
        entry = {"org": c["org"], "client_name": c["name"]}
        if c.get("email"):
            entry["email"] = c["email"]
        clients.append(entry)
    project["fl_clients"] = clients
    project["admin_clients"] = [{"org": a["org"], "email": a["email"]} for a in spec["admins"]]
    authz["users"] = dict((a["email"], {"org": a["org"], "roles": list(a.get("roles") or ["super"])})
                          for a in spec["admins"])
    orgs = set([server_org] + [c["org"] for c in spec["clients"]] + [a["org"] for a in spec["admins"]])
    authz["orgs"] = dict((o, ["general", "relaxed"]) for o in sorted(orgs))
    sites = {"server": server_org}
    for c in spec["clients"]:
        sites[c["name"]] = c["org"]
    authz["sites"] = sites
    os.makedirs(workdir, exist_ok=True)
    project_yml = os.path.join(workdir, "project.yml")
    authz_json = os.path.join(workdir, "authz_config.json")
    with open(project_yml, "w") as fh:
        yaml.safe_dump(project, fh, sort_keys=False)
    with open(authz_json, "w") as fh:
        json.dump(authz, fh, indent=2)
    return project_yml, authz_json


def audit_passwords(audit_file, project_name):
    """The passwords the provisioner recorded in its audit file: {zip name: password}.

    The audit pickle holds plain dicts, datetimes and bytes, so any Python 3 loads it.
    """
    import pickle

    with open(audit_file, "rb") as fh:
        audit = pickle.load(fh)  # our own test artefact, written by the provisioner we ran
    proj = audit[project_name]
    truth = {"server.zip": proj["server"]["zip_pw"]}
    for section in ("fl_clients", "admin_clients"):
        for name, entry in (proj.get(section) or {}).items():
            truth[name + ".zip"] = entry["zip_pw"]
    return truth


if __name__ == "__main__":
    try:
        print(ensure_engine_venv())
    except EngineUnavailable as exc:
        print(str(exc), file=sys.stderr)
        sys.exit(1)
