# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's house rules, read from its files (PyYAML and ast only: no Docker, no playbook run).

1. A role's meta/argument_specs.yml (entry point main) and defaults/main.yml name the same variables, with the
   same plain values.
2. Every task file a playbook or a role calls with tasks_from has its own entry point in the called role's
   meta/argument_specs.yml, documented (short_description, options).
3. No task file includes itself.
4. Every module is documented (DOCUMENTATION, EXAMPLES, RETURN, the clarafl.federation.attributes fragment) and
   every filter has its <name>.yml documentation.
5. No Jinja statement ({% ... %}, a program) in the roles' task and vars files: decisions and loops live in
   filters and module_utils, with unit tests.
6. Includes go at most MAX_INCLUDE_DEPTH deep below a role's main.yml, and no role includes another role's
   task files.
7. Registered results are named __<role>_..., internal facts _<role>_... (the facts other roles read, PUBLIC_FACTS,
   excepted).
"""

from __future__ import absolute_import, division, print_function

import ast
import glob
import importlib
import os
import re

import pytest
import yaml

from ansible_collections.clarafl.federation.plugins.module_utils.inventory_check import tasks_in, undocumented, unrendered

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTION = "clarafl.federation"
ROLES = sorted(os.path.basename(os.path.dirname(path)) for path in glob.glob(os.path.join(REPO, "roles", "*", "tasks")))
PLAYBOOKS = sorted(glob.glob(os.path.join(REPO, "playbooks", "*.yml"))) + [os.path.join(REPO, "site.yml")]
ROLE_TASK_FILES = sorted(glob.glob(os.path.join(REPO, "roles", "*", "tasks", "*.yml")))
JINJA_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class _Loader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    """PyYAML's safe loader that reads Ansible's !unsafe strings as plain strings."""


_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def _load(path):
    with open(path) as handle:
        return yaml.load(handle, Loader=_Loader)  # nosec: a safe loader with one more string tag


def _read(path):
    with open(path) as handle:
        return handle.read()


def _rel(path):
    return os.path.relpath(path, REPO)


def _role_dir(role):
    return os.path.join(REPO, "roles", role)


def _entry_points(role):
    path = os.path.join(_role_dir(role), "meta", "argument_specs.yml")
    return ((_load(path) if os.path.isfile(path) else None) or {}).get("argument_specs") or {}


def _defaults(role):
    path = os.path.join(_role_dir(role), "defaults", "main.yml")
    return (_load(path) if os.path.isfile(path) else None) or {}


def _action(task, *short_names):
    """The arguments of TASK when it runs one of SHORT_NAMES (include_tasks, ...), in any spelling; else None."""
    for short in short_names:
        for key in (short, "ansible.builtin." + short, "ansible.legacy." + short):
            if key in task:
                return task[key] if task[key] is not None else {}
    return None


def _included_file(task):
    """The file an include_tasks/import_tasks task names, or None for any other task."""
    args = _action(task, "include_tasks", "import_tasks")
    if args is None:
        return None
    return args if isinstance(args, str) else args.get("file") or args.get("_raw_params")


def _role_call(task):
    """(role, tasks file) of an include_role/import_role task of this collection's roles, else None."""
    args = _action(task, "include_role", "import_role")
    if not isinstance(args, dict):
        return None
    name = str(args.get("name") or args.get("role") or "")
    role = name[len(COLLECTION) + 1:] if name.startswith(COLLECTION + ".") else name
    if role not in ROLES:
        return None
    tasks_from = args.get("tasks_from") or "main.yml"
    if not os.path.splitext(tasks_from)[1]:
        tasks_from += ".yml"
    return role, tasks_from


def _tasks_from_calls():
    """[(caller file, role, tasks file, tasks_from as written)] of every tasks_from in the playbooks and roles."""
    calls = []
    for path in PLAYBOOKS + ROLE_TASK_FILES:
        for task in tasks_in(_load(path)):
            args = _action(task, "include_role", "import_role")
            call = _role_call(task)
            if call and isinstance(args, dict) and args.get("tasks_from"):
                calls.append((_rel(path), call[0], call[1], args["tasks_from"]))
    return calls


TASKS_FROM_CALLS = _tasks_from_calls()
CALLED_ENTRY_POINTS = sorted(set((role, tasks_file) for _caller, role, tasks_file, _written in TASKS_FROM_CALLS))


