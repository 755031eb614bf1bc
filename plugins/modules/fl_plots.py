#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: fl_plots
short_description: Draw PNG plots of a training run from its summary
version_added: 0.2.0
author: clarafl.federation maintainers (@clarafl)
description:
  - Draws, into O(dest), the plots of a training run from the summary the fl_admin role puts together
    (clarafl.federation.fl_run_summary) - C(validation.png), the validation metric(s) per round, and C(loss.png),
    the loss per round, each only when the app's metrics records hold it; C(contributions.png), the rounds each site
    contributed; and, with O(matrix), C(cross_site_validation.png), each model's result on each site's data.
  - Meant for the controller (a task delegated to C(localhost)), where matplotlib is installed with the collection's
    requirements. Without matplotlib nothing is drawn and RV(notes) says so; the module does not fail.
  - The digest of what the plots are drawn from is kept in C(.plots.json) in O(dest); the same inputs again write
    nothing (C(changed) is false). A plot that the inputs no longer make (one an earlier drawing made there) is
    removed.
options:
  summary:
    description:
      - The run's summary, a dictionary as clarafl.federation.fl_run_summary returns it. The plots read its
        C(run_number), C(mmar), C(metrics) (records with C(round) and numeric fields; fields named C(*loss*) go to the
        loss plot, the others but C(session), C(engine_round), C(n_valid) to the validation plot), C(sites) and
        C(contributions).
    type: dict
    required: true
  dest:
    description: The folder the PNGs go to, created with O(dir_mode) when missing.
    type: path
    required: true
  matrix:
    description:
      - A cross-site validation matrix, drawn as a heatmap with each cell's value written in it.
      - C(models), the rows (e.g. the sites' local models and V(global)); C(sites), the columns (the site whose data
        each model was validated on); C(values), a number or null for each model and site (C(values[model][site])),
        null (or a missing cell) for no result, drawn hatched; C(metric), the metric's name.
      - A matrix that names no models or no sites is not drawn and RV(notes) says so.
    type: dict
  mode:
    description: Permissions of the PNGs and of C(.plots.json), octal.
    type: str
    default: '0644'
  dir_mode:
    description: Permissions of O(dest) when the module creates it, octal.
    type: str
    default: '0755'
extends_documentation_fragment:
  - clarafl.federation.attributes
attributes:
  check_mode:
    support: full
    details: Says in RV(files) and C(changed) what a real run would write, and writes nothing.
  diff_mode:
    support: none
  platform:
    support: full
requirements:
  - matplotlib (optional; without it the module returns a note instead of plots)
notes:
  - The PNGs carry no timestamp or software tag, so the same data draws the same bytes, and a copy of them to
    another host stays unchanged on a rerun.
seealso:
  - module: clarafl.federation.fl_admin_console
"""

EXAMPLES = r"""
- name: Draw the run's plots on the controller
  clarafl.federation.fl_plots:
    summary: "{{ _fl_admin_summary }}"
    dest: /tmp/clarafl-plots/run_1
  delegate_to: localhost
  register: plots

- name: With a cross-site validation matrix, private to the owner's group
  clarafl.federation.fl_plots:
    summary: "{{ _fl_admin_summary }}"
    dest: /opt/clarafl/clarafl_prod/admin/run_1-plots
    mode: '0640'
    dir_mode: '0750'
    matrix:
      metric: accuracy
      models: [org1-a, org2, global]
      sites: [org1-a, org2]
      values:
        org1-a: {org1-a: 0.95, org2: 0.91}
        org2: {org1-a: null, org2: 0.93}
        global: {org1-a: 0.96, org2: 0.95}
  delegate_to: localhost
"""

RETURN = r"""
dest:
  description: The folder, absolute.
  returned: always
  type: str
  sample: /tmp/clarafl-plots/run_1
files:
  description: The PNGs the inputs make, in O(dest) (in check mode, those a real run would have there).
  returned: always
  type: list
  elements: str
  sample: [/tmp/clarafl-plots/run_1/validation.png, /tmp/clarafl-plots/run_1/loss.png,
           /tmp/clarafl-plots/run_1/contributions.png]
notes:
  description: One line for each plot not drawn, and why (no metrics, no matplotlib, an unusable matrix).
  returned: always
  type: list
  elements: str
  sample: ["No plots: matplotlib is not installed on the controller (pip install matplotlib)"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.clarafl.federation.plugins.module_utils.plots import PlotsError, plot_run


def _octal(module, name):
    value = module.params[name]
    try:
        mode = int(str(value), 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o7777:
        module.fail_json(msg="%s must be an octal mode such as 0644, got %r" % (name, value))
    return mode


def main():
    module = AnsibleModule(
        argument_spec=dict(
            summary=dict(type="dict", required=True),
            dest=dict(type="path", required=True),
            matrix=dict(type="dict"),
            mode=dict(type="str", default="0644"),
            dir_mode=dict(type="str", default="0755"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    mode, dir_mode = _octal(module, "mode"), _octal(module, "dir_mode")
    try:
        result = plot_run(p["summary"], p["dest"], matrix=p["matrix"], mode=mode, dir_mode=dir_mode,
                          check_mode=module.check_mode)
    except PlotsError as exc:
        module.fail_json(msg=str(exc))
    except (IOError, OSError) as exc:
        module.fail_json(msg="cannot write the plots into %s: %s" % (p["dest"], exc))
    module.exit_json(changed=result["changed"], dest=result["dest"], files=result["files"], notes=result["notes"])


if __name__ == "__main__":
    main()
