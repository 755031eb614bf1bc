# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The federation's shared names and its sites, computed in one place.

Every role and playbook reads the project's conventions (kit root, container names, the admin user, the
server's cn and address) and the list of sites from here, through the filters in plugins/filter/federation.py.

An inventory host is a machine. A client machine lists the sites it runs in ``fl_sites``
(``[{name, org, dataset_dir, gpus, demo_data}]``); the common case, one site per machine, stays one line on
the host: ``fl_client_name`` + ``fl_org`` (+ ``fl_dataset_dir``), read as a one-element ``fl_sites``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import inspect
import json

from ansible_collections.clarafl.federation.plugins.module_utils import _dialect_clara40 as dialect
from ansible_collections.clarafl.federation.plugins.module_utils import engine_supervisor

KIT_ROOT_BASE = "/opt/clarafl"
CONTAINER_PREFIX = "clarafl"
# What a site entry of fl_sites may set; the rest of a site comes from the host's fl_client_* variables.
SITE_KEYS = ("name", "org", "dataset_dir", "gpus", "demo_data")
NO_GPUS = ("none", None, "")
# Who runs the engine in the server's and the sites' containers: the collection's supervisor
# (module_utils/engine_supervisor.py), or the kit's own startup/sub_start.sh loop.
ENGINE_SUPERVISORS = ("collection", "kit")
# Where the containers mount the folder that holds the supervisor on the machine.
SUPERVISOR_MOUNT = "/opt/clarafl-engine"
SUPERVISOR_LABEL = "org.clarafl.supervisor"
# Names the collection gives its own things in a kit root and in container names (clarafl-<project>-<component>):
# the server's and the admin's kit folders, the provisioning tool's and the demo data tool's containers. No site
# may have one.
RESERVED_SITE_NAMES = ("server", "admin", "provision", "demo-data")
# The demo tool's folder in the kit root (<kit_root>/.demo) is /demo in its container; each share's record of
# where it went is records/<site>.json there.
DEMO_RECORDS = "records"
DEMO_RECORDS_IN_CONTAINER = "/demo/" + DEMO_RECORDS


def kit_root(project, root=None):
    """The folder holding a project's extracted kits on every machine: fl_kit_root, else /opt/clarafl/<project>."""
    return root if root else "%s/%s" % (KIT_ROOT_BASE, project)


def container_name(project, component):
    """The container of a project's component (server, admin, a site's name, provision, demo-data)."""
    return "%s-%s-%s" % (CONTAINER_PREFIX, project, component)


def super_admin(admins):
    """The email of the first admin with the super role ('' when there is none)."""
    for admin in admins or []:
        if isinstance(admin, dict) and "super" in (admin.get("roles") or []):
            return admin.get("email") or ""
    return ""


def server_cn(server_host, hostvars):
    """The name the server's certificate is issued for: fl_server_cn, else its overlay address, else its host name."""
    hv = hostvars.get(server_host) or {}
    return str(hv.get("fl_server_cn") or hv.get("zerotier_address") or server_host).strip()


def server_address(server_host, hostvars):
    """The address clients and the console reach the server at: its overlay address, else ansible_host."""
    hv = hostvars.get(server_host) or {}
    return str(hv.get("zerotier_address") or hv.get("ansible_host") or server_host).strip()


def host_sites(host, hv):
    """The site entries an inventory host lists: fl_sites, else the one-site shorthand fl_client_name + fl_org.

    Entries are returned as given (only the shorthand is built here); site_problems says what is wrong with them.
    """
    sites = hv.get("fl_sites")
    if sites is not None:
        return list(sites) if isinstance(sites, (list, tuple)) else sites
    entry = {"name": hv.get("fl_client_name") or host, "org": hv.get("fl_org") or ""}
    if hv.get("fl_dataset_dir"):
        entry["dataset_dir"] = hv["fl_dataset_dir"]
    return [entry]


def federation_sites(hosts, hostvars):
    """[{name, org, host, index}] of every site of the client machines HOSTS, in inventory order."""
    sites = []
    for host in hosts:
        entries = host_sites(host, hostvars[host])
        if not isinstance(entries, list):
            continue
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            sites.append({"name": str(entry.get("name") or ""), "org": str(entry.get("org") or ""),
                          "host": host, "index": len(sites)})
    return sites


