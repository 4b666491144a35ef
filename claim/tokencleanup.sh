# fleetclaim token-cleanup: after a v1 claim that did not finish (cut off by
# --timeout, the connection lost), removes cloud.d/token and the claim's
# temporary directories (.fleetclaim.*: root's in the config dir, another
# user's in cloud.d), which may hold a copy of the token.
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
exit 0
