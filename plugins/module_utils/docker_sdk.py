# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Docker SDK for Python, for the modules that talk to the Docker engine themselves.

One guarded import (a host without the SDK still loads the modules, which then say what to install)
and one way to connect, whose failures say what is wrong and what to do.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    import docker
    # Imported here for the modules' module_utils, which catch them.
    from docker.errors import APIError, DockerException, ImageNotFound, NotFound  # noqa: F401  pylint: disable=unused-import
    HAS_DOCKER = True
    DOCKER_IMPORT_ERROR = None
except ImportError as _exc:  # pragma: no cover - depends on the host
    docker = None
    HAS_DOCKER = False
    DOCKER_IMPORT_ERROR = str(_exc)

    class DockerException(Exception):  # stand-ins so except clauses stay valid
        pass

    class APIError(DockerException):
        pass

    class NotFound(APIError):
        pass

    class ImageNotFound(NotFound):
        pass


class DockerUnavailable(Exception):
    """The SDK is missing (kind "docker_missing") or the engine does not answer (kind "docker")."""

    def __init__(self, msg, kind):
        super(DockerUnavailable, self).__init__(msg)
        self.kind = kind


def connect(docker_host=None, timeout=60, version=None):
    """A docker.DockerClient for DOCKER_HOST (or the environment's DOCKER_HOST / the local socket)."""
    if not HAS_DOCKER:
        raise DockerUnavailable("The Python package 'docker' (Docker SDK for Python) is required on the host: %s "
                                "(the docker role installs it as docker_python_packages)" % DOCKER_IMPORT_ERROR,
                                "docker_missing")
    try:
        if docker_host:
            return docker.DockerClient(base_url=docker_host, timeout=int(timeout), version=version or "auto")
        return docker.from_env(timeout=int(timeout), version=version or "auto")
    except DockerException as exc:
        raise DockerUnavailable("Cannot connect to the Docker engine at %s: %s. Start it, or run the docker role "
                                "(--tags docker)." % (docker_host or "the default socket", exc), "docker")