def _expand(role, name):
    """The task files of ROLE a (possibly templated) include names: [file], or [] when it cannot be resolved.

    A name templated with one variable ("{{ clara_image_source }}.yml") stands for each of the variable's choices
    in the role's main argument spec.
    """
    if not unrendered(name):
        return [name]
    match = JINJA_VARIABLE.search(name)
    option = ((_entry_points(role).get("main") or {}).get("options") or {}).get(match.group(1)) if match else None
    if not option or not option.get("choices") or unrendered(JINJA_VARIABLE.sub("", name, count=1)):
        return []
    return [name.replace(match.group(0), str(choice)) for choice in option["choices"]]


def _includes(role, tasks_file):
    """([(role, tasks file)] that ROLE's TASKS_FILE includes or calls, [names it includes that cannot be resolved])."""
    targets, unresolved = [], []
    for task in tasks_in(_load(os.path.join(_role_dir(role), "tasks", tasks_file)) or []):
        included = _included_file(task)
        if included is not None:
            names = _expand(role, included)
            targets.extend((role, name) for name in names)
            if not names:
                unresolved.append(included)
        call = _role_call(task)
        if call:
            targets.append(call)
    return targets, unresolved


def _files_reached(role, tasks_file):
    """TASKS_FILE of ROLE and every task file of the same role it includes, directly or not."""
    seen, todo = [], [tasks_file]
    while todo:
        name = todo.pop()
        if name in seen or not os.path.isfile(os.path.join(_role_dir(role), "tasks", name)):
            continue
        seen.append(name)
        todo.extend(target for target_role, target in _includes(role, name)[0] if target_role == role)
    return seen


