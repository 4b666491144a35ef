# fleetclaim token-cleanup: after a claim that did not finish (cut off by
# --timeout, the connection lost; or found by the probe on the next run,
# when no trap ran), removes cloud.d/token and the claim's temporary
# directories (.fleetclaim.*: root's in the config dir, another user's in
# cloud.d), which may hold a copy of the token, and its temporary files in
# the config dir (.claim.conf.fleetclaim.PID, .netdata.conf.fleetclaim.PID).
# A v1 agent's netdata-claim.sh removes cloud.d/token once claimed (v1.37.1
# claim/netdata-claim.sh.in:396), so one left there is a cut-off claim's.
# Nothing is followed through a link: rm removes a link, not its target.
# $1: the agent's cloud.d.  $2: the agent's config dir.
# Output: token-removed=1 when no token is left.
if [ ! -h "$1" ]; then
  rm -f "$1/token"
  [ -e "$1/token" ] || echo token-removed=1
fi
[ -h "$1" ] && set -- /nonexistent "$2"
for d in "$1"/.fleetclaim.* "$2"/.fleetclaim.*; do
  [ -d "$d" ] && [ ! -h "$d" ] && rm -rf "$d"
done
for f in "$2"/.*.fleetclaim.*; do
  if [ -f "$f" ] || [ -h "$f" ]; then rm -f "$f"; fi
done
exit 0
