"""clara_image against this machine's real Docker engine: archive loads, builds with extra packages under a tag
of their own, and the clear failures for a missing archive, a bad base image, an unreachable registry, a refused
NGC key and an explicit tag that another build's image holds."""
import os
import re
import socket
import sys
import threading

import pytest
import yaml

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
    assert docker("images", "-q", "clarafl-test/never-built").stdout.strip() == ""


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


# --- build: extra packages under a tag of their own --------------------------------------------------------------

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The engine image the other tests use, as the base: the build then only adds zip's layer (there already) and the
# extra package, instead of nvflare and its pins on python:3.8-slim. Only read, never retagged or removed.
ENGINE = "clarafl/clara-train-cpu:4.0"
EXTRA_REPO = "clarafl-test/extra-pkgs"
EXTRA_PACKAGES = ["scikit-learn<1.4", "tabulate"]
INDEX_SECRET = "tok-NEVER-PRINT-ME-0123456789"


def image_id(ref):
    proc = docker("image", "inspect", "--format", "{{.Id}}", ref, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def repo_tags(repository):
    return sorted(docker("images", "--format", "{{.Tag}}", repository).stdout.split())


def expected_identity(settings):
    """The tag and hash the role derives, computed here by the same function from the role's defaults."""
    sys.path.insert(0, os.path.join(REPO, ".collections"))
    from ansible_collections.clarafl.federation.plugins.module_utils import image_build
    with open(os.path.join(REPO, "roles", "clara_image", "defaults", "main.yml")) as handle:
        defaults = yaml.safe_load(handle)
    return image_build.identity(dict(defaults, **settings), defaults, "4.0", 2)


@pytest.fixture
def extra_repo():
    """EXTRA_REPO:4.0 stands for the image another project on this machine runs (the plain tag); every tag of
    EXTRA_REPO is removed afterwards (the engine image it points to stays)."""
    if image_id(ENGINE) is None:
        # The engine stage builds it (tests/engine/playbooks/image.yml), as site.yml on the local inventory does.
        missing = "%s is not on this host: run the engine tests first (they build it)" % ENGINE
        if os.environ.get("CLARAFL_REQUIRE_ENGINE") == "1":
            pytest.fail(missing, pytrace=False)
        pytest.skip(missing)
    docker("tag", ENGINE, EXTRA_REPO + ":4.0")
    yield EXTRA_REPO
    for tag in repo_tags(EXTRA_REPO):
        docker("rmi", "%s:%s" % (EXTRA_REPO, tag), check=False)


def build_vars(tmp_path, **more):
    extra = {"clara_image_source": "build", "clara_image_build_base": ENGINE,
             "clara_image_build_repository": EXTRA_REPO, "clara_image_build_extra_pip_packages": EXTRA_PACKAGES,
             "clara_image_build_ca_bundle": "/etc/ssl/certs/ca-certificates.crt",
             "clara_image_build_dir": str(tmp_path / "build"), "clara_image_archive_dest": str(tmp_path / "dest")}
    extra.update(more)
    return extra


def test_extra_packages_get_a_tag_of_their_own_and_other_projects_image_stays(extra_repo, tmp_path):
    other_before, engine_before = image_id(extra_repo + ":4.0"), image_id(ENGINE)
    extra = build_vars(tmp_path)
    expected = expected_identity({k: v for k, v in extra.items() if k.startswith("clara_image_build_")})

    first = run_playbook(PLAYBOOK, extra_vars=extra)
    assert first.rc == 0, first.output
    assert first.changed() > 0
    tags = [t for t in repo_tags(extra_repo) if t != "4.0"]
    assert tags == [expected["tag"]], (tags, first.output)
    assert re.match(r"^4\.0-x[0-9a-f]{8}$", expected["tag"])
    built = "%s:%s" % (extra_repo, expected["tag"])
    # Another project's image (the plain tag) and the base are untouched; the new one has the package.
    assert image_id(extra_repo + ":4.0") == other_before
    assert image_id(ENGINE) == engine_before
    assert image_id(built) not in (None, other_before)
    labels = docker("image", "inspect", "--format", "{{json .Config.Labels}}", built).stdout
    assert expected["hash"] in labels and "tabulate" in labels
    assert docker("run", "--rm", "--network", "none", built, "python3", "-c", "import tabulate, nvflare").returncode == 0

    again = run_playbook(PLAYBOOK, extra_vars=extra)
    assert again.rc == 0, again.output
    assert again.changed() == 0, again.output
    check = run_playbook(PLAYBOOK, extra_vars=extra, args=["--check"])
    assert check.rc == 0, check.output
    assert check.changed() == 0, check.output

    # The derived tag set by hand, same inputs: left alone.
    same = run_playbook(PLAYBOOK, extra_vars=dict(extra, clara_image_build_tag=expected["tag"]))
    assert same.rc == 0, same.output
    assert same.changed() == 0, same.output

    # The plain tag set by hand: another build's image, refused (in check mode too) and left as it was.
    for args in ([], ["--check"]):
        refused = run_playbook(PLAYBOOK, extra_vars=dict(extra, clara_image_build_tag="4.0"), args=args)
        assert_clean_failure(refused, "The image %s:4.0 exists but was built from other inputs (" % extra_repo)
        assert "extra packages (clara_image_build_extra_pip_packages): scikit-learn<1.4 there," \
            " scikit-learn<1.4, tabulate here" in refused.output
        assert "set clara_image_build_replace: true" in refused.output
        assert "leave it empty for a tag derived from the inputs (%s)" % expected["tag"] in refused.output
    assert image_id(extra_repo + ":4.0") == other_before
    assert repo_tags(extra_repo) == sorted(["4.0", expected["tag"]])


def test_extra_index_url_stays_out_of_logs_and_of_the_image(extra_repo, tmp_path):
    """An extra index with a token in its URL (unreachable: pip warns and takes tabulate from PyPI): the token is
    in neither the -vvv output nor the final image's history, config and labels."""
    index = "http://ci-user:%s@127.0.0.1:%d/simple/?key=%s" % (INDEX_SECRET, closed_port(), INDEX_SECRET)
    extra = build_vars(tmp_path, clara_image_build_pip_extra_index_url=index, clara_image_verify=False)
    expected = expected_identity({k: v for k, v in extra.items() if k.startswith("clara_image_build_")})
    run = run_playbook(PLAYBOOK, extra_vars=extra, args=["-vvv"])
    assert run.rc == 0, run.output[-3000:]
    assert INDEX_SECRET not in run.output
    built = "%s:%s" % (extra_repo, expected["tag"])
    assert image_id(built) is not None
    history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", built).stdout
    config = docker("image", "inspect", built).stdout
    assert "pip install --find-links /tmp/clarafl-wheels" in history
    assert INDEX_SECRET not in history and INDEX_SECRET not in config
    assert '\\"extra_index_url\\": \\"http://127.0.0.1:' in config  # the summary label: the public part alone
    # The first build stage (whose history holds the URL) was removed after the build.
    label = "label=org.clarafl.wheels-for=%s" % expected["hash"]
    assert docker("images", "-a", "-q", "--filter", label).stdout.strip() == ""