def _same(left, right):
    """LEFT equals RIGHT, types included (true is not 1, "1" is not 1)."""
    if isinstance(left, dict) and isinstance(right, dict):
        return sorted(left) == sorted(right) and all(_same(left[key], right[key]) for key in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(_same(a, b) for a, b in zip(left, right))
    return type(left) is type(right) and left == right


# --- 1. argument specs and defaults ---------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_the_main_entry_point_and_the_defaults_name_the_same_variables(role):
    main = _entry_points(role).get("main")
    assert main, "roles/%s/meta/argument_specs.yml has no main entry point" % role
    options = main.get("options") or {}
    defaults = _defaults(role)
    # Every default has a spec option of main (the helper the inventory check uses, here for main alone).
    problems = ["%s is set in defaults/main.yml but is no option of the main entry point" % name
                for name in undocumented({role: options}, {role: defaults}).get(role, [])]
    for name, option in sorted(options.items()):
        if "default" not in (option or {}):
            continue  # no default in the spec: the variable need not be in defaults/main.yml
        if name not in defaults:
            problems.append("%s has a default in the spec but none in defaults/main.yml" % name)
        elif not unrendered(option["default"]) and not unrendered(defaults[name]) \
                and not _same(option["default"], defaults[name]):
            problems.append("%s defaults to %r in the spec but to %r in defaults/main.yml"
                            % (name, option["default"], defaults[name]))
    assert problems == [], "roles/%s: %s" % (role, "; ".join(problems))


# --- 2. entry points of the task files called with tasks_from --------------------------------------------------

def test_every_tasks_from_is_found():
    # The YAML walk above finds every tasks_from a plain search finds (none hides in a form it does not read).
    written = 0
    for path in PLAYBOOKS + ROLE_TASK_FILES:
        written += sum(1 for line in _read(path).splitlines() if re.match(r"^\s*tasks_from\s*:", line))
    assert len(TASKS_FROM_CALLS) == written > 0


@pytest.mark.parametrize("role,tasks_file", CALLED_ENTRY_POINTS, ids=["%s/%s" % pair for pair in CALLED_ENTRY_POINTS])
def test_a_task_file_called_with_tasks_from_has_its_entry_point(role, tasks_file):
    assert os.path.isfile(os.path.join(_role_dir(role), "tasks", tasks_file)), (
        "roles/%s/tasks/%s is called with tasks_from but does not exist" % (role, tasks_file))
    entry_name = os.path.splitext(tasks_file)[0]
    entry = _entry_points(role).get(entry_name)
    assert isinstance(entry, dict), (
        "roles/%s/meta/argument_specs.yml has no entry point %s for tasks/%s, which %s call(s) with tasks_from"
        % (role, entry_name, tasks_file,
           ", ".join(sorted(set(c for c, r, t, _w in TASKS_FROM_CALLS if (r, t) == (role, tasks_file))))))
    assert isinstance(entry.get("short_description"), str) and entry["short_description"].strip(), (
        "entry point %s of role %s has no short_description" % (entry_name, role))
    # options: {} when the file reads nothing from outside the role's defaults, never left out.
    assert isinstance(entry.get("options"), dict), (
        "entry point %s of role %s has no options (write options: {} when it reads none)" % (entry_name, role))


def _main_options_of_all_roles():
    options = {}
    for role in ROLES:
        for name, option in ((_entry_points(role).get("main") or {}).get("options") or {}).items():
            options.setdefault(name, (role, option or {}))
    return options


@pytest.mark.parametrize("role", ROLES)
def test_the_other_entry_points_agree_with_main(role):
    # Ansible validates an entry point's options when a play calls the role with a tasks_from naming it, and the
    # inventory check (plugins/module_utils/inventory_check.py merge_specs) merges every entry point's options, a
    # later one over main: an option of another entry point must not weaken main's type, nor override the role's
    # defaults.
    main_options = _main_options_of_all_roles()
    defaults = _defaults(role)
    vars_text = "".join(_read(path) for path in sorted(glob.glob(os.path.join(_role_dir(role), "vars", "*.yml"))))
    problems = []
    for entry_name, entry in sorted(_entry_points(role).items()):
        if entry_name == "main":
            continue
        tasks_file = entry_name + ".yml"
        if not os.path.isfile(os.path.join(_role_dir(role), "tasks", tasks_file)):
            problems.append("entry point %s has no tasks/%s" % (entry_name, tasks_file))
            continue
        read = vars_text + "".join(_read(os.path.join(_role_dir(role), "tasks", name))
                                   for name in _files_reached(role, tasks_file))
        for name, option in sorted(((entry or {}).get("options") or {}).items()):
            option = option or {}
            if name in defaults and "default" in option:
                problems.append("%s.%s has a default: defaults/main.yml sets it" % (entry_name, name))
            if name in main_options:
                owner, main_option = main_options[name]
                for key in ("type", "elements"):
                    if option.get(key) != main_option.get(key):
                        problems.append("%s.%s has %s %r, the main entry point of %s %r" % (
                            entry_name, name, key, option.get(key), owner, main_option.get(key)))
            if not re.search(r"\b%s\b" % re.escape(name), read):
                problems.append("%s.%s is read neither by tasks/%s (and what it includes) nor by vars/"
                                % (entry_name, name, tasks_file))
    assert problems == [], "roles/%s/meta/argument_specs.yml: %s" % (role, "; ".join(problems))


# --- 3. no task file includes itself ---------------------------------------------------------------------------

def test_no_task_file_includes_itself():
    found = []
    for path in ROLE_TASK_FILES:
        role, name = path.split(os.sep)[-3], os.path.basename(path)
        for target_role, target in _includes(role, name)[0]:
            if (target_role, os.path.basename(target)) == (role, name):
                found.append(_rel(path))
    assert found == [], "task files that include themselves: %s" % ", ".join(sorted(set(found)))


# --- 4. documentation of the plugins ---------------------------------------------------------------------------

MODULES = sorted(p for p in glob.glob(os.path.join(REPO, "plugins", "modules", "*.py"))
                 if os.path.basename(p) != "__init__.py")


def _doc_strings(path):
    tree = ast.parse(_read(path), path)
    strings = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    strings[target.id] = node.value.value
    return strings


@pytest.mark.parametrize("path", MODULES, ids=[os.path.basename(p) for p in MODULES])
def test_a_module_is_documented(path):
    strings = _doc_strings(path)
    missing = [name for name in ("DOCUMENTATION", "EXAMPLES", "RETURN") if name not in strings]
    assert missing == [], "%s lacks %s" % (_rel(path), ", ".join(missing))
    loaded, broken = {}, []
    for name in ("DOCUMENTATION", "EXAMPLES", "RETURN"):
        try:
            loaded[name] = yaml.safe_load(strings[name])
        except yaml.YAMLError as exc:  # ansible-doc cannot read such a module's documentation either
            broken.append("%s is not valid YAML (%s)" % (name, " ".join(str(exc).split())))
    if broken:
        pytest.fail("%s: %s" % (_rel(path), "; ".join(broken)), pytrace=False)
    assert isinstance(loaded["DOCUMENTATION"], dict)
    assert loaded["DOCUMENTATION"].get("module") == os.path.splitext(os.path.basename(path))[0]
    fragments = loaded["DOCUMENTATION"].get("extends_documentation_fragment") or []
    fragments = [fragments] if isinstance(fragments, str) else fragments
    assert COLLECTION + ".attributes" in fragments, "%s does not extend %s.attributes" % (_rel(path), COLLECTION)


def _code_lines(path):
    """Lines of code of a module: not blank, not comments, not its documentation strings or docstrings."""
    text = _read(path)
    tree = ast.parse(text, path)
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in ("DOCUMENTATION", "EXAMPLES",
                                                                                     "RETURN") for t in node.targets):
            skipped.update(range(node.lineno, node.end_lineno + 1))
        elif isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body and \
                isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
            skipped.update(range(node.body[0].lineno, node.body[0].end_lineno + 1))
    return sum(1 for number, line in enumerate(text.splitlines(), 1)
               if line.strip() and not line.strip().startswith("#") and number not in skipped)


