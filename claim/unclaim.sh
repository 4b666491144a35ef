# fleetclaim unclaim: removes an agent's claim. The agent is stopped, its
# claim state removed (cloud.d: claimed_id, the key pair, cloud.conf; and
# claim.conf in the config dir, which a v2 agent would claim from again at
# start), and started again. An agent with no claim state is left alone:
# nothing is stopped or written.
#
# Runs after lib.sh. No secret inputs.
# $1: the agent's config dir.  $2: its cloud.d.
# $3: netdatacli, or "": read the agent's own view (aclk-state json) before
#     anything changes: its node id, a claim it holds in memory only, and
#     whether it runs (netdatacli exits 255 when it cannot reach the agent,
#     as the real v2.11.0 agent's does: ../shared/netdata-v2/README.md).
# $4: the command that stops the agent, or "" when it is not running.
# $5: the command that starts it, or "" to leave it stopped. An agent that
#     netdatacli found not running is neither stopped nor started.
# Output: [aclk=JSON] [agent=stopped] state=unclaimed (nothing to do) |
#   had=WHAT... [stop-rc=N] removed=1 [started=1]
conf=$1 cloudd=$2 cli=$3 stop=$4 start=$5
am_root
[ -d "$conf" ] || fail no-config-dir

# The agent's view first: once stopped, it has none. Its JSON is one line
# (json-c's JSON_C_TO_STRING_PLAIN, aclk/aclk.c:1133 v1.37.1 and
# src/aclk/aclk.c:1364 v2.11.0), so a claim shows as "agent-claimed":true.
mem=''
if [ -n "$cli" ]; then
  out=$("$cli" aclk-state json 2>/dev/null); rc=$?
  if [ $rc = 255 ]; then
    echo agent=stopped
    stop='' start=''
  fi
  case $out in
  '{'*) emit_lines aclk "$out" ;;
  esac
  case $out in
  *'"agent-claimed":true'*) mem=yes ;;
  esac
fi

# What holds the claim. cloud.d belongs to the agent's user: a link there
# is not looked through, only removed (rm removes a link, not its target).
had=''
if [ -h "$cloudd" ]; then
  had="$had cloud.d-link"
elif [ -e "$cloudd/claimed_id" ] || [ -h "$cloudd/claimed_id" ]; then
  had="$had claimed_id"
fi
if [ -e "$conf/claim.conf" ] || [ -h "$conf/claim.conf" ]; then had="$had claim.conf"; fi
if [ -n "$mem" ]; then had="$had agent-memory"; fi
if [ -z "$had" ]; then
  echo state=unclaimed
  exit 0
fi
for w in $had; do echo "had=$w"; done

if [ -n "$stop" ]; then
  eval "$stop" >/dev/null 2>&1
  echo "stop-rc=$?"
fi
rm -rf "$cloudd" || fail remove-cloud.d "$cloudd"
rm -f "$conf/claim.conf" || fail remove-claim-conf "$conf/claim.conf"
echo removed=1
if [ -n "$start" ]; then
  eval "$start" >/dev/null 2>&1 || fail start-agent
  echo started=1
fi