def log_files(server_hosts, client_hosts, hostvars, project):
    """{server: 'host:path', site: 'host:path'}: where the engine writes each component's log.txt (its kit folder)."""
    out = {}
    for host in list(server_hosts)[:1]:
        out["server"] = "%s:%s/server/log.txt" % (host, kit_root(project, (hostvars[host] or {}).get("fl_kit_root")))
    for site in federation_sites(client_hosts, hostvars):
        root = kit_root(project, (hostvars[site["host"]] or {}).get("fl_kit_root"))
        out[site["name"]] = "%s:%s/%s/log.txt" % (site["host"], root, site["name"])
    return out


def gpu_hosts(hosts, hostvars):
    """Of the client machines HOSTS, those with a site that asks for GPUs (its gpus, else the host's fl_client_gpus)."""
    found = []
    for host in hosts:
        hv = hostvars[host]
        default = hv.get("fl_client_gpus", "none")
        entries = host_sites(host, hv)
        if isinstance(entries, list) and any(
                isinstance(e, dict) and _gpu_list(e.get("gpus", default)) for e in entries):
            found.append(host)
    return found


def host_kits(host, groups, hostvars, root, admin_user):
    """The kits that belong on machine HOST: the server's, each of its sites', the admin's.

    Each {component, zip, src, dest, record}: the zip is kept in <root>/.kits, extracted to <root>/<component>.
    """
    components = []
    if host in (groups.get("fl_server") or []):
        components.append(("server", "server.zip"))
    if host in (groups.get("fl_clients") or []):
        for site in federation_sites([host], hostvars):
            components.append((site["name"], site["name"] + ".zip"))
    if host in (groups.get("fl_admin") or []):
        components.append(("admin", admin_user + ".zip"))
    root = str(root).rstrip("/")
    return [{"component": component, "zip": zipname, "src": "%s/.kits/%s" % (root, zipname),
             "dest": "%s/%s" % (root, component), "record": "%s/.kits/%s.extracted" % (root, zipname)}
            for component, zipname in components]


def kit_root_entries(host, groups, hostvars):
    """The entries the project makes in machine HOST's kit root: the kit folder of its server, each of its sites and
    its admin, the folder of the shipped zips (.kits), on a client machine the demo tool's folder (.demo), and on a
    server or client machine the engine supervisor's (.engine)."""
    entries = [kit["component"] for kit in host_kits(host, groups, hostvars, "/", "admin")] + [".kits"]
    if host in (groups.get("fl_clients") or []):
        entries.append(".demo")
    # The engine supervisor's folder (fl_containers writes it there for the server's and the sites' containers).
    if host in (groups.get("fl_server") or []) + (groups.get("fl_clients") or []):
        entries.append(".engine")
    return entries


def kit_installs(kits, made, owner, group, packages=None):
    """kit_extract's kits for KITS (from host_kits): each with the password and checksum the provisioner recorded
    (MADE: [{zip, password, sha256}]); copied from PACKAGES (the run's folder) when the provisioner is this machine."""
    by_zip = dict((m.get("zip"), m) for m in made or [])
    installs = []
    for kit in kits:
        record = by_zip.get(kit["zip"])
        if record is None:
            raise ValueError("the provisioner made no kit %s (it made %s): provision again (provisioning_force: true)"
                             % (kit["zip"], ", ".join(sorted(by_zip)) or "none"))
        installs.append({"src": kit["src"], "dest": kit["dest"], "record": kit["record"], "owner": owner,
                         "group": group, "password": record.get("password"), "checksum": record.get("sha256"),
                         "copy_from": ("%s/%s" % (packages, kit["zip"])) if packages else None})
    return installs


def site_file_problems(sites, files, host, check_mode=False):
    """What is missing on machine HOST for its SITES (from machine_sites), by what fl_site_files found (FILES)."""
    problems = machine_site_problems(sites)
    for site in sites:
        found = (files or {}).get(site["name"]) or {}
        if not found.get("kit") and not check_mode:
            why = (" (%s)" % found["cert_error"]) if found.get("cert_error") else ""
            problems.append("No kit for site %s at %s on %s%s: run the provisioning role first (ansible-playbook "
                            "site.yml --tags provisioning), or set fl_kit_root." % (site["name"], site["kit_dir"],
                                                                                    host, why))
        if not site["demo_data"] and site["dataset_dir"] and not found.get("dataset"):
            problems.append("The dataset folder %s of site %s does not exist on %s: copy the site's data there, or "
                            "give the site its dataset_dir (fl_dataset_dir on a one-site host)."
                            % (site["dataset_dir"], site["name"], host))
    return problems


