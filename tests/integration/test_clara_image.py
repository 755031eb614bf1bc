"""clara_image against this machine's real Docker engine: archive loads, and the clear failures
for a missing archive, a bad base image, an unreachable registry and a refused NGC key."""
import os
import socket
import threading

import pytest

from http.server import BaseHTTPRequestHandler, HTTPServer

from conftest import docker, run_playbook

PLAYBOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "playbooks", "clara_image.yml")
SECRET = "nvapi-TEST-0123456789-never-print-me"


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def assert_clean_failure(run, sentence):
    assert run.rc != 0, run.output
    assert sentence in run.output, run.output
    assert "Traceback" not in run.output, run.output


@pytest.fixture
def archive(tmp_path):
    """A real `docker save` archive of a small local image, under a tag that is then removed."""
    tag = "clarafl-test/archive-probe:1"
    docker("tag", "python:3.8-slim", tag)
    path = str(tmp_path / "probe.tar")
    docker("save", "-o", path, tag)
    docker("rmi", tag)
    yield path, tag
    docker("rmi", "-f", tag, check=False)


def test_archive_is_loaded_once(archive, tmp_path):
    path, tag = archive
    extra = {"clara_image_source": "archive", "clara_image_archive_src": path, "clara_image_archive_image": tag,
             "clara_image_archive_dest": str(tmp_path / "dest"), "clara_image_verify": False}
    first = run_playbook(PLAYBOOK, extra_vars=extra)
    assert first.rc == 0, first.output
    assert docker("image", "inspect", tag, check=False).returncode == 0
    second = run_playbook(PLAYBOOK, extra_vars=extra)
    assert second.rc == 0, second.output
    assert second.changed() == 0, second.output


def test_archive_with_another_image_is_refused(archive, tmp_path):
    path, tag = archive
    run = run_playbook(PLAYBOOK, extra_vars={
        "clara_image_source": "archive", "clara_image_archive_src": path,
        "clara_image_archive_image": "clarafl-test/not-in-archive:1", "clara_image_archive_dest": str(tmp_path)})
    assert_clean_failure(run, "holds %s, not clarafl-test/not-in-archive:1" % tag)


def test_missing_archive_fails_clearly(tmp_path):
    missing = str(tmp_path / "nowhere.tar")
    run = run_playbook(PLAYBOOK, extra_vars={
        "clara_image_source": "archive", "clara_image_archive_src": missing,
        "clara_image_archive_image": "clarafl-test/absent:1"})
    assert_clean_failure(run, "The image archive %s (clara_image_archive_src) does not exist on the controller" % missing)


def test_archive_source_without_path_fails_before_anything():
    run = run_playbook(PLAYBOOK, extra_vars={"clara_image_source": "archive"})
    assert_clean_failure(run, "clara_image_source is 'archive' but clara_image_archive_src")


def test_unknown_source_is_rejected_by_the_argument_spec():
    run = run_playbook(PLAYBOOK, extra_vars={"clara_image_source": "ftp"})
    assert run.rc != 0
    assert "clara_image_source" in run.output and "ftp" in run.output


def test_build_on_a_missing_base_names_the_base(tmp_path):
    base = "127.0.0.1:%d/clarafl/no-such-base:1" % closed_port()
    run = run_playbook(PLAYBOOK, extra_vars={
        "clara_image_source": "build", "clara_image_build_base": base,
        "clara_image_build_repository": "clarafl-test/never-built", "clara_image_build_dir": str(tmp_path)})
    assert_clean_failure(run, "the base image %s is not on this host and could not be pulled" % base)
    assert docker("image", "inspect", "clarafl-test/never-built:4.0", check=False).returncode != 0


def test_unreachable_registry_fails_in_one_sentence_and_hides_the_key():
    registry = "127.0.0.1:%d" % closed_port()
    run = run_playbook(PLAYBOOK, extra_vars={
        "clara_image_source": "pull", "clara_image_registry": registry,
        "clara_image_pull_repository": registry + "/nvidia/clara-train-sdk",
        "clara_image_ngc_api_key": SECRET}, args=["-vvv"])
    assert_clean_failure(run, "The registry %s could not be reached" % registry)
    assert SECRET not in run.output


def test_pull_without_key_from_unreachable_registry():
    registry = "127.0.0.1:%d" % closed_port()
    run = run_playbook(PLAYBOOK, extra_vars={
        "clara_image_source": "pull", "clara_image_registry": registry,
        "clara_image_pull_repository": registry + "/nvidia/clara-train-sdk",
        "clara_image_pull_retries": 1, "clara_image_pull_delay": 0})
    assert_clean_failure(run, "could not be reached from image_host")


class StandInNGC(BaseHTTPRequestHandler):
    """A stand-in for NGC's registry (not reachable offline): refuses every credential."""

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="stand-in for nvcr.io"')
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def stand_in_ngc():
    server = HTTPServer(("127.0.0.1", 0), StandInNGC)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "127.0.0.1:%d" % server.server_address[1]
    server.shutdown()


def test_refused_key_fails_in_one_sentence_and_hides_the_key(stand_in_ngc):
    run = run_playbook(PLAYBOOK, extra_vars={
        "clara_image_source": "pull", "clara_image_registry": stand_in_ngc,
        "clara_image_pull_repository": stand_in_ngc + "/nvidia/clara-train-sdk",
        "clara_image_ngc_api_key": SECRET}, args=["-vvv"])
    assert_clean_failure(run, "The registry %s refused the NGC API key" % stand_in_ngc)
    assert SECRET not in run.output


def test_image_without_the_engine_is_named_with_what_it_lacks(archive, tmp_path):
    path, tag = archive
    run = run_playbook(PLAYBOOK, extra_vars={
        "clara_image_source": "archive", "clara_image_archive_src": path, "clara_image_archive_image": tag,
        "clara_image_archive_dest": str(tmp_path)})
    assert_clean_failure(run, "The image %s does not work as a Clara v4.0 runtime" % tag)
    assert "python package nvflare does not import" in run.output
    assert "command zip is not on the PATH" in run.output
