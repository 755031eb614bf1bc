# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that read the federation out of the inventory."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.clarafl.federation.plugins.module_utils import federation
from ansible_collections.clarafl.federation.plugins.module_utils.cross_validation import matrix_lines
from ansible_collections.clarafl.federation.plugins.module_utils.mmar_config import (
    app_leftovers, federated_configs, run_summary, with_metrics)
from ansible_collections.clarafl.federation.plugins.module_utils._training_plan import plan_run
from ansible_collections.clarafl.federation.plugins.module_utils.provisioned import provisioning_todo


def _hosts(hosts, name):
    if not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError('%s expects a list of host names, got %s' % (name, type(hosts).__name__))
    return hosts


def fl_client_sites(hosts, hostvars):
    """[{name, org, host, index}] of every site of the client machines HOSTS (fl_sites, or fl_client_name + fl_org)."""
    return federation.federation_sites(_hosts(hosts, 'fl_client_sites'), hostvars)


def fl_kit_root(project, root=None):
    """The folder of a project's kits on every machine: fl_kit_root, else /opt/clarafl/<project>."""
    return federation.kit_root(project, root)


def fl_container_name(project, component):
    """The container of a project's component: clarafl-<project>-<component>."""
    return federation.container_name(project, component)


def fl_super_admin(admins):
    """The email of the first admin of fl_admins with the super role ('' when there is none)."""
    if admins is not None and not isinstance(admins, (list, tuple)):
        raise AnsibleFilterError('fl_super_admin expects the list fl_admins, got %s' % type(admins).__name__)
    return federation.super_admin(admins)


def fl_server_cn(servers, hostvars):
    """The name the server's certificate is issued for (fl_server_cn, else its overlay address, else its name)."""
    servers = _hosts(servers, 'fl_server_cn')
    return federation.server_cn(servers[0], hostvars) if servers else ''


def fl_server_address(servers, hostvars):
    """The address the server is reached at (its overlay address, else ansible_host, else its name)."""
    servers = _hosts(servers, 'fl_server_address')
    return federation.server_address(servers[0], hostvars) if servers else ''


def fl_machine_sites(host, hostvars, defaults):
    """The sites of machine HOST, complete: {name, org, kit_dir, dataset_dir, gpus, demo_data, container}."""
    entries = federation.host_sites(host, hostvars[host])
    if not isinstance(entries, (list, tuple)) or not all(isinstance(e, dict) and e.get('name') for e in entries):
        raise AnsibleFilterError('fl_sites of %s must be a list of sites {name, org, ...}, got %r' % (host, entries))
    return federation.machine_sites(entries, defaults)


def fl_site_containers(sites, base, files=None):
    """The fl_containers specs of a machine's sites (from fl_machine_sites), labelled with config hash and kit."""
    return federation.site_containers(sites, base, files)


def fl_engine_container(config, supervisor, kit_mount, folder):
    """CONFIG with the command that runs the engine of the kit at KIT_MOUNT: the collection's supervisor (mounted
    from FOLDER on the machine) or the kit's own loop (SUPERVISOR: collection | kit)."""
    if not isinstance(config, dict):
        raise AnsibleFilterError('fl_engine_container expects the container settings (a dict), got %s'
                                 % type(config).__name__)
    try:
        return federation.engine_container(config, supervisor, kit_mount, folder)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))


def fl_dataset_checks(sites):
    """fl_host_check's paths for the dataset folders of a machine's sites that the collection does not write."""
    return federation.dataset_checks(sites)


def fl_gpu_request(sites, host=None):
    """fl_host_check's gpus for a machine's sites (from fl_machine_sites): the sites that ask for GPUs, which devices."""
    if not isinstance(sites, (list, tuple)):
        raise AnsibleFilterError('fl_gpu_request expects the list of a machine\'s sites, got %s' % type(sites).__name__)
    return federation.gpu_request(sites, host)


def fl_gpu_hosts(hosts, hostvars):
    """Of the client machines HOSTS, those with a site that asks for GPUs."""
    return federation.gpu_hosts(_hosts(hosts, 'fl_gpu_hosts'), hostvars)


def fl_host_kits(host, groups, hostvars, root, admin_user):
    """The kits that belong on machine HOST: {component, zip, src, dest, record} each."""
    return federation.host_kits(host, groups, hostvars, root, admin_user)