def site_problems(hosts, hostvars):
    """What is wrong with the sites the client machines HOSTS list, one sentence each."""
    problems = []
    for host in hosts:
        hv = hostvars[host]
        entries = host_sites(host, hv)
        if hv.get("fl_sites") is not None and (hv.get("fl_client_name") or hv.get("fl_org")):
            problems.append("%s sets both fl_sites and fl_client_name/fl_org: list every site of the machine in "
                            "fl_sites (fl_client_name + fl_org is the shorthand for a machine with one site)" % host)
        if not isinstance(entries, list) or not entries:
            problems.append("fl_sites of %s must be a non-empty list of sites, e.g. fl_sites: "
                            "[{name: org1-a, org: org1}, {name: org1-b, org: org1}]" % host)
            continue
        for number, entry in enumerate(entries, 1):
            if not isinstance(entry, dict):
                problems.append("site %d of fl_sites on %s is not a dictionary {name, org, ...} (it is %r)"
                                % (number, host, entry))
                continue
            name = str(entry.get("name") or "")
            if name.lower() in RESERVED_SITE_NAMES:
                problems.append("site name %s on %s is reserved: the collection names its own kit folder or container "
                                "so; choose another (reserved: %s)" % (name, host, ", ".join(RESERVED_SITE_NAMES)))
            unknown = sorted(set(entry) - set(SITE_KEYS))
            if unknown:
                problems.append("site %s on %s sets %s, which a site does not have (a site sets %s)"
                                % (entry.get("name") or number, host, ", ".join(unknown), ", ".join(SITE_KEYS)))
            # A missing name or org, or a name used twice, is said by the project's check (fl_project).
    return problems


def machine_key(host, hv):
    """One key per machine: all local-connection hosts are this machine; others are their address and port."""
    connection = hv.get("ansible_connection") or "ssh"
    if connection == "local":
        return "the local connection"
    if connection in ("docker", "community.docker.docker", "podman", "containers.podman.podman"):
        return "%s container %s" % (connection, hv.get("ansible_host") or host)
    return "%s:%s" % (hv.get("ansible_host") or host, hv.get("ansible_port") or 22)


def shared_machines(hosts, hostvars, clients=()):
    """Problems for inventory hosts that are one machine (the old one-host-per-site form), showing the new form.

    HOSTVARS needs each host's connection variables (and fl_sites or fl_client_name + fl_org for the CLIENTS)."""
    by_key = {}
    for host in hosts:
        if host in by_key.get(machine_key(host, hostvars[host]), []):
            continue
        by_key.setdefault(machine_key(host, hostvars[host]), []).append(host)
    problems = []
    for key, names in by_key.items():
        if len(names) < 2:
            continue
        example = []
        for name in names:
            if name in clients:
                for site in host_sites(name, hostvars[name]) or []:
                    if isinstance(site, dict):
                        example.append("{name: %s, org: %s}" % (site.get("name"), site.get("org")))
        problems.append(
            "%s are one machine (%s), but an inventory host is a machine: make them one host, put it in each group "
            "they were in, and list its sites on it, e.g. %s: {fl_sites: [%s]}"
            % (", ".join(names), key, names[0], ", ".join(example) or "{name: site-a, org: org1}"))
    return problems


def _site_gpu_counts(hosts, hostvars):
    """[(site, GPU count)] of the sites of the client machines HOSTS, in order; 1 for a site on one GPU or none."""
    out = []
    for site_host in hosts:
        hv = hostvars[site_host]
        default = hv.get("fl_client_gpus", "none")
        entries = host_sites(site_host, hv)
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                continue
            gpus = _gpu_list(entry.get("gpus", default))
            out.append((str(entry.get("name")), len(gpus) if isinstance(gpus, list) and len(gpus) > 1 else 1))
    return out


def multi_gpu_sites(hosts, hostvars):
    """{site: GPU count} of the sites of the client machines HOSTS that list more than one GPU (their gpus, else
    their host's fl_client_gpus): each starts on all of them with ``start_mgpu client <n> <site>``. ``gpus: all``
    is one process: the count is not known before the machine is looked at."""
    return dict((name, count) for name, count in _site_gpu_counts(hosts, hostvars) if count > 1)


def start_commands(hosts, hostvars):
    """The console commands that start the training on every site of the client machines HOSTS (the engine's
    dialect: start_mgpu for a site that lists several GPUs, start client for the others)."""
    counts = _site_gpu_counts(hosts, hostvars)
    return dialect.start_commands([name for name, _count in counts], dict(counts))


