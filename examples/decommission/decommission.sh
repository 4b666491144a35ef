#!/bin/sh
# Decommission: unclaim the hosts that left the inventory.
#
# Run it from cron or CI whenever the inventory may have changed, before the
# usual reconcile. The run history (every earlier claim, reconcile and verify
# run of this user, in $XDG_STATE_HOME/fleetclaim/history) knows which hosts
# were claimed; those the current inventory no longer lists are unclaimed,
# reached through the previous inventory, which still says how to log in.
#
#   cron: this job keeps a copy of the inventory of its last run (PREVIOUS).
#   CI, the inventory in git:  git show HEAD~1:inventory.yml > previous.yml
#                              PREVIOUS=previous.yml sh decommission.sh
#
# A host that is gone for good (terminated) cannot be reached: its unclaim
# fails to connect and it stays in the list until it is unclaimed or left
# out on purpose; Netdata Cloud removes a node offline for 7 days on its own
# (the help of the unclaim command quotes Netdata's cleanup rules).
set -eu
INVENTORY=${INVENTORY:-/etc/fleetclaim/inventory.yml}
PREVIOUS=${PREVIOUS:-/var/lib/fleetclaim/inventory.previous.yml}
STATE=${STATE:-/var/lib/fleetclaim}

if [ ! -f "$PREVIOUS" ]; then
  # First run: nothing left the inventory yet.
  cp "$INVENTORY" "$PREVIOUS"
  exit 0
fi
fleetclaim history --absent-from "$INVENTORY" --listed-in "$PREVIOUS" > "$STATE/gone.txt"
rc=0
if [ -s "$STATE/gone.txt" ]; then
  echo "unclaiming $(wc -l < "$STATE/gone.txt") host(s) that left $INVENTORY:" >&2
  cat "$STATE/gone.txt" >&2
  # With NETDATA_CLOUD_API_TOKEN (or api_token_file in the inventory) the
  # nodes also leave their rooms; they stay in the Space until Cloud's cleanup.
  fleetclaim unclaim -i "$PREVIOUS" --limit "@$STATE/gone.txt" --serial 25% --max-fail-percentage 50 \
    --results "$STATE/unclaim.jsonl" --retry-file "$STATE/unclaim-retry.txt" --no-progress || rc=$?
fi
# Keep the previous inventory while some unclaim failed: the next run tries
# those hosts again.
if [ "$rc" = 0 ]; then cp "$INVENTORY" "$PREVIOUS"; fi
exit "$rc"
