#!/bin/sh
# make demo: start a lab fleet with fleetlab, claim it (rooms given by name),
# show the lab Cloud's record of the claims, claim again (nothing changes), ask
# the Cloud API whether every node arrived, stop the lab. Everything lives in
# one temporary directory, removed at the end.
set -eu
BIN=${BIN:-bin/fleetclaim}
LABBIN=${LABBIN:-bin/fleetlab}
HOSTS=${HOSTS:-20}
dir=$(mktemp -d "${TMPDIR:-/tmp}/fleetclaim-demo.XXXXXX")
cleanup() {
	"$LABBIN" down --dir "$dir" >/dev/null 2>&1 || true
	rm -rf "$dir"
}
# A signal (Ctrl-C, a closed pipe, a hang-up) ends the script through exit,
# so the EXIT trap stops the lab whatever happens.
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE

# The group "become" logs in as an ordinary user (ops) and claims through
# sudo (one host with a sudo password, one through doas), as most fleets
# are reached.
# Those hosts need user namespaces (not root); without them the demo says so
# and claims the rest.
if [ -z "${PERSONALITIES+set}" ]; then
	if ! unshare --user --map-root-user true 2>/dev/null; then
		echo "(no user namespaces here: the demo has no group reached through sudo)"
		PERSONALITIES=
	elif [ "$HOSTS" -ge 5 ]; then PERSONALITIES=v2+sudo=3,v2+sudo-password=1,v2+doas=1
	else PERSONALITIES=v2+sudo=1
	fi
fi
echo "== starting a lab of $HOSTS hosts in $dir (personalities: ${PERSONALITIES:-all default})"
"$LABBIN" up --hosts "$HOSTS" --dir "$dir" --personalities "$PERSONALITIES"

echo
echo "== fleetclaim claim -i $dir/inventory.yml"
"$BIN" claim -i "$dir/inventory.yml" --results "$dir/results.jsonl"

echo
echo "== hosts of the group become: claimed as root through sudo or doas, logged in as ops"
grep '"groups":\["become"\]' "$dir/results.jsonl" | grep -Ec '"name":"claim","ms":[0-9]+,"as":"root","via":"(sudo|doas)"' || true

echo
echo "== what the lab Cloud accepted"
"$LABBIN" claims --dir "$dir"

echo
echo "== the same claim again: nothing changes, every host is already claimed"
"$BIN" claim -i "$dir/inventory.yml" --no-progress >/dev/null
"$LABBIN" claims --dir "$dir" --count

echo
echo "== ask Netdata Cloud itself (its API): is every node listed and reachable in its rooms?"
"$BIN" verify -i "$dir/inventory.yml" --no-progress --no-history >/dev/null 2>"$dir/verify.err" || { cat "$dir/verify.err"; exit 1; }
tail -n 1 "$dir/verify.err"
