#!/bin/sh
# Autoscaling lifecycle hook: claim an instance when it launches, unclaim it
# when it is about to terminate. Call it from the hook's handler (an
# autoscaling group's launch/terminate notification, a spot interruption
# notice, a CI job) with the event and the instance's inventory name:
#
#   lifecycle-hook.sh launch batch-017.spot.example.com
#   lifecycle-hook.sh terminate batch-017.spot.example.com
#
# The inventory (examples/inventory-spot.yml) makes spot nodes ephemeral: a
# node that vanishes without its terminate hook raises no alert and Cloud
# removes it on the ephemeral schedule. The terminate hook unclaims it at
# once; with NETDATA_CLOUD_API_TOKEN (or api_token_file) it also leaves its
# rooms. A hook may run twice: claim and unclaim are both idempotent
# (already-claimed, already-unclaimed).
set -eu
INVENTORY=${INVENTORY:-/etc/fleetclaim/inventory-spot.yml}
STATE=${STATE:-/var/lib/fleetclaim}
event=${1:?usage: lifecycle-hook.sh launch|terminate HOST}
host=${2:?usage: lifecycle-hook.sh launch|terminate HOST}
case $host in
*[!A-Za-z0-9._-]*) echo "lifecycle-hook.sh: bad host name" >&2; exit 2 ;;
esac
case $event in
launch)
  # A new instance's sshd may take a moment: retries cover refused connections.
  exec fleetclaim claim -i "$INVENTORY" --limit "$host" --retries 5 --retry-backoff 5s \
    --wait 120s --results "$STATE/launch-$host.jsonl" --no-progress ;;
terminate)
  # The instance has little time left: no retries, a short limit.
  exec fleetclaim unclaim -i "$INVENTORY" --limit "$host" --timeout 60s --retries 0 \
    --results "$STATE/terminate-$host.jsonl" --no-progress ;;
*)
  echo "lifecycle-hook.sh: event must be launch or terminate, not $event" >&2
  exit 2 ;;
esac
