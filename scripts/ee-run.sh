#!/usr/bin/env bash
# Runs a playbook of the collection from the execution environment (scripts/build-ee.sh) with ansible-navigator,
# against this machine's Docker engine, with the inventory the collection ships for one machine (inventories/local)
# as project clarafl_ee on ports 8302 and 8303, so that it never meets the federation of `make demo`
# (clarafl_local, 8002 and 8003):
#   scripts/ee-run.sh                               stand up and train the federation (clarafl.federation.site)
#   scripts/ee-run.sh clarafl.federation.teardown   tear it down (add -e teardown_provisioning_workspace=true
#                                                   to remove the provisioning workspace too)
# Further arguments go to ansible-playbook in the EE (-e, --tags, -v, ...).
# The EE drives the engine through its socket, and the FL containers it starts bind-mount host folders (kits under
# /opt/clarafl, provisioning workspace, datasets and image build folder under /var/lib/clarafl): the EE sees those
# folders at the same paths. It shares the host's network, where the local inventory's server is (localhost), and
# the host's process table, where the collection's checks look for what holds a port (/proc/<pid>/fd), the engine's
# limits (/proc/<dockerd>/limits) and the FL engine's processes: in a PID namespace of its own the EE would see none
# of them, and a second run would find the server's ports taken "by a process this check cannot see".
# This is for one machine only: elsewhere the EE reaches the hosts over SSH and needs none of these mounts.
# Environment: EE_VENV (.venv-ee), EE_IMAGE (clarafl/federation-ee:<version>), EE_PROJECT (clarafl_ee),
# EE_FL_PORT (8302), EE_ADMIN_PORT (8303).
set -euo pipefail

die() { echo "ee-run: $*" >&2; exit 1; }

root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/${EE_VENV:-.venv-ee}/bin
[ -x "$bin/ansible-navigator" ] || die "$bin/ansible-navigator not found: make venv-ee"
version=$("$bin/python" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["version"])' "$root/galaxy.yml")
image=${EE_IMAGE:-clarafl/federation-ee:$version}
docker image inspect "$image" >/dev/null 2>&1 || die "no image $image: build it with make ee"
playbook=${1:-clarafl.federation.site}
[ $# -eq 0 ] || shift
inventory=/usr/share/ansible/collections/ansible_collections/clarafl/federation/inventories/local

# ansible-navigator starts the EE as the user who runs it; the federation's folders and the socket are root's.
[ "$(id -u)" = 0 ] || die "run as root: the local federation's folders and the Docker socket are root's"
socket=${DOCKER_HOST:-unix:///var/run/docker.sock}
socket=${socket#unix://}
[ -S "$socket" ] || die "no Docker socket at $socket: make host"
mkdir -p /opt/clarafl /var/lib/clarafl

# A folder with no ansible.cfg: the EE then runs the collection it holds, not the checkout's.
work=$root/.cache/ee/run
mkdir -p "$work"
cd "$work"
exec "$bin/ansible-navigator" run "$playbook" -i "$inventory" \
  --execution-environment-image "$image" --container-engine docker --pull-policy never \
  --mode stdout --playbook-artifact-enable false --log-file "$work/ansible-navigator.log" \
  --container-options=--net=host --container-options=--pid=host \
  --execution-environment-volume-mounts "$socket:/var/run/docker.sock" \
  --execution-environment-volume-mounts /opt/clarafl:/opt/clarafl \
  --execution-environment-volume-mounts /var/lib/clarafl:/var/lib/clarafl \
  -e "fl_project_name=${EE_PROJECT:-clarafl_ee}" \
  -e "fl_fed_learn_port=${EE_FL_PORT:-8302}" -e "fl_admin_port=${EE_ADMIN_PORT:-8303}" \
  "$@"
