# Runs inside the image: imports each engine package and calls the provisioning tool's help.
# Prints one line naming what is missing, and exits non-zero, when the image cannot serve.
import importlib
import json
import shutil
import subprocess
import sys

missing = []
for name in sys.argv[1].split(","):
    try:
        importlib.import_module(name)
    except Exception as exc:  # any failure to import means the engine cannot run
        missing.append("python package %s does not import (%s)" % (name, exc))
for name in sys.argv[3].split(",") if len(sys.argv) > 3 and sys.argv[3] else []:
    if shutil.which(name) is None:
        missing.append("command %s is not on the PATH" % name)
command = json.loads(sys.argv[2]) + ["-h"]
try:
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120, check=False)
    if done.returncode != 0:
        missing.append("%s exited %d" % (" ".join(command), done.returncode))
except OSError as exc:
    missing.append("provisioning tool %s cannot run (%s)" % (command[0], exc))
if missing:
    print("; ".join(missing))
    sys.exit(1)
print("ok")