def gpu_counts(gpus):
    """({site: GPU count}, problems) from GPUS, {site: count} as multi_gpu_sites gives it (a count may come as a
    string of digits); one sentence per entry that is no whole number of at least 1."""
    counts, problems = {}, []
    for site, count in sorted((gpus or {}).items()):
        text = str(count).strip()
        if isinstance(count, bool) or not text.isdigit() or int(text) < 1:
            problems.append("%s: %r is no GPU count" % (site, count))
        else:
            counts[str(site)] = int(text)
    return counts, problems


def start_site_command(site, gpus=None):
    """The command that starts one SITE: ``start_mgpu client <n> SITE`` for a site of GPUS ({site: count}, as
    multi_gpu_sites) on several GPUs, else ``start client SITE`` (the engine's dialect)."""
    return dialect.site_command("start", site, gpus)


def _gpu_list(gpus):
    if gpus in NO_GPUS:
        return []
    if gpus == "all":
        return "all"
    if isinstance(gpus, (list, tuple)):
        return [str(g) for g in gpus]
    return [str(g).strip() for g in str(gpus).split(",") if str(g).strip()]


def machine_sites(entries, defaults):
    """The sites of one machine, each complete: {name, org, kit_dir, dataset_dir, gpus, demo_data, container}.

    DEFAULTS: project, kit_root, dataset_dir (the host's fl_client_dataset_dir: used only when the machine runs
    one site), dataset_root (a site's folder is <dataset_root>/<name>), gpus, demo_data.
    """
    sites = []
    one = len(entries) == 1
    for entry in entries:
        name = entry["name"]
        dataset_dir = entry.get("dataset_dir")
        if not dataset_dir:
            if one and defaults.get("dataset_dir"):
                dataset_dir = defaults["dataset_dir"]
            elif defaults.get("dataset_root"):
                dataset_dir = "%s/%s" % (str(defaults["dataset_root"]).rstrip("/"), name)
            else:
                dataset_dir = ""
        gpus = entry.get("gpus", defaults.get("gpus", "none"))
        demo = entry.get("demo_data", defaults.get("demo_data", False))
        sites.append({
            "name": name,
            "org": entry.get("org") or "",
            "kit_dir": "%s/%s" % (str(defaults["kit_root"]).rstrip("/"), name),
            "dataset_dir": str(dataset_dir),
            "gpus": _gpu_list(gpus),
            "demo_data": demo if isinstance(demo, bool) else str(demo).lower() in ("true", "yes", "1", "on"),
            "container": container_name(defaults["project"], name),
        })
    return sites


def machine_site_problems(sites):
    """What stops these complete sites of one machine from running side by side."""
    problems = []
    seen = {}
    for site in sites:
        if site["demo_data"] and not site["dataset_dir"]:
            problems.append("fl_client_demo_data is on but site %s has no dataset folder to write it to: give the site "
                            "a dataset_dir, or set fl_dataset_root (or fl_dataset_dir on a one-site host)" % site["name"])
        if site["demo_data"] and site["dataset_dir"] in seen:
            problems.append("sites %s and %s would both write their demo data to %s: give each site its own "
                            "dataset_dir, or set fl_dataset_root" % (seen[site["dataset_dir"]], site["name"],
                                                                     site["dataset_dir"]))
        seen.setdefault(site["dataset_dir"], site["name"])
    return problems


def config_hash(config):
    """The hash that labels a container made from CONFIG (org.clarafl.config): any change recreates it."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def supervisor_source():
    """The supervisor program's bytes, through its loader: from a module's zipped payload on a managed host, from
    the file in a checkout or an installed collection."""
    loader = getattr(engine_supervisor, "__loader__", None)
    try:
        return loader.get_data(engine_supervisor.__file__)
    except (AttributeError, IOError, OSError):
        return inspect.getsource(engine_supervisor).encode("utf-8")


def kit_command(kit_mount):
    """The kit's own foreground loop (start.sh backgrounds it and returns); markers an earlier container left
    would make it think it runs already."""
    return ["bash", "-c", "cd %s/startup && rm -f ../daemon_pid.fl ../pid.fl ../shutdown.fl ../restart.fl "
                          "&& exec ./sub_start.sh" % kit_mount]


def _with_command(config, command):
    """CONFIG with COMMAND right after its image, where the settings have always had it: a container's config
    hash of the JSON in this order then stays what it was for the kit's loop."""
    out = {}
    for key, value in config.items():
        if key != "command":
            out[key] = value
        if key == "image":
            out["command"] = command
    out.setdefault("command", command)
    return out


