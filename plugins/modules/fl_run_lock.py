#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: fl_run_lock
short_description: Take or release the run lock of a project, so that two runs cannot act on it at once
version_added: 0.2.0
author: clarafl.federation maintainers (@clarafl)
description:
  - Keeps a lock file (JSON, mode C(0600)) that names the C(ansible-playbook) run acting on a project - its
    random token, controller, process id, user, playbook and start time. Its folder is created with mode
    C(0700) when missing.
  - With O(state=present) the lock is taken when it is free (the file is created with C(O_CREAT|O_EXCL), so of
    two runs racing for it exactly one wins), kept when it holds the token of O(holder), and refused - the module
    fails naming the other run - when another run holds it, unless O(steal=true).
  - A lock file that cannot be parsed (empty or garbled) counts as held by an unknown run.
  - With O(state=absent) the lock is removed when it holds the token of O(holder); a lock of another run is left
    alone and reported in RV(holder). The folders the lock had to create are removed with it when they are empty,
    so that a run refused later on leaves nothing behind for a project that never existed.
  - With O(state=heartbeat) the lock's heartbeat becomes now, when it holds the token of O(holder); the module fails
    when another run holds it (it was taken over or broken) or it is gone.
  - The lock file records when its holder last said it is alive (C(heartbeat), on the lock host's clock) and
    O(expiry). A lock of another controller (one whose run this controller cannot look at, such as an AWX job in a
    container of its own) that has had no heartbeat for O(expiry) seconds is taken over, and the result says so.
  - A refused lock creates nothing (no lock file, no folder).
  - The lock is bookkeeping; the module reports C(changed) when it writes or removes the file.
  - Use the P(clarafl.federation.run_holder#filter) filter to build O(holder) once per run.
  - The module's action plugin runs on the controller, the only place that can tell whether the run holding a lock
    is still going - P(clarafl.federation.run_lock_stale#filter). A lock left by a run of this controller that is
    over is taken over (the result has RV(stolen_from) and a C(msg) that says so); a lock of another controller's
    run is only taken once it has expired, or with O(steal=true).
options:
  path:
    description: The lock file.
    type: path
    required: true
  state:
    description:
      - V(present) takes the lock for O(holder).
      - V(absent) releases it when it holds the token of O(holder).
      - V(heartbeat) says that the run holding it is alive.
    type: str
    choices: [present, absent, heartbeat]
    default: present
  expiry:
    description:
      - With O(state=present), the seconds without a heartbeat after which a run of another controller may take the
        lock over. V(0) for never (then only O(steal=true) takes it).
    type: int
    default: 3600
  holder:
    description:
      - The run that takes or releases the lock. With O(state=absent) only its C(token) is used.
    type: dict
    required: true
    suboptions:
      token:
        description: Random token of the run (for example C(uuid4) hex); the lock is the run's when it holds it.
        type: str
        required: true
      controller:
        description: Host name of the controller the run is on.
        type: str
      pid:
        description: Process id of the run's C(ansible-playbook) process on the controller.
        type: int
      user:
        description: User that runs the playbook.
        type: str
      playbook:
        description: Name of the playbook.
        type: str
      started:
        description: When the run started, UTC, as C(YYYY-MM-DDTHH:MM:SSZ).
        type: str
  steal:
    description:
      - With O(state=present), take the lock even when another run (or an unknown one) holds it, replacing the
        file atomically; the previous holder is returned in RV(stolen_from).
      - Only for a stale lock, left by a run that died; two live runs would both act.
      - Not used with O(state=absent).
    type: bool
    default: false
notes:
  - Runs wherever the lock file is; for a lock on the controller, delegate the task to C(localhost).
extends_documentation_fragment:
  - clarafl.federation.attributes
attributes:
  check_mode:
    support: full
    details:
      - With O(state=present) only reads the lock and reports whether it is free, held by O(holder) or held by
        another run (RV(held_by_other), RV(holder)) - without failing for another run, so that a preview can warn.
      - With O(state=absent) does nothing.
  diff_mode:
    support: none
  platform:
    support: full
"""

EXAMPLES = r"""
- name: Describe this run once
  ansible.builtin.set_fact:
    fl_run_holder: "{{ 'site.yml' | clarafl.federation.run_holder }}"
  run_once: true
  delegate_to: localhost
  delegate_facts: true

- name: Take the run lock of the project
  clarafl.federation.fl_run_lock:
    path: "{{ playbook_dir }}/.clarafl/{{ fl_project_name }}.lock"
    holder: "{{ hostvars['localhost'].fl_run_holder }}"
    steal: "{{ fl_run_lock_steal | default(false) | bool }}"
  run_once: true
  delegate_to: localhost
  changed_when: false

- name: Release it at the end
  clarafl.federation.fl_run_lock:
    path: "{{ playbook_dir }}/.clarafl/{{ fl_project_name }}.lock"
    holder: "{{ hostvars['localhost'].fl_run_holder }}"
    state: absent
  run_once: true
  delegate_to: localhost
  changed_when: false
"""

RETURN = r"""
acquired:
  description:
    - Whether the lock is held by O(holder) after the task (with O(state=present)); in check mode, whether it
      would be.
  returned: always
  type: bool
  sample: true
released:
  description: Whether the lock file was removed (with O(state=absent)).
  returned: always
  type: bool
  sample: false
held_by_other:
  description:
    - Whether the lock was held by another run (or an unknown one, for a file that cannot be parsed) - refused,
      stolen (O(steal=true)) or, with O(state=absent), left alone.
  returned: always
  type: bool
  sample: false
holder:
  description:
    - The holder the lock file named before the task - another run, or O(holder) itself when the lock was
      already taken or is released; V(null) when there was no lock file.
    - For a file that cannot be parsed, C(user) and C(controller) are V(unknown) and C(unreadable) is V(true).
  returned: always
  type: dict
  sample:
    token: 3f9a0c2e5b6d4e8f9a0b1c2d3e4f5a6b
    controller: ctl-1
    pid: 4242
    user: root
    playbook: site.yml
    started: "2026-11-30T02:10:00Z"
stolen_from:
  description: The holder the lock was taken from, with O(steal=true); V(null) otherwise.
  returned: always
  type: dict
  sample: null
msg:
  description:
    - With O(steal=true) and another holder, says whose lock was taken over (C(Took over the run lock <path> from
      <holder>.), in check mode C(Would take over ...)).
    - In check mode, when another run holds the lock, the message the task would fail with.
  returned: when the lock was stolen, or in check mode when another run holds it
  type: str
  sample: "Took over the run lock /var/lib/clarafl/clarafl_prod.lock from run 3f9a... by root on ctl-1 (...)."
description:
  description: One sentence naming RV(holder), or V(null) when there was no lock file.
  returned: always
  type: str
  sample: "run 3f9a... by root on ctl-1 (ansible-playbook pid 4242, playbook site.yml) since 2026-11-30T02:10:00Z"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.clarafl.federation.plugins.module_utils.run_lock import (
    DEFAULT_EXPIRY,
    RunLockError,
    acquire,
    check,
    describe,
    heartbeat,
    release,
)

HOLDER_SPEC = dict(
    token=dict(type="str", required=True, no_log=False),
    controller=dict(type="str"),
    pid=dict(type="int"),
    user=dict(type="str"),
    playbook=dict(type="str"),
    started=dict(type="str"),
)


def refusal_message(holder, path):
    return ("Another run holds the lock of this project: %s. Wait for it to finish; if no run is going on (the holder "
            "died), clear the stale lock with -e fl_run_lock_steal=true or remove %s." % (describe(holder), path))


def takeover_message(path, holder, check_mode, gone):
    why = " (it had expired: no heartbeat from its run, on another controller, within its expiry)" if gone else ""
    verb = "Would take over" if check_mode else "Took over"
    return "%s the run lock %s from %s%s." % (verb, path, describe(holder), why)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            state=dict(type="str", choices=["present", "absent", "heartbeat"], default="present"),
            holder=dict(type="dict", required=True, options=HOLDER_SPEC),
            steal=dict(type="bool", default=False),
            expiry=dict(type="int", default=DEFAULT_EXPIRY),
        ),
        supports_check_mode=True,
    )
    p = module.params
    holder = p["holder"]
    result = dict(changed=False, acquired=False, released=False, held_by_other=False, holder=None,
                  stolen_from=None, description=None, expired=False, refreshed=False)
    if p["expiry"] < 0:
        module.fail_json(msg="expiry must be 0 (never) or a number of seconds, got %d" % p["expiry"], **result)
    try:
        if p["state"] == "heartbeat":
            if not module.check_mode:
                outcome = heartbeat(p["path"], holder)
                result.update(changed=outcome["refreshed"], refreshed=outcome["refreshed"], holder=outcome["holder"],
                              held_by_other=outcome["holder"] is not None and not outcome["refreshed"])
                if not outcome["refreshed"]:
                    module.fail_json(msg="This run no longer holds the run lock %s: %s." % (
                        p["path"], ("another run took it over: %s" % describe(outcome["holder"]))
                        if outcome["holder"] else "it was removed (broken by playbooks/stop.yml, or by hand)"),
                        **result)
            module.exit_json(**result)
        if p["state"] == "absent":
            if not module.check_mode:
                outcome = release(p["path"], holder["token"])
                result.update(changed=outcome["changed"], released=outcome["released"], holder=outcome["holder"],
                              held_by_other=outcome["held_by_other"])
        else:
            if module.check_mode:
                outcome = check(p["path"], holder, steal=p["steal"])
            else:
                outcome = acquire(p["path"], holder, steal=p["steal"], expiry=p["expiry"])
            result.update(changed=outcome["changed"], acquired=outcome["acquired"], holder=outcome["holder"],
                          held_by_other=outcome["held_by_other"], stolen_from=outcome["stolen_from"],
                          expired=outcome["expired"])
    except (RunLockError, ValueError) as exc:
        module.fail_json(msg=str(exc), **result)
    if result["holder"] is not None:
        result["description"] = describe(result["holder"])
    if p["state"] == "present" and not result["acquired"]:
        if not module.check_mode:
            module.fail_json(msg=refusal_message(result["holder"], p["path"]), **result)
        result["msg"] = refusal_message(result["holder"], p["path"])
    elif result["stolen_from"] is not None:
        result["msg"] = takeover_message(p["path"], result["stolen_from"], module.check_mode, result["expired"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
