# fleetclaim claim-script: claims a v1 agent with its own netdata-claim.sh,
# which talks to Cloud itself. The token goes into cloud.d/token, a file
# made with its final owner and mode in root's temporary directory and
# renamed into place, and removed afterwards whatever the outcome (the
# script deletes it only when the claim worked), also when the script is
# cut off by a signal. The token is never on a command line.
#
# Runs after lib.sh. Inputs (variables, see lib.sh): FC_TOKEN; FC_CA, the CA
# chain to install, or empty; FC_CA_MAX; FC_PROXY, a proxy with
# credentials, or empty: it reaches netdata-claim.sh (and its curl or wget)
# as https_proxy and http_proxy in the environment, never as -proxy=.
# $1: the agent's config dir (root's temporary files go there).
# $2: its var lib dir.  $3: its run-as user ("" = none to give files to).
# $4: netdata-claim.sh.
# $5: "-user=NAME" to add when running as root, or "".
# $6: flags, comma-separated: reset.
# $7, $8: the commands that stop and start the agent ("" when unknown):
#     a reset stops and starts it; a claim that set netdata.conf's [cloud]
#     proxy restarts it, so that its link uses the proxy.
# FC_CLOUD_PROXY: the proxy for netdata.conf's [cloud] section, or empty.
#     v1 agents before 1.46 read the link's proxy there only (netdata
#     v1.37.1 aclk/aclk_proxy.c:130); netdata-claim.sh says to put it there
#     (claim/netdata-claim.sh.in:414); later ones let it override cloud.conf
#     (v1.47.5 src/aclk/aclk_proxy.c:116-120). Read once, at start.
# $9: netdatacli ("" when there is none): after a restart, the script
#     waits until it answers (wait_ready, lib.sh).
# ${10}: the number K of machine identity files to remove with reset, then
#     those K files, then netdata-claim.sh's arguments.
# Output: [stop-rc=N reset=1] [ca=written|unchanged] token-removed=1
#   claim-rc=N [claimed-id=ID] [cloud-proxy=1|same [restarted=proxy
#   ready-rc=N]] [restart-rc=N [ready-rc=N]] claim-out=LINE...
conf=$1 lib=$2 owner=$3 script=$4 userarg=$5 flags=",$6," stop=$7 start=$8 cli=$9 k=${10}
shift 10
am_root
cloudd="$lib/cloud.d"
# netdata-claim.sh, run as root, reads the machine GUID and writes these
# files in cloud.d: none may be a link the agent's user left there.
no_link "$lib/registry"
no_link "$lib/registry/netdata.public.unique.id"
case $flags in *,reset,*) reset=yes ;; *) reset='' ;; esac
if [ -n "$reset" ]; then
  reset_agent "$stop" "$cloudd" "$k" "$@"
  eval "$start" >/dev/null 2>&1 || fail start-agent
  echo reset=1
fi
shift "$k"
make_cloudd "$cloudd" 0770 "$owner"
for f in token tmpin.txt tmpout.txt claimed_id cloud.conf private.pem public.pem rooms; do
  no_link "$cloudd/$f"
done
if [ -n "$FC_CA" ]; then
  write_ca "$cloudd" "$conf" "$owner" cloud_fullchain.pem
fi

# The token: 0600 by the umask, its owner given in root's directory, then
# renamed to cloud.d/token.
make_tdir "$conf" "$cloudd"
printf '%s\n' "$FC_TOKEN" > "$tdir/token" || fail write-token
tok="$cloudd/token"
put_file "$tdir/token" "$tok" "$owner" write-token
rmdir "$tdir" && tdir=''

if [ -n "$FC_PROXY" ]; then
  https_proxy=$FC_PROXY http_proxy=$FC_PROXY
  export https_proxy http_proxy
  unset no_proxy NO_PROXY
fi
# netdata-claim.sh looks for cloud.d under its compile-time var lib dir
# unless told (netdata v1.37.1 claim/netdata-claim.sh.in:134-136): tell it
# where the token is, which [directories] lib may have moved.
NETDATA_VARLIB_DIR=$lib
export NETDATA_VARLIB_DIR
if [ "$root" = yes ] && [ -n "$userarg" ]; then set -- "$@" "$userarg"; fi
# In the background of a command substitution that traps the signals too,
# so that a signal ends the wait at once (not when netdata-claim.sh is done)
# and the script's own trap runs next. Its stderr is let go, so that it
# keeps none of the session's streams open should the shell be killed.
out=$(
  exec 2>/dev/null
  trap 'kill "$c"; exit 143' HUP INT TERM
  "$script" "$@" 2>&1 < /dev/null &
  c=$!
  wait "$c"
); rc=$?
# From inside cloud.d, checked again: a name through a cloud.d swapped for
# a link since would remove a file of that name elsewhere.
in_dir "$cloudd" write-token
rm -f token && [ ! -e token ] && echo token-removed=1
cd /
tok=''
echo "claim-rc=$rc"
if [ -r "$cloudd/claimed_id" ] && [ ! -h "$cloudd/claimed_id" ]; then
  c=''; read -r c < "$cloudd/claimed_id"; echo "claimed-id=$c"
fi
if [ -n "$FC_CLOUD_PROXY" ] && { [ "$rc" = 0 ] || [ "$rc" = 5 ]; }; then
  # Exit 5: the agent was not told; fleetclaim restarts it anyway.
  if write_cloud_proxy "$conf" "$FC_CLOUD_PROXY" && [ "$rc" = 0 ] && [ -n "$start" ]; then
    eval "$stop" >/dev/null 2>&1
    if eval "$start" >/dev/null 2>&1; then
      echo restarted=proxy
      [ -z "$cli" ] || wait_ready "$cli"
    fi
  fi
fi
# Exit 5: claimed, but netdata-claim.sh could not tell the agent, which
# does not run or did not answer (netdata v1.37.1
# claim/netdata-claim.sh.in:418-434): it reads its claim at start, so
# restart it here, in this session, and wait until it answers. A restarted
# agent makes its pipe, and answers /api/v1/info with 200 instead of 503,
# only at the end of its initialization (v1.37.1 daemon/main.c:1564-1566,
# web/api/web_api_v1.c:1352): its state is read once it is ready.
if [ "$rc" = 5 ] && [ -n "$start" ]; then
  eval "$stop" >/dev/null 2>&1
  eval "$start" >/dev/null 2>&1; src=$?
  echo "restart-rc=$src"
  if [ "$src" = 0 ] && [ -n "$cli" ]; then wait_ready "$cli"; fi
fi
emit_lines claim-out "$out"