def engine_container(config, supervisor, kit_mount, folder):
    """CONFIG (a container's settings) with the command that runs the engine of the kit mounted at KIT_MOUNT:
    the kit's loop, or the collection's supervisor, mounted read-only from FOLDER on the machine (where
    fl_containers puts it) and labelled with its digest, so that a new supervisor recreates the container."""
    if supervisor not in ENGINE_SUPERVISORS:
        raise ValueError("fl_engine_supervisor must be one of %s, not %r" % (", ".join(ENGINE_SUPERVISORS), supervisor))
    if supervisor == "kit":
        return _with_command(config, kit_command(kit_mount))
    out = _with_command(config, ["python3", "%s/%s" % (SUPERVISOR_MOUNT, engine_supervisor.FILE_NAME), kit_mount])
    out["volumes"] = list(config.get("volumes") or []) + ["%s:%s:ro" % (folder, SUPERVISOR_MOUNT)]
    labels = dict(config.get("labels") or {})
    labels[SUPERVISOR_LABEL] = hashlib.sha256(supervisor_source()).hexdigest()
    out["labels"] = labels
    return out


def site_containers(sites, base, files=None):
    """fl_containers specs of a machine's sites: BASE (the settings they share) plus each site's mounts, GPUs,
    labels and name, labelled with the hash of its settings and the fingerprint of its kit (FILES: what
    fl_site_files found, name -> {cert_sha256, connection_sha256})."""
    specs = []
    for site in sites:
        config = dict(base)
        config["volumes"] = ["%s:/workspace/site" % site["kit_dir"]] + (
            ["%s:/workspace/data:ro" % site["dataset_dir"]] if site["dataset_dir"] else []) + list(
            base.get("volumes") or [])
        if site["gpus"] == "all":
            config["device_requests"] = [{"driver": "nvidia", "count": -1, "capabilities": [["gpu"]]}]
        elif site["gpus"]:
            config["device_requests"] = [{"driver": "nvidia", "device_ids": list(site["gpus"]),
                                          "capabilities": [["gpu"]]}]
        else:
            config["device_requests"] = []
        labels = dict(base.get("labels") or {})
        labels["org.clarafl.site"] = site["name"]
        config["labels"] = labels
        spec = dict(config)
        spec["name"] = site["container"]
        spec["init"] = True
        spec["labels"] = dict(labels)
        spec["labels"]["org.clarafl.config"] = config_hash(config)
        found = (files or {}).get(site["name"]) or {}
        spec["labels"]["org.clarafl.kit"] = found.get("cert_sha256") or ""
        # A kit provisioned again keeps its certificate; where it connects to may still have changed.
        spec["labels"]["org.clarafl.connection"] = found.get("connection_sha256") or ""
        specs.append(spec)
    return specs


def demo_jobs(sites, all_names, files, tool_sha1):
    """The demo data shares this machine's SITES still need: the sites share the public data in disjoint parts,
    by their place in the federation (ALL_NAMES); a share whose record (FILES: name -> {demo_marker}) already says
    it was made from the same place, count and tool is left alone."""
    jobs = []
    for site in sites:
        if not site["demo_data"]:
            continue
        index = all_names.index(site["name"])
        # Plain words, not JSON: a string that looks like a dict may come back from templating as one.
        marker = "site_index=%d num_sites=%d tool=%s" % (index, len(all_names), tool_sha1)
        if ((files or {}).get(site["name"]) or {}).get("demo_marker", "") != marker:
            out = "/data/%d" % len(jobs)
            jobs.append({"site": site["name"], "site_index": index, "num_sites": len(all_names),
                         "dir": site["dataset_dir"], "marker": marker, "out": out,
                         "mount": "%s:%s" % (site["dataset_dir"], out),
                         # Where the share went, kept with the demo tool: the share leaves with its site.
                         "record": {"path": "%s/%s.json" % (DEMO_RECORDS_IN_CONTAINER, site["name"]),
                                    "site": site["name"], "dataset_dir": site["dataset_dir"]}})
    return jobs


