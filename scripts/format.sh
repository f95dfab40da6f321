#!/bin/sh
# format.sh [--check]: clang-format (.clang-format) over every tracked C++ and CUDA source; with
# --check, lists the files it would change and fails if there are any.
set -eu
cd "$(dirname "$0")/.."
cf=$(command -v clang-format || command -v clang-format-14 || true)
[ -n "$cf" ] || { echo "format.sh: clang-format is not installed (apt-get install clang-format)" >&2; exit 2; }
files=$(git ls-files '*.cpp' '*.h' '*.cu' '*.cuh')
if [ "${1:-}" = "--check" ]; then
    bad=0
    for f in $files; do
        "$cf" "$f" | cmp -s "$f" - || { echo "$f"; bad=1; }
    done
    exit $bad
fi
# shellcheck disable=SC2086
"$cf" -i $files