def fl_kit_root_entries(host, groups, hostvars):
    """The entries the project makes in machine HOST's kit root (kit folders, .kits, .demo on a client machine)."""
    return federation.kit_root_entries(host, groups, hostvars)


def fl_kit_installs(kits, made, owner, group, packages=None):
    """kit_extract's kits for KITS (from fl_host_kits), with the passwords the provisioner recorded (MADE)."""
    try:
        return federation.kit_installs(kits, made, owner, group, packages)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))


def fl_site_file_problems(sites, files, host, check_mode=False):
    """What is missing on machine HOST for its sites, by what fl_site_files found."""
    return federation.site_file_problems(sites, files, host, check_mode)


def fl_demo_jobs(sites, all_names, files, tool_sha1):
    """The demo data shares this machine's sites still need (fl_client's demo_data.py --jobs)."""
    return federation.demo_jobs(sites, list(all_names), files, tool_sha1)


def _fmt(value):
    if isinstance(value, float):
        return '%.4f' % value
    return str(value)


def fl_training_summary(summary):
    """Readable lines for a training summary {run_number, mmar, num_rounds, rounds_done, sites, contributions, metrics}."""
    if not isinstance(summary, dict):
        raise AnsibleFilterError('fl_training_summary expects a dictionary, got %s' % type(summary).__name__)
    contributions = summary.get('contributions') or {}
    lines = [
        'Run %s of %s: %s of %s round(s) done.' % (summary.get('run_number'), summary.get('mmar'),
                                                   summary.get('rounds_done'), summary.get('num_rounds')),
        'Contributions per site: %s' % ', '.join(
            '%s=%s' % (site, contributions.get(site, 0)) for site in summary.get('sites') or []),
    ]
    if summary.get('server_recovered'):
        lines.append('The server lost the run (it was restarted during the training): trained again from round 0.')
    if summary.get('missing_partners'):
        lines.append('Partner site(s) that had not joined when the run started, trained without: %s'
                     % ', '.join(summary['missing_partners']))
    if summary.get('healed'):
        lines.append('Restarted and brought back (a hung start, no progress, or no answer to the server): %s'
                     % ', '.join(summary['healed']))
    metrics = summary.get('metrics') or []
    if metrics:
        keys = [k for k in ('accuracy', 'auc', 'loss') if any(k in m for m in metrics)]
        lines.append('round  ' + '  '.join('%-8s' % k for k in keys))
        for entry in metrics:
            lines.append('%5s  ' % entry.get('round') + '  '.join('%-8s' % _fmt(entry.get(k, '')) for k in keys))
    else:
        lines.append('The MMAR wrote no validation metric%s: rounds and contributions are the engine\'s.'
                     % (' (no %s)' % summary['metrics_path'] if summary.get('metrics_path') else ''))
    matrix = summary.get('cross_site_validation')
    if isinstance(matrix, dict):
        lines.append('Cross-site validation (%s; rows: models, columns: the data of each site):' % (matrix.get('metric') or 'no metric'))
        lines.extend(matrix.get('lines') or matrix_lines(matrix))
        if matrix.get('aborted'):
            lines.append('Still validating after %s s, stopped (abort client): %s' % (
                matrix.get('timeout', '?'), ', '.join(matrix['aborted'])))
    return lines


def fl_status_table(status, summary=None):
    """Readable lines for the federation's status (clarafl.federation.fl_admin_info). The server resets its counters
    when a run ends: for the run it shows stopped, the rounds and contributions come from that run's SUMMARY."""
    if not isinstance(status, dict):
        raise AnsibleFilterError('fl_status_table expects a dictionary, got %s' % type(status).__name__)
    kept = summary if isinstance(summary, dict) and summary.get('run_number') is not None and \
        summary.get('run_number') == status.get('run_number') and status.get('server_status') != 'training started' \
        else None
    if kept:
        lines = ['server: %s, run %s: %s of %s round(s) done (from the run\'s summary)' % (
            status.get('server_status', '?'), kept['run_number'], kept.get('rounds_done', '?'),
            kept.get('num_rounds', '?'))]
    else:
        lines = ['server: %s, run %s, round %s of %s' % (
            status.get('server_status', '?'),
            status.get('run_number') if status.get('run_number') is not None else 'not set',
            status.get('current_round', '-'), status.get('max_round', '-'))]
    registered = dict((c.get('name'), c) for c in status.get('registered_clients') or [])
    clients = status.get('clients') or {}
    names = sorted(set(registered) | set(clients))
    lines.append('%-20s %-12s %-26s %-14s %s' % ('SITE', 'REGISTERED', 'STATUS', 'LAST ROUND', 'CONTRIBUTIONS'))
    for name in names:
        reg = registered.get(name, {})
        last = reg.get('last_accepted_round')
        count = (kept.get('contributions') or {}).get(name, '-') if kept else reg.get('contribution_count', '-')
        lines.append('%-20s %-12s %-26s %-14s %s' % (
            name, 'yes' if name in registered else 'no', (clients.get(name) or {}).get('status', '-'),
            '-' if last in (None, '') else last, count))
    if not names:
        lines.append('no site is registered')
    return lines