def gpu_request(sites, host=None):
    """fl_host_check's gpus for a machine's SITES (from machine_sites): the sites that ask for GPUs, and which
    devices: 'all' when one asks for all, else the union of their ids, in order."""
    asking = [site for site in sites if site["gpus"]]
    devices = []
    for site in asking:
        if site["gpus"] == "all":
            devices = "all"
            break
        devices.extend(d for d in site["gpus"] if d not in devices)
    return {"sites": [site["name"] for site in asking], "devices": devices if asking else [], "host": host}


def dataset_checks(sites):
    """fl_host_check's paths for the dataset folders of a machine's SITES that the collection does not write."""
    return [{"path": site["dataset_dir"], "what": "The dataset folder of site %s" % site["name"], "kind": "dir"}
            for site in sites if site["dataset_dir"] and not site["demo_data"]]


def site_kit_entries(names):
    """A departed site's entries in the kit root: its kit folder, its shipped zip and the record of its extraction."""
    out = []
    for name in names or []:
        out.extend([name, ".kits/%s.zip" % name, ".kits/%s.zip.extracted" % name])
    return out


def departed_registered(status, sites):
    """Sites the server still has registered that the federation no longer lists (STATUS: the console's status,
    SITES: every site's name), sorted."""
    keep = set(sites or [])
    registered = [c.get("name") for c in (status or {}).get("registered_clients") or [] if isinstance(c, dict)]
    return sorted(set(n for n in registered if n and n not in keep))


# What sudo says when it will not run a command for the connecting user, and what to set about it.
_SUDO_PASSWORD = ('a password is required', 'missing sudo password', 'missing become password')
_SUDO_WRONG_PASSWORD = ('incorrect sudo password', 'incorrect become password', 'sorry, try again')
_SUDO_REFUSED = ('not in the sudoers', 'is not allowed to execute', 'may not run sudo', 'not allowed to run sudo')
_SUDO_MISSING = ('sudo: command not found', 'sudo: not found', 'no such file or directory: \'sudo\'')


def become_problems(hosts, results, hostvars, module=False):
    """The hosts where Ansible cannot become root, one sentence each that says what to set.

    RESULTS: the result of `id -u` run through become on each of HOSTS (registered with failed_when false), or with
    MODULE the result of a module run through become that returns the user id it ran as (uid: fl_host_check);
    HOSTVARS: for the user Ansible connects as (ansible_user). A host that became root (uid 0) has no problem. With
    MODULE, a failure that sudo did not cause is the module's own, not a become problem (its caller reports it)."""
    problems = []
    for host, result in zip(hosts, results):
        if not isinstance(result, dict) or result.get('skipped') or result.get('unreachable'):
            continue
        user = ((hostvars or {}).get(host) or {}).get('ansible_user') or 'the connecting user'
        out = (result.get('stdout') or '').strip()
        if module and not result.get('failed') and 'uid' in result:
            out = str(result['uid'])
            result = dict(result, rc=0)
        if not result.get('failed') and result.get('rc', 0) == 0 and out == '0':
            continue
        said = ' '.join(str(result.get(key) or '') for key in ('msg', 'module_stderr', 'module_stdout', 'stderr'))
        text = said.lower()
        if any(s in text for s in _SUDO_WRONG_PASSWORD):
            problems.append(
                '%s: sudo refused the become password given for %s (wrong password): correct ansible_become_password '
                '(in Ansible Vault) or the password typed at --ask-become-pass.' % (host, user))
        elif any(s in text for s in _SUDO_REFUSED):
            problems.append(
                '%s: %s may not use sudo there: connect as a user who may become root with sudo (ansible_user), '
                'or give %s sudo rights on that host.' % (host, user, user))
        elif any(s in text for s in _SUDO_PASSWORD):
            problems.append(
                '%s: sudo asks %s for a password: run with --ask-become-pass (-K), set ansible_become_password '
                '(in Ansible Vault), or connect as a user with passwordless sudo (NOPASSWD).' % (host, user))
        elif any(s in text for s in _SUDO_MISSING):
            problems.append(
                '%s: sudo is not installed there: install it, or connect as root and set ansible_become: false '
                'for that host.' % host)
        elif not result.get('failed') and result.get('rc', 0) == 0:
            problems.append(
                '%s: become gives uid %s, not root: the playbooks need root there (ansible_become_user: root).'
                % (host, out or '?'))
        elif not module:
            first = next((line.strip() for line in said.splitlines() if line.strip()), 'no reason given')
            problems.append('%s: Ansible cannot become root there as %s (%s): it needs a user that may become root '
                            'with sudo (ansible_user, ansible_become_password).' % (host, user, first))
    return problems
