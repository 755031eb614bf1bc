# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the engine's own logs say about a training: the lines that explain a failure, and the rounds the
server aggregated.

The server and every site write ``log.txt`` in their kit folder (the folder the admin console's ``tail`` and
``grep`` read: ``tail server -n 200 log.txt``, ``tail <site> -n 200 log.txt``). An app's failure (an import
error, a config key the engine needs, a persistor that raises) is written there and nowhere else: the admin
console only says "Server training has not started." or keeps showing the site as training.

Only the latest attempt counts: the text after the last line where the engine starts a training
(``START_MARKERS``), so an older run's error is never quoted for a new one. Plain functions, no I/O.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

LOG_FILE = "log.txt"
TAIL_LINES = 200
# Lines the engine writes when a training (or its start) begins, on the server and on a site.
START_MARKERS = ("Starting client training", "Create initial model message", "Server training has been started",
                 "deployed FL server trainer")
# The server's line per aggregated round (0-based engine round), and its line when a training starts.
ROUND_LINE = "Aggregation time for the round"
STARTED_LINE = "Server training has been started"
MAX_QUOTED = 5
MAX_LINE = 300

_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ - \S+ - [A-Z]+ - ")
_ENGINE_SAYS = re.compile(r"(?:FL (?:client|server) )?execution exception: .+", re.IGNORECASE)
# A site started with start_mgpu runs ``python -m torch.distributed.launch``; an image without torch says only:
# "/usr/local/bin/python: Error while finding module specification for 'torch.distributed.launch' (...)".
_LAUNCH_FAILED = re.compile(r"Error while finding module specification for '[^']+' \(.+\)")
# "ValueError: ...", "dlmed.common.excepts.ConfigError: ...", "KeyError: 'heart_beat_timeout'"; not warnings.
_EXCEPTION = re.compile(r"^(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt)(?::\s.*)?$")
# A frame of the app's own code (its custom/ folder), e.g. File ".../run_2/mmar_server/custom/x.py", line 9, in f
_APP_FRAME = re.compile(r'^File "[^"]*/custom/([^"]+)", line (\d+), in (\S+)$')
_ROUND = re.compile(r"^(\d+):.*" + re.escape(ROUND_LINE) + r"\s+(\d+)")
_STARTED = re.compile(r"^(\d+):.*" + re.escape(STARTED_LINE))


def _text(value):
    """TEXT as a str: bytes decoded, anything else that is not text counts as empty."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else ""


def _clip(line):
    line = line.strip()
    return line if len(line) <= MAX_LINE else line[:MAX_LINE - 3] + "..."


def latest_attempt(text):
    """The lines of TEXT after (and with) the last line where a training starts; all of them without one."""
    lines = _text(text).splitlines()
    start = 0
    for index, line in enumerate(lines):
        if any(marker in line for marker in START_MARKERS):
            start = index
    return lines[start:]


def failure_lines(text):
    """The lines of a log (server or site) that explain why its latest training attempt failed, in the order
    they were written: the engine's own "execution exception" line, the first and the last exception of its
    tracebacks (the cause and what the engine made of it), and the app's own frame. [] when nothing failed."""
    said, exceptions, frames = [], [], []
    attempt = latest_attempt(text)
    # A failure is a traceback or the engine saying so; an exception name in a healthy log is not one.
    if not any("Traceback (most recent call last)" in line or _ENGINE_SAYS.search(line) or _LAUNCH_FAILED.search(line)
               for line in attempt):
        return []
    for raw in attempt:
        line = _TIMESTAMP.sub("", raw.strip())
        if not line:
            continue
        match = _ENGINE_SAYS.search(line) or _LAUNCH_FAILED.search(line)
        if match:
            said.append(match.group(0))
            continue
        if _EXCEPTION.match(line):
            exceptions.append(line)
            continue
        frame = _APP_FRAME.match(line)
        if frame:
            name, number, func = frame.groups()
            frames.append("in the app's custom/%s, line %s, in %s" % (name, number, func))
    picked = said[-1:] + exceptions[:1] + exceptions[-1:] + frames[-1:]
    out = []
    for line in picked:
        line = _clip(line)
        if line not in out:
            out.append(line)
    return out[:MAX_QUOTED]


def rounds_aggregated(rounds_grep, started_grep):
    """The rounds the server aggregated in its latest training, from two ``grep server -n`` replies: the lines
    with ROUND_LINE and the lines with STARTED_LINE. None when the log shows no training started."""
    starts = [int(m.group(1)) for m in (_STARTED.match(l.strip()) for l in _text(started_grep).splitlines()) if m]
    if not starts:
        return None
    last = max(starts)
    rounds = set()
    for line in _text(rounds_grep).splitlines():
        match = _ROUND.match(line.strip())
        if match and int(match.group(1)) > last:
            rounds.add(int(match.group(2)))
    return len(rounds)


def tail_command(target, lines=TAIL_LINES):
    """The admin command that reads the end of TARGET's (``server`` or a site's) log."""
    return "tail %s -n %d %s" % (target, int(lines), LOG_FILE)


def rounds_commands():
    """The admin commands whose replies rounds_aggregated reads, in that order."""
    return ['grep server -n "%s" %s' % (ROUND_LINE, LOG_FILE), 'grep server -n "%s" %s' % (STARTED_LINE, LOG_FILE)]


def quote_failures(failures, log_files=None):
    """Readable lines for {target: [lines]}: which log said what, the file named by LOG_FILES
    ({target: 'host:path'}) when it is known."""
    log_files = log_files if isinstance(log_files, dict) else {}
    failures = failures if isinstance(failures, dict) else {}
    out = []
    for target in sorted(failures, key=lambda t: (t != "server", str(t))):
        lines = failures[target]
        if not lines:
            continue
        where = log_files.get(target)
        out.append("%s (%s%s):" % ("the server" if target == "server" else "site " + target, LOG_FILE,
                                   " at " + where if where else " in its kit folder"))
        out.extend("    " + line for line in lines)
    return out
