# fleetclaim netdata.conf settings: sets keys of the agent's netdata.conf
# (the inventory's ephemeral, labels and, for v2 agents, hostname) and
# makes the agent take them, only when a value changes.
#
# Every other line, comment, key and label of the file is kept; a key is
# replaced in its section (its first line there; a commented-out default
# such as "# hostname = x" is left as it is) or added at the end of the
# section, and a missing section is added at the end of the file. The file
# is written to a temporary file in the config dir (root's) and renamed
# over the old one with its owner and mode kept (cp -p): atomic, and
# netdata.conf itself is refused when it is a link. The values reach awk
# through the environment: awk -v would interpret backslashes in them.
#
# Taking them (Netdata v2.11.0): [host labels] is re-read by `netdatacli
# reload-labels` (src/daemon/commands.c:230, reload_host_labels() in
# src/database/rrdhost-labels.c:240 reloads that section of netdata.conf;
# v1.37.1: daemon/commands.c:213); [global] keys are read at start only
# ("is ephemeral node": docs/nodes-ephemerality.md, "Restart the Netdata
# Agent"; hostname: src/libnetdata/runtime-paths/runtime-paths.c:54), so a
# change there restarts the agent.
#
# Runs after lib.sh. No secret inputs.
# $1: the agent's config dir.  $2: netdatacli.  $3: the command that
#     restarts the agent ("" when it is not running: nothing to take).
# $4...: settings, three parameters each: SECTION KEY VALUE.
# Output: changed=SECTION/KEY... (none: unchanged=1) [restart-rc=N
#   ping-rc=N] [reload-labels-rc=N]
conf=$1 cli=$2 restart=$3
shift 3
am_root
[ -d "$conf" ] || fail no-config-dir
set_lines=''
while [ $# -ge 3 ]; do
  set_lines="$set_lines$1	$2	$3$nl"
  shift 3
done

nc="$conf/netdata.conf"
no_link "$nc"
nctmp="$conf/.netdata.conf.fleetclaim.$$"
if [ -e "$nctmp" ] || [ -h "$nctmp" ]; then rm -f "$nctmp" || fail write-netdata-conf; fi
if [ -f "$nc" ]; then
  cp -p "$nc" "$nctmp" || fail write-netdata-conf
else
  { : > "$nctmp" && chmod 0644 "$nctmp"; } || fail write-netdata-conf
fi
src=$nc
[ -f "$nc" ] || src=/dev/null
changes=$(FLEETCLAIM_SET=$set_lines awk -v out="$nctmp" '
function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
function flush(sec,   i) {
  for (i = 1; i <= n; i++) if (S[i] == sec && !done[i]) {
    print "    " K[i] " = " V[i] > out; done[i] = 1; print S[i] "/" K[i] }
}
BEGIN {
  n = split(ENVIRON["FLEETCLAIM_SET"], L, "\n")
  m = 0
  for (i = 1; i <= n; i++) if (L[i] != "") { split(L[i], f, "\t"); m++; S[m] = f[1]; K[m] = f[2]; V[m] = f[3] }
  n = m; sec = ""
}
/^[ \t]*\[/ { flush(sec); t = trim($0); sec = substr(t, 2, length(t) - 2); print > out; next }
/^[ \t]*[^#; \t][^=]*=/ {
  k = $0; sub(/=.*/, "", k); k = trim(k)
  for (i = 1; i <= n; i++) if (S[i] == sec && K[i] == k && !done[i]) {
    v = $0; sub(/^[^=]*=/, "", v); done[i] = 1
    if (trim(v) == V[i]) { print > out } else { print "    " k " = " V[i] > out; print S[i] "/" K[i] }
    next
  }
}
{ print > out }
END {
  flush(sec)
  for (i = 1; i <= n; i++) if (!done[i]) {
    if (!(S[i] in added)) { print "" > out; print "[" S[i] "]" > out; added[S[i]] = 1 }
    print "    " K[i] " = " V[i] > out; done[i] = 1; print S[i] "/" K[i]
  }
}' "$src" 2>/dev/null) || fail write-netdata-conf
if [ -z "$changes" ]; then
  rm -f "$nctmp"; nctmp=''
  echo unchanged=1
  exit 0
fi
mv -f "$nctmp" "$nc" || fail write-netdata-conf
nctmp=''
emit_lines changed "$changes"

case $nl$changes in
*"${nl}global/"*) need=restart ;;
*) need=labels ;;
esac
[ -n "$restart" ] || exit 0
if [ "$need" = restart ]; then
  eval "$restart" >/dev/null 2>&1
  echo "restart-rc=$?"
  # Wait until the agent is up: `netdatacli ping` exits 0 when ready, 1
  # while initializing, 255 when the agent cannot be reached
  # (src/daemon/commands.c:72 v2.11.0; observed on the real v2.11.0 agent,
  # ../shared/netdata-v2/README.md); other commands answer "Agent is
  # initializing" with exit 0 until then (commands.c:681-686).
  i=0
  while :; do
    "$cli" ping >/dev/null 2>&1; rc=$?
    case $rc in 1|255) ;; *) break ;; esac
    i=$((i+1)); [ $i -ge 30 ] && break
    sleep 1
  done
  echo "ping-rc=$rc"
else
  "$cli" reload-labels >/dev/null 2>&1
  echo "reload-labels-rc=$?"
fi
