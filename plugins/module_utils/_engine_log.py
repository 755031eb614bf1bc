# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the engine's own logs say about a training: the lines that explain an app's failure, the engine's own
complaints (which are not the app's), and the rounds the server aggregated.

The server and every site write ``log.txt`` in their kit folder (the folder the admin console's ``tail`` and
``grep`` read). An app's failure (an import error, a config key the engine needs, a persistor that raises) is
written there and nowhere else: the admin console only says "Server training has not started." or keeps showing
the site as training.

Two kinds of traceback appear there, and they are told apart by their frames (the dialect's APP_LOADING_FRAMES,
APP_FRAME and ENGINE_OWN_FRAMES): the app's, through its ``custom/`` code or the engine loading its configs and
classes, which fail the training; and the engine's own, such as its admin command handler answering for a site
that gave no reply (``AttributeError: 'NoneType' object has no attribute 'body'`` on the server when a site was
killed), which say that a site is gone: a site to bring back, never an app to blame.

Only the latest attempt counts: the text after the last line where the engine starts a training, so an older
run's error is never quoted for a new one. Plain functions, no I/O.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.clarafl.federation.plugins.module_utils import _dialect_clara40 as default_dialect

TAIL_LINES = 200
MAX_QUOTED = 5
MAX_LINE = 300


def _text(value):
    """VALUE as a str: bytes decoded, anything else that is not text counts as empty."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else ""


def _clip(line):
    line = line.strip()
    return line if len(line) <= MAX_LINE else line[:MAX_LINE - 3] + "..."


def latest_attempt(text, dialect=default_dialect):
    """The lines of TEXT after (and with) the last line where a training starts; all of them without one."""
    lines = _text(text).splitlines()
    start = 0
    for index, line in enumerate(lines):
        if any(marker in line for marker in dialect.START_MARKERS):
            start = index
    return lines[start:]


def _frames(block, dialect):
    return [m.group("file") for m in (dialect.FRAME.match(line.strip()) for line in block) if m]


def _blocks(lines, dialect):
    """(start, end) of each traceback in LINES: from its "Traceback" line to its first exception line."""
    out = []
    index = 0
    while index < len(lines):
        if dialect.TRACEBACK in lines[index]:
            end = index + 1
            while end < len(lines) and not dialect.EXCEPTION_LINE.match(dialect.LOG_PREFIX.sub("", lines[end].strip())):
                if dialect.TRACEBACK in lines[end] or (dialect.LOG_PREFIX.match(lines[end]) and end > index + 1):
                    end -= 1
                    break
                end += 1
            out.append((index, min(end, len(lines) - 1)))
            index = end + 1
        else:
            index += 1
    return out


def _engine_own(block, dialect):
    """A traceback of the engine's own handling (admin commands, connections), not of the app."""
    frames = _frames(block, dialect)
    if any(re.search(p, f) for p in dialect.ENGINE_OWN_FRAMES for f in frames):
        return True
    last = dialect.LOG_PREFIX.sub("", block[-1].strip()) if block else ""
    return not frames and any(re.search(p, last, re.IGNORECASE) for p in dialect.ENGINE_COMPLAINTS)


def split_attempt(text, dialect=default_dialect):
    """(app_lines, engine_lines): the latest attempt's lines without the engine's own tracebacks and complaints,
    and the exception lines of those (each once)."""
    lines = latest_attempt(text, dialect)
    engine, dropped = [], set()
    for start, end in _blocks(lines, dialect):
        block = lines[start:end + 1]
        if _engine_own(block, dialect):
            dropped.update(range(start, end + 1))
            said = dialect.LOG_PREFIX.sub("", block[-1].strip())
            if said and said not in engine:
                engine.append(_clip(said))
    kept = []
    for index, line in enumerate(lines):
        if index in dropped:
            continue
        said = dialect.ENGINE_SAYS.search(line)
        if said and any(re.search(p, said.group(0), re.IGNORECASE) for p in dialect.ENGINE_COMPLAINTS):
            if _clip(said.group(0)) not in engine:
                engine.append(_clip(said.group(0)))
            continue
        kept.append(line)
    return kept, engine


def failure_lines(text, dialect=default_dialect):
    """The lines of a log (server or site) that explain why its latest training attempt failed through the app, in
    the order they were written: the engine's own "execution exception" line, the first and the last exception of
    the app's tracebacks (the cause and what the engine made of it), and the frame that decided it (the app's own
    code, or the engine loading the app). [] when the app did not fail: the engine's own tracebacks (a site that
    gave no reply) are not counted (engine_complaints lists them)."""
    attempt, _engine = split_attempt(text, dialect)
    if not any(dialect.TRACEBACK in line or dialect.ENGINE_SAYS.search(line) or dialect.LAUNCH_FAILED.search(line)
               for line in attempt):
        return []
    said, exceptions, frames, loading = [], [], [], []
    for raw in attempt:
        line = dialect.LOG_PREFIX.sub("", raw.strip())
        if not line:
            continue
        match = dialect.ENGINE_SAYS.search(line) or dialect.LAUNCH_FAILED.search(line)
        if match:
            said.append(match.group(0))
            continue
        if dialect.EXCEPTION_LINE.match(line):
            exceptions.append(line)
            continue
        frame = dialect.FRAME.match(line)
        if not frame:
            continue
        app = dialect.APP_FRAME.search(frame.group("file"))
        if app:
            frames.append("in the app's custom/%s, line %s, in %s" % (app.group("name"), frame.group("line"),
                                                                      frame.group("func")))
        elif any(re.search(p, frame.group("file")) for p in dialect.APP_LOADING_FRAMES):
            loading.append("while the engine loaded or ran the app (%s, in %s)"
                           % (frame.group("file").rsplit("/", 1)[-1], frame.group("func")))
    decided = frames[-1:] or loading[-1:]
    picked = said[-1:] + exceptions[:1] + exceptions[-1:] + decided
    out = []
    for line in picked:
        line = _clip(line)
        if line not in out:
            out.append(line)
    return out[:MAX_QUOTED]


def engine_complaints(text, dialect=default_dialect):
    """The engine's own complaints in the latest attempt (its admin handler answering for a site that gave no
    reply, a dropped connection): each once, for the record; they never fail a training."""
    return split_attempt(text, dialect)[1][:MAX_QUOTED]


def rounds_aggregated(rounds_grep, started_grep, dialect=default_dialect):
    """The rounds the server aggregated in its latest training, from two ``grep server -n`` replies: the lines
    with ROUND_LINE and the lines with STARTED_LINE. None when the log shows no training started."""
    round_re = re.compile(r"^(\d+):.*" + re.escape(dialect.ROUND_LINE) + r"\s+(\d+)")
    started_re = re.compile(r"^(\d+):.*" + re.escape(dialect.STARTED_LINE))
    starts = [int(m.group(1)) for m in (started_re.match(ln.strip()) for ln in _text(started_grep).splitlines()) if m]
    if not starts:
        return None
    last = max(starts)
    rounds = set()
    for line in _text(rounds_grep).splitlines():
        match = round_re.match(line.strip())
        if match and int(match.group(1)) > last:
            rounds.add(int(match.group(2)))
    return len(rounds)


def submissions(received_grep, started_grep, dialect=default_dialect):
    """{token: rounds submitted} in the server's latest training, from two ``grep server -n`` replies: the lines
    with RECEIVED_LINE and the lines with STARTED_LINE ({} when the log shows no training started). The console's
    status table maps each site to its token."""
    started_re = re.compile(r"^(\d+):.*" + re.escape(dialect.STARTED_LINE))
    starts = [int(m.group(1)) for m in (started_re.match(ln.strip()) for ln in _text(started_grep).splitlines()) if m]
    rounds = {}
    for line in _text(received_grep).splitlines() if starts else []:
        number, _sep, rest = line.strip().partition(":")
        match = dialect.RECEIVED.search(rest)
        if match and number.isdigit() and int(number) > max(starts):
            rounds.setdefault(match.group("token"), set()).add(int(match.group("round")))
    return dict((token, len(seen)) for token, seen in rounds.items())


def tail_command(target, lines=TAIL_LINES, dialect=default_dialect):
    """The admin command that reads the end of TARGET's (``server`` or a site's) log."""
    return "tail %s -n %d %s" % (target, int(lines), dialect.LOG_FILE)


def rounds_commands(dialect=default_dialect):
    """The admin commands whose replies rounds_aggregated reads (the first two, in that order) and submissions
    (the third and the second)."""
    return ['grep server -n "%s" %s' % (dialect.ROUND_LINE, dialect.LOG_FILE),
            'grep server -n "%s" %s' % (dialect.STARTED_LINE, dialect.LOG_FILE),
            'grep server -n "%s" %s' % (dialect.RECEIVED_LINE, dialect.LOG_FILE)]


def quote_failures(failures, log_files=None, dialect=default_dialect):
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
        out.append("%s (%s%s):" % ("the server" if target == "server" else "site " + target, dialect.LOG_FILE,
                                   " at " + where if where else " in its kit folder"))
        out.extend("    " + line for line in lines)
    return out
