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
#
# Runs after lib.sh. cloud.d is the agent's user's: the names in it are
# removed from inside it (enter_dir), so that a cloud.d swapped for a link
# after the check is not where anything is removed. A cloud.d that is a
# link is left alone.
if enter_dir "$1"; then
  rm -f token
  [ -e token ] || echo token-removed=1
  for d in .fleetclaim.*; do
    [ -d "$d" ] && [ ! -h "$d" ] && rm -rf "$d"
  done
elif [ ! -e "$1" ] && [ ! -h "$1" ]; then
  echo token-removed=1
fi
cd /
for d in "$2"/.fleetclaim.*; do
  [ -d "$d" ] && [ ! -h "$d" ] && rm -rf "$d"
done
for f in "$2"/.*.fleetclaim.*; do
  if [ -f "$f" ] || [ -h "$f" ]; then rm -f "$f"; fi
done
exit 0
