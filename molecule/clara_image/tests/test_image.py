"""Inside the image that clara_image built: the provisioning tool answers and the engine imports."""
import json
import os

RUNTIME = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "clara_image_runtime.json")


def runtime():
    with open(RUNTIME) as f:
        return json.load(f)


def test_runtime_facts_name_the_built_image():
    facts = runtime()
    assert facts["image"] == "clarafl-test/clara-train-cpu:4.0"
    assert facts["source"] == "build"
    assert facts["provision_command"] == ["provision"]


def test_provisioning_tool_answers_help(host):
    facts = runtime()
    out = host.run("docker run --rm --network none %s %s -h", facts["image"], " ".join(facts["provision_command"]))
    assert out.rc == 0, out.stderr
    assert "-p" in out.stdout and "project" in out.stdout.lower()


def test_engine_packages_import(host):
    facts = runtime()
    code = "import nvflare, dlmed, provision, dlmed.hci.client.api; import numpy; print(numpy.__version__)"
    out = host.run("docker run --rm --network none %s %s -c %s", facts["image"], facts["python"], code)
    assert out.rc == 0, out.stderr
    major, minor = (int(x) for x in out.stdout.strip().split(".")[:2])
    # numpy >= 1.24 breaks server aggregation (np.float is gone).
    assert (major, minor) < (1, 24)


def test_zip_for_packing_kits_is_there(host):
    out = host.run("docker run --rm --network none %s zip -v", runtime()["image"])
    assert out.rc == 0, out.stderr


def test_image_records_its_build_inputs(host):
    out = host.run("docker image inspect -f '{{ index .Config.Labels \"org.clarafl.build-inputs\" }}' %s",
                   runtime()["image"])
    assert out.rc == 0
    assert len(out.stdout.strip()) == 64
