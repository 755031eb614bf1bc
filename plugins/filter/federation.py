# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that read the federation out of the inventory."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.clarafl.federation.plugins.module_utils.training_plan import plan_run


def fl_client_sites(hosts, hostvars):
    """[{name, org, host}] of the client hosts: fl_client_name (default the inventory name) and fl_org."""
    if not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError('fl_client_sites expects a list of host names, got %s' % type(hosts).__name__)
    sites = []
    for host in hosts:
        hv = hostvars[host]
        sites.append({
            'name': hv.get('fl_client_name') or host,
            'org': hv.get('fl_org') or '',
            'host': host,
        })
    return sites


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
    if summary.get('healed'):
        lines.append('Restarted and brought back (their start hung or they stopped making progress): %s'
                     % ', '.join(summary['healed']))
    metrics = summary.get('metrics') or []
    if metrics:
        keys = [k for k in ('accuracy', 'auc', 'loss') if any(k in m for m in metrics)]
        lines.append('round  ' + '  '.join('%-8s' % k for k in keys))
        for entry in metrics:
            lines.append('%5s  ' % entry.get('round') + '  '.join('%-8s' % _fmt(entry.get(k, '')) for k in keys))
    else:
        lines.append('The MMAR reported no validation metric.')
    return lines


def fl_status_table(status):
    """Readable lines for the status the admin console module returns."""
    if not isinstance(status, dict):
        raise AnsibleFilterError('fl_status_table expects a dictionary, got %s' % type(status).__name__)
    lines = ['server: %s, run %s, round %s of %s' % (
        status.get('server_status', '?'), status.get('run_number') if status.get('run_number') is not None else 'not set',
        status.get('current_round', '-'), status.get('max_round', '-'))]
    registered = dict((c.get('name'), c) for c in status.get('registered_clients') or [])
    clients = status.get('clients') or {}
    names = sorted(set(registered) | set(clients))
    lines.append('%-20s %-12s %-26s %-14s %s' % ('SITE', 'REGISTERED', 'STATUS', 'LAST ROUND', 'CONTRIBUTIONS'))
    for name in names:
        reg = registered.get(name, {})
        last = reg.get('last_accepted_round')
        lines.append('%-20s %-12s %-26s %-14s %s' % (
            name, 'yes' if name in registered else 'no', (clients.get(name) or {}).get('status', '-'),
            '-' if last in (None, '') else last, reg.get('contribution_count', '-')))
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
        if result.get('failed') and not result.get('problems'):
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


def fl_training_plan(state, summary, run_number, restart=False, status=None, sites=(), mmar='', num_rounds=None):
    """What fl_admin does with the run (module_utils.training_plan.plan_run): status None previews it (check mode)."""
    try:
        return plan_run(run_number, restart=restart, state=state, summary=summary, status=status, sites=sites,
                        mmar=mmar, num_rounds=num_rounds)
    except ValueError as exc:
        raise AnsibleFilterError('fl_training_plan: %s' % exc)


def fl_round_lines(history, contributions=None):
    """One line per change of the server's state or round in a wait's readings, then the contributions."""
    if not isinstance(history, (list, tuple)):
        raise AnsibleFilterError('fl_round_lines expects a list, got %s' % type(history).__name__)
    lines = []
    last = None
    for status in history:
        if not isinstance(status, dict):
            continue
        key = (status.get('run_number'), status.get('server_status'), status.get('current_round'))
        if key == last:
            continue
        last = key
        line = 'run %s: %s' % ('?' if key[0] is None else key[0], key[1] or '?')
        if key[2] is not None:
            line += ', round %s of %s' % (key[2], status.get('max_round', '?'))
        lines.append(line)
    if contributions:
        lines.append('contributions so far: %s' % ', '.join('%s=%s' % (k, contributions[k]) for k in sorted(contributions)))
    return lines


class FilterModule(object):
    def filters(self):
        return {'fl_client_sites': fl_client_sites, 'fl_training_summary': fl_training_summary,
                'fl_status_table': fl_status_table, 'fl_preflight_problems': fl_preflight_problems,
                'fl_problem_report': fl_problem_report, 'fl_round_lines': fl_round_lines, 'fl_training_plan': fl_training_plan}
