#!/usr/bin/env bash
# Soak test (see scripts/soak.py): scripts/soak.sh --seconds 3600 for the documented hour; CI runs
# two minutes. Needs a build (scripts/build.sh) and Debian's python3-zmq.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# A python3 earlier on PATH (pyenv, a venv) may not see Debian's packages: take the first that does.
for py in /usr/bin/python3 python3; do
  if "$py" -c "import zmq" 2>/dev/null; then exec "$py" "$root/scripts/soak.py" "$@"; fi
done
echo "soak: no python3 with the zmq module (apt-get install python3-zmq)" >&2
exit 2