@pytest.mark.parametrize("path", MODULES, ids=[os.path.basename(p) for p in MODULES])
def test_a_module_is_thin_glue(path):
    """At most 150 lines of code per module: the work is in module_utils, where it is unit-tested."""
    assert _code_lines(path) <= 150, "%s has %d lines of code" % (_rel(path), _code_lines(path))


def test_no_module_utils_file_of_the_admin_side_is_long():
    admin = ["_admin_console.py", "_admin_driver.py", "_dialect_clara40.py", "_engine_log.py", "_training.py",
             "_training_plan.py", "_training_sites.py"]
    long_files = [(name, len(_read(os.path.join(REPO, "plugins", "module_utils", name)).splitlines()))
                  for name in admin]
    assert [f for f in long_files if f[1] > 600] == []


def _filters():
    """{filter name: plugins/filter/<file>.py} of every FilterModule of the collection."""
    filters = {}
    for path in sorted(glob.glob(os.path.join(REPO, "plugins", "filter", "*.py"))):
        stem = os.path.splitext(os.path.basename(path))[0]
        module = importlib.import_module("ansible_collections.clarafl.federation.plugins.filter." + stem)
        if hasattr(module, "FilterModule"):
            for name in module.FilterModule().filters():
                filters[name] = _rel(path)
    return filters


def test_every_filter_has_its_documentation():
    filters = _filters()
    assert filters
    problems = []
    for name, source in sorted(filters.items()):
        doc_file = os.path.join(REPO, "plugins", "filter", name + ".yml")
        if not os.path.isfile(doc_file):
            problems.append("%s (%s) has no plugins/filter/%s.yml" % (name, source, name))
        elif ((_load(doc_file) or {}).get("DOCUMENTATION") or {}).get("name") != name:
            problems.append("plugins/filter/%s.yml does not document %s (DOCUMENTATION.name)" % (name, name))
    orphans = sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(REPO, "plugins", "filter", "*.yml"))
                     if os.path.basename(p)[:-4] not in filters)
    problems.extend("plugins/filter/%s.yml documents no filter" % name for name in orphans)
    assert problems == [], "; ".join(problems)


# --- 5. no Jinja programs in tasks and vars --------------------------------------------------------------------

MAX_INCLUDE_DEPTH = 3
# Jinja statements that are no program: a Go template kept raw for docker's --format.
RAW_BLOCK = re.compile(r"\{%-?\s*raw\s*-?%\}.*?\{%-?\s*endraw\s*-?%\}", re.S)


def test_no_jinja_statements_in_tasks_and_vars():
    found = {}
    for path in sorted(glob.glob(os.path.join(REPO, "roles", "*", "tasks", "*.yml"))
                       + glob.glob(os.path.join(REPO, "roles", "*", "vars", "*.yml"))):
        count = RAW_BLOCK.sub("", _read(path)).count("{%")
        if count:
            found[_rel(path)] = count
    assert found == {}, "Jinja statements ({%%) in task or vars files (use a filter): %s" % found


# --- 6. include depth, and no role reaching into another -------------------------------------------------------

