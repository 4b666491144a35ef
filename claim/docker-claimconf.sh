# fleetclaim docker-claimconf: writes claim.conf, read from stdin (it holds
# the token, which so never reaches docker's argv), inside the agent's
# container (docker exec -i, after lib.sh), then asks the agent to reload
# its claiming state.
# $1: the agent's config dir.  $2: netdatacli.  $3: the agent's run-as user.
# Output: [env-token=1] written=1 reload-rc=N reload-out=LINE...
# env-token=1: the container's environment holds NETDATA_CLAIM_TOKEN, which
# the agent tries when the claim from claim.conf fails (netdata v2.11.0
# src/claim/claim-with-api.c:597-617); its value is never printed.
if [ -n "${NETDATA_CLAIM_TOKEN:-}" ]; then echo env-token=1; fi
conf=$1 cli=$2 owner=$3
am_root
f="$conf/claim.conf"
no_link "$f"
tmp="$conf/.claim.conf.fleetclaim.$$"
if [ -e "$tmp" ] || [ -h "$tmp" ]; then rm -f "$tmp" || fail write-claim-conf; fi
umask 027
set -C
cat > "$tmp" || fail write-claim-conf
set +C
umask 077
if [ "$root" = yes ]; then
  g=$(id -gn "$owner" 2>/dev/null) || g=0
  chown -h "root:$g" "$tmp" 2>/dev/null
fi
mv -f "$tmp" "$f" || fail write-claim-conf
tmp=''
echo written=1
out=$("$cli" reload-claiming-state 2>&1); rc=$?
echo "reload-rc=$rc"
emit_lines reload-out "$out"