def fl_preflight_problems(variables, project, host_checks, hosts):
    """Every problem the first play found, as sentences: the variables' errors, the project's problems,
    then each host's, a problem that several hosts share said once with all their names."""
    problems = list((variables or {}).get('errors') or [])
    # Registered with failed_when false: a refusal shows as problems, or as a msg without the project built.
    if isinstance(project, dict) and not project.get('skipped'):
        if project.get('problems'):
            problems.extend(project['problems'])
        elif 'project' not in project and (project.get('failed') or project.get('msg')) and not problems:
            # a value the variables' check named already can make the module refuse its arguments
            problems.append(project.get('msg') or 'the provisioning project is not valid')
    by_text = {}
    order = []
    for host, result in zip(hosts, host_checks):
        if not isinstance(result, dict):
            continue
        if result.get('unreachable'):
            found = ['cannot be reached: %s' % (result.get('msg') or 'no reason given')]
        elif result.get('failed') and not result.get('problems'):
            found = [result.get('msg') or 'the host check failed']
        else:
            found = result.get('problems') or []
        for text in found:
            if text not in by_text:
                by_text[text] = []
                order.append(text)
            if host not in by_text[text]:
                by_text[text].append(host)
    for text in order:
        problems.append('%s: %s' % (', '.join(by_text[text]), text))
    return problems


def fl_problem_report(problems):
    """One message for a list of problems: how many, that nothing changed, one numbered line each."""
    if not isinstance(problems, (list, tuple)):
        raise AnsibleFilterError('fl_problem_report expects a list, got %s' % type(problems).__name__)
    lines = ['%d problem(s) found before any host was changed (nothing was changed):' % len(problems)]
    lines.extend('%d. %s' % (i, text) for i, text in enumerate(problems, 1))
    return '\n'.join(lines)


def fl_become_problems(hosts, results, hostvars=None, module=False):
    """The hosts where Ansible cannot become root, each with what to set (module_utils/federation.py)."""
    if not isinstance(results, (list, tuple)):
        raise AnsibleFilterError('fl_become_problems expects a list of results, got %s' % type(results).__name__)
    return federation.become_problems(_hosts(hosts, 'fl_become_problems'), results, hostvars or {}, module=module)


def fl_provisioning_todo(hosts, results, provisioner):
    """Why the provisioning role has work to do, one sentence each, from what fl_provisioned read on each of HOSTS
    (RESULTS, in the same order); [] when nothing is to do (module_utils/provisioned.py provisioning_todo)."""
    hosts = _hosts(hosts, 'fl_provisioning_todo')
    if not isinstance(results, (list, tuple)) or len(results) != len(hosts):
        raise AnsibleFilterError('fl_provisioning_todo expects one result per host')
    return provisioning_todo(dict((host, result if isinstance(result, dict) and not result.get('skipped') else None)
                                  for host, result in zip(hosts, results)), str(provisioner))


def fl_training_plan(state, summary, run_number, restart=False, status=None, sites=(), mmar='', num_rounds=None):
    """What fl_admin does with the run (module_utils/_training_plan.py plan_run): status None previews it (check mode);
    run_number None is the latest run the record names."""
    try:
        return plan_run(run_number, restart=restart, state=state, summary=summary, status=status, sites=sites,
                        mmar=mmar, num_rounds=num_rounds)
    except ValueError as exc:
        raise AnsibleFilterError('fl_training_plan: %s' % exc)


def fl_mmar_configs(server_text, client_text, settings=None, persistor=None, trainer=None, sites=None, demo=False,
                    cross_validation=None, optional=None):
    """The federated configs to upload with an MMAR and what was written into them (module_utils/mmar_config.py)."""
    return federated_configs(server_text, client_text, settings, persistor, trainer, sites or [], bool(demo),
                             cross_validation, optional or [])