def _deepest(role, tasks_file, chain=()):
    """(depth, chain of "role/file", [cycles], [unresolved]) of the deepest include path from ROLE's TASKS_FILE."""
    here = (role, tasks_file)
    chain = chain + (here,)
    if not os.path.isfile(os.path.join(_role_dir(role), "tasks", tasks_file)):
        return 0, chain, [], []
    targets, unresolved = _includes(role, tasks_file)
    unresolved = ["%s/%s: %s" % (role, tasks_file, name) for name in unresolved]
    best, cycles = (0, chain), []
    for target in targets:
        if target in chain:
            cycles.append(" -> ".join("%s/%s" % step for step in chain + (target,)))
            continue
        depth, sub_chain, sub_cycles, sub_unresolved = _deepest(target[0], target[1], chain)
        cycles.extend(sub_cycles)
        unresolved.extend(sub_unresolved)
        if depth + 1 > best[0]:
            best = (depth + 1, sub_chain)
    return best[0], best[1], cycles, unresolved


@pytest.mark.parametrize("role", ROLES)
def test_include_depth_below_main(role):
    depth, chain, cycles, _unresolved = _deepest(role, "main.yml")
    assert cycles == []
    assert depth <= MAX_INCLUDE_DEPTH, "roles/%s: includes %d deep (at most %d): %s" % (
        role, depth, MAX_INCLUDE_DEPTH, " -> ".join("%s/%s" % step for step in chain))


def test_no_role_includes_another_roles_task_files():
    found = []
    for path in ROLE_TASK_FILES:
        role, name = path.split(os.sep)[-3], os.path.basename(path)
        for task in tasks_in(_load(path) or []):
            call = _role_call(task)
            if call and call[0] != role:
                found.append("roles/%s/tasks/%s -> %s/%s" % (role, name, call[0], call[1]))
    assert found == []


# --- 7. names of registered results and facts ------------------------------------------------------------------

# Facts a role sets for other roles and playbooks to read: its outputs, named as public variables.
PUBLIC_FACTS = {"zerotier_address", "zerotier_addresses", "zerotier_node_id", "clara_image_runtime"}


def _set_facts(task):
    args = _action(task, "set_fact")
    return [k for k in args if k != "cacheable"] if isinstance(args, dict) else []


def test_registered_results_and_internal_facts_carry_the_role_prefix():
    found = []
    for path in ROLE_TASK_FILES + sorted(glob.glob(os.path.join(REPO, "roles", "*", "handlers", "*.yml"))):
        role = path.split(os.sep)[-3]
        for task in tasks_in(_load(path) or []):
            registered = task.get("register")
            if isinstance(registered, str) and not registered.startswith("__%s_" % role):
                found.append("%s: register %s (name it __%s_...)" % (_rel(path), registered, role))
            for fact in _set_facts(task):
                if fact not in PUBLIC_FACTS and not fact.startswith("_%s_" % role):
                    found.append("%s: set_fact %s (name it _%s_...)" % (_rel(path), fact, role))
    assert found == [], "\n".join(found)


def test_info_entry_points_validated_at_run_time():
    # ansible-core looks the entry point up by tasks_from as written: tasks_from: lock.yml finds no entry point
    # "lock" (nor validates anything); tasks_from: lock does. The specs above document the entry points either way.
    with_extension = sorted(set("%s -> %s (tasks_from: %s)" % (caller, role, written)
                                for caller, role, _tasks_file, written in TASKS_FROM_CALLS
                                if os.path.splitext(written)[1]))
    print("\n[house rules, informational] tasks_from calls whose entry point Ansible does not validate at run time"
          " (written with .yml): %d of %d" % (len(with_extension), len(TASKS_FROM_CALLS)))
    for call in with_extension:
        print("  " + call)


# --- 8. no unused variables ------------------------------------------------------------------------------------

def _role_variables(role):
    names = set(_defaults(role))
    for path in glob.glob(os.path.join(_role_dir(role), "vars", "*.yml")):
        names.update(_load(path) or {})
    return names


def test_every_role_variable_is_read():
    texts = [_read(path) for pattern in ("roles/*/tasks/*.yml", "roles/*/handlers/*.yml", "roles/*/vars/*.yml",
                                         "roles/*/defaults/*.yml", "roles/*/templates/*", "playbooks/*.yml",
                                         "molecule/*/*.yml")
             for path in glob.glob(os.path.join(REPO, pattern)) if os.path.isfile(path)]
    unused = []
    for role in ROLES:
        for name in sorted(_role_variables(role)):
            pattern = re.compile(r"(?<![\w.])%s\b(?!\s*:)" % re.escape(name))
            if not any(pattern.search(text) for text in texts):
                unused.append("%s: %s" % (role, name))
    assert unused == [], "variables set but never read: %s" % ", ".join(unused)
