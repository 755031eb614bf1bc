# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The console connection every admin module shares (plugins/module_utils/_admin_console.py CONSOLE_ARGS). Set
    # them once for a play or block with module_defaults and the action group clarafl.federation.admin.
    DOCUMENTATION = r"""
options:
  container:
    description:
      - Name or ID of the running admin container, a container of the Clara Train image with the admin kit mounted at
        O(kit_dir) and the server's admin port reachable from it (the P(clarafl.federation.fl_admin#role) role keeps
        one running, named C(clarafl-<project>-admin)).
      - The engine's admin API (C(dlmed.hci.client.api.AdminAPI), Clara Train 4.0) only loads on CPython 3.8, so the
        module runs a small driver there with the Docker SDK for Python; nothing is installed into the container.
    type: str
    required: true
  username:
    description:
      - The admin's e-mail address, as provisioned (the login name the interactive console asks for as
        C(User Name:)). It must match the kit's certificate.
    type: str
    required: true
  kit_dir:
    description: Path of the extracted admin startup kit inside the container (the folder that holds C(startup/)).
    type: str
    default: /workspace/admin
  server_host:
    description:
      - Address of the FL server's admin port. By default the host the kit's C(startup/fl_admin.sh) names (Clara
        Train 4.0 kits; C(startup/fed_admin.json) for NVFlare 2.x kits), which is the server's C(cn).
    type: str
  server_port:
    description: The FL server's admin port (C(admin_port) in C(project.yml)). By default the port the kit names.
    type: int
  server_cn:
    description:
      - Name the server's certificate must carry. By default the host named in the kit (the provisioned C(cn)), which
        keeps the check when O(server_host) is an IP address. An empty string turns the name check off (the
        certificate is still verified against the kit's root CA).
    type: str
  timeout:
    description:
      - Seconds to wait for each command's reply. A command that exceeds it fails, naming the command; the commands
        after it are not sent. The login waits at least 10 seconds, whatever this is.
    type: float
    default: 60
  upload_dir:
    description:
      - Folder inside the container that C(upload_folder <name>) reads C(<name>) from, and where the C(download_*)
        commands write. Created when missing. Defaults to O(kit_dir)C(/transfer), as the kit's C(fl_admin.sh) uses.
    type: str
  docker_host:
    description:
      - Docker daemon to use, for example V(unix:///var/run/docker.sock). By default the environment's
        C(DOCKER_HOST), else the local socket.
    type: str
  engine:
    description:
      - The engine release whose dialect (commands, replies, status, logs) the console speaks.
    type: str
    default: clara-4.0
    choices: [clara-4.0]
requirements:
  - Docker SDK for Python (C(docker)) on the host that runs the admin container.
notes:
  - A connection failure (server down, wrong port or host, a certificate of another provisioning run, a wrong user
    name) fails with one sentence naming C(host:port) and what to check.
"""