def fl_run_summary(metrics_text, fields):
    """A run's summary: rounds from the engine, metrics only when the app wrote them (module_utils/mmar_config.py)."""
    if not isinstance(fields, dict):
        raise AnsibleFilterError('fl_run_summary expects a dictionary of fields, got %s' % type(fields).__name__)
    return run_summary(metrics_text, **fields)


def fl_summary_metrics(summary, metrics_text, metrics_path=None):
    """A run's summary (as fl_training wrote it) with the app's metrics added (module_utils/mmar_config.py)."""
    if not isinstance(summary, dict):
        raise AnsibleFilterError('fl_summary_metrics expects a summary dictionary, got %s' % type(summary).__name__)
    return with_metrics(summary, metrics_text, metrics_path)


def fl_app_leftovers(names):
    """Of the names in the server's kit folder, those an app left there (module_utils/mmar_config.py)."""
    if not isinstance(names, (list, tuple)):
        raise AnsibleFilterError('fl_app_leftovers expects a list of names, got %s' % type(names).__name__)
    return app_leftovers(names)


def fl_log_files(server_hosts, client_hosts, hostvars, project):
    """{server: 'host:path', site: 'host:path'}: where the engine's log.txt of each component is."""
    return federation.log_files(_hosts(server_hosts, 'fl_log_files'), _hosts(client_hosts, 'fl_log_files'),
                                hostvars, project)


def fl_site_kit_entries(names):
    """The kit root entries of departed sites: <site>, .kits/<site>.zip, .kits/<site>.zip.extracted."""
    if not isinstance(names, (list, tuple)):
        raise AnsibleFilterError('fl_site_kit_entries expects a list of site names, got %s' % type(names).__name__)
    return federation.site_kit_entries(names)


def fl_departed_registered(status, sites):
    """Sites the server still has registered that are not among SITES (module_utils/federation.py)."""
    if not isinstance(status, dict):
        raise AnsibleFilterError('fl_departed_registered expects the console status, got %s' % type(status).__name__)
    return federation.departed_registered(status, sites)


def fl_start_commands(hosts, hostvars):
    """start client / start_mgpu client <n> <site> for the sites of the client machines HOSTS."""
    return federation.start_commands(_hosts(hosts, 'fl_start_commands'), hostvars)


def fl_multi_gpu_sites(hosts, hostvars):
    """{site: GPU count} of the sites of the client machines HOSTS that start on several GPUs (start_mgpu)."""
    return federation.multi_gpu_sites(_hosts(hosts, 'fl_multi_gpu_sites'), hostvars)


class FilterModule(object):
    def filters(self):
        return {'fl_client_sites': fl_client_sites, 'fl_training_summary': fl_training_summary,
                'fl_kit_root': fl_kit_root, 'fl_container_name': fl_container_name, 'fl_super_admin': fl_super_admin,
                'fl_server_cn': fl_server_cn, 'fl_server_address': fl_server_address,
                'fl_machine_sites': fl_machine_sites, 'fl_site_containers': fl_site_containers,
                'fl_demo_jobs': fl_demo_jobs, 'fl_gpu_hosts': fl_gpu_hosts,
                'fl_gpu_request': fl_gpu_request, 'fl_dataset_checks': fl_dataset_checks, 'fl_host_kits': fl_host_kits,
                'fl_kit_root_entries': fl_kit_root_entries,
                'fl_kit_installs': fl_kit_installs, 'fl_site_file_problems': fl_site_file_problems,
                'fl_status_table': fl_status_table, 'fl_preflight_problems': fl_preflight_problems,
                'fl_problem_report': fl_problem_report, 'fl_training_plan': fl_training_plan,
                'fl_summary_metrics': fl_summary_metrics,
                'fl_mmar_configs': fl_mmar_configs, 'fl_log_files': fl_log_files,
                'fl_run_summary': fl_run_summary, 'fl_app_leftovers': fl_app_leftovers,
                'fl_site_kit_entries': fl_site_kit_entries, 'fl_departed_registered': fl_departed_registered,
                'fl_start_commands': fl_start_commands, 'fl_become_problems': fl_become_problems,
                'fl_multi_gpu_sites': fl_multi_gpu_sites, 'fl_engine_container': fl_engine_container,
                'fl_provisioning_todo': fl_provisioning_todo}
