#!/bin/sh
# ptxas-report.sh REPORT COMMAND...: runs the compile COMMAND (with --resource-usage), keeping what
# it prints, ptxas's resource report, in REPORT; on failure prints it too.
out=$1
shift
"$@" >"$out" 2>&1 || { cat "$out"; exit 1; }
