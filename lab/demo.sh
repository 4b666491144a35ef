#!/bin/sh
# make demo: start a lab fleet, claim it (rooms given by name), show the lab
# Cloud's record of the claims, claim again (nothing changes), ask the Cloud
# API whether every node arrived, stop the lab. Everything lives in
# one temporary directory, removed at the end.
set -eu
BIN=${BIN:-bin/fleetclaim}
HOSTS=${HOSTS:-20}
dir=$(mktemp -d "${TMPDIR:-/tmp}/fleetclaim-demo.XXXXXX")
cleanup() {
	"$BIN" lab down --dir "$dir" >/dev/null 2>&1 || true
	rm -rf "$dir"
}
# A signal (Ctrl-C, a closed pipe, a hang-up) ends the script through exit,
# so the EXIT trap stops the lab whatever happens.
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE

echo "== starting a lab of $HOSTS hosts in $dir"
"$BIN" lab up --hosts "$HOSTS" --dir "$dir"

echo
echo "== fleetclaim claim -i $dir/inventory.yml"
"$BIN" claim -i "$dir/inventory.yml" --results "$dir/results.jsonl"

echo
echo "== what the lab Cloud accepted"
"$BIN" lab claims --dir "$dir"

echo
echo "== the same claim again: nothing changes, every host is already claimed"
"$BIN" claim -i "$dir/inventory.yml" --no-progress >/dev/null
"$BIN" lab claims --dir "$dir" --count

echo
echo "== ask Netdata Cloud itself (its API): is every node listed and reachable in its rooms?"
"$BIN" verify -i "$dir/inventory.yml" --no-progress --no-history >/dev/null 2>"$dir/verify.err" || { cat "$dir/verify.err"; exit 1; }
tail -n 1 "$dir/verify.err"
