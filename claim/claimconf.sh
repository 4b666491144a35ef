# fleetclaim claim-conf: claims a v2 agent by writing claim.conf (and the
# Cloud CA chain), then asking the agent to reload its claiming state. With
# a reset (reclaim), the agent is stopped, its cloud.d removed (and with a
# new identity its machine GUID too) before the files are written, and
# started again after.
#
# Runs after lib.sh. Inputs (variables, see lib.sh): FC_CONF, claim.conf's
# text (it holds the token); FC_CA, the CA chain to install, or empty;
# FC_CA_MAX.
# $1: the agent's config dir.  $2: its cloud.d.  $3: its run-as user ("" =
#     the files stay root's).  $4: netdatacli.
# $5: flags, comma-separated: agent-owned (claim.conf is the agent's user's,
#     0600, not root:<agent group> 0640), reset.
# $6, $7: the commands that stop and start the agent, or "" when fleetclaim
#     cannot tell them: a reset stops and starts it; an agent that is not
#     running is started after the claim.conf is written; a running one
#     whose proxy changed is restarted (the link reads its proxy once, at
#     start: netdata v2.11.0 src/aclk/aclk_proxy.c:198-227).
# $8: the proxy for netdata.conf's [cloud] section, or "" to leave it alone.
# $9...: with reset, the machine identity files to remove.
# Output: [stop-rc=N reset=1] [ca=written|unchanged] written=1
#   [cloud-proxy=1] [started=1|restarted=proxy ready-rc=N] reload-rc=N
#   reload-out=LINE...
# ini_line TEXT KEY sets il to the value of the first "KEY = VALUE" line of
# TEXT (the ini text of claim.conf), or to "" when there is none; shell
# builtins only.
ini_line() {
  il='' irest=$1
  while [ -n "$irest" ]; do
    case $irest in
    *"$nl"*) iline=${irest%%"$nl"*}; irest=${irest#*"$nl"} ;;
    *) iline=$irest; irest='' ;;
    esac
    iline=${iline#"${iline%%[! 	]*}"}
    case $iline in
    "$2"=* | "$2 "=* | "$2	"=* | "$2 = "*)
      il=${iline#*=}; il=${il#"${il%%[! 	]*}"}; return 0 ;;
    esac
  done
}

# link_proxy CLI sets lp to the proxy the agent's link uses, as
# "CLI aclk-state json" shows it ("aclk_proxy": "none", or
# "http://host:port (without credentials, from ...)": netdata v2.11.0
# src/aclk/aclk_proxy.c:233-250), without the part in parentheses and with
# JSON's escaped slashes undone; "" when it does not say.
link_proxy() {
  lj=$("$1" aclk-state json 2>/dev/null) || lj=''
  lp=''
  case $lj in
  *'"aclk_proxy":"'*) lj=${lj#*'"aclk_proxy":"'}; lj=${lj%%'"'*} ;;
  *) return 0 ;;
  esac
  while :; do
    case $lj in
    *'\/'*) lp="$lp${lj%%'\/'*}/"; lj=${lj#*'\/'} ;;
    *) lp="$lp$lj"; break ;;
    esac
  done
  lp=${lp%%" ("*}
}

# proxy_display PROXY sets pd to how aclk-state shows PROXY once the link
# uses it: "none", or the scheme and what follows the credentials
# (aclk_proxy.c:79-89).
proxy_display() {
  case $1 in
  '' | none) pd=none ;;
  *://*@*) pd="${1%%://*}://${1##*@}" ;;
  *) pd=$1 ;;
  esac
}

conf=$1 cloudd=$2 owner=$3 cli=$4 flags=",$5," stop=$6 start=$7 proxy=$8
shift 8
am_root
[ -d "$conf" ] || fail no-config-dir
# Not root (the login user is the agent's run-as user, or become_user made
# it so): claim.conf goes in the config dir, which only root can write on
# most installs (a static install's etc/netdata is root's).
[ "$root" = yes ] || [ -w "$conf" ] || fail config-dir-not-writable "$conf"
case $flags in *,reset,*) reset=yes ;; *) reset='' ;; esac
if [ -n "$reset" ]; then
  reset_agent "$stop" "$cloudd" $# "$@"
  echo reset=1
fi
if [ -n "$FC_CA" ]; then
  make_cloudd "$cloudd" 0700 "$owner"
  write_ca "$cloudd" "$conf" "$owner" trusted.pem
fi

# claim.conf: a temporary file in the config dir (root's), created with its
# final mode by the umask (no chmod process) and O_EXCL (set -C) after
# anything at its name is removed, given its owner, then renamed.
f="$conf/claim.conf"
no_link "$f"
# The proxy of the claim; no proxy line means "env" (netdata v2.11.0
# src/claim/cloud-conf.c:25).
ini_line "$FC_CONF" proxy; newproxy=${il:-env} il=''
tmp="$conf/.claim.conf.fleetclaim.$$"
if [ -e "$tmp" ] || [ -h "$tmp" ]; then rm -f "$tmp" || fail write-claim-conf; fi
case $flags in
*,agent-owned,*) umask 077 ;;  # the agent's user, 0600
*) umask 027 ;;                # root:<agent group>, 0640
esac
set -C
printf '%s' "$FC_CONF" > "$tmp" || fail write-claim-conf
set +C
umask 077
if [ "$root" = yes ] && [ -n "$owner" ]; then
  case $flags in
  *,agent-owned,*) chown -h "$owner" "$tmp" || fail write-claim-conf ;;
  *) g=$(id -gn "$owner" 2>/dev/null) || g=0; chown -h "root:$g" "$tmp" || fail write-claim-conf ;;
  esac
fi
mv -f "$tmp" "$f" || fail write-claim-conf
tmp=''

# netdata.conf's [cloud] proxy, as the manual instructs for nodes behind a
# proxy (write_cloud_proxy, lib.sh).
if [ -n "$proxy" ]; then write_cloud_proxy "$conf" "$proxy"; fi
echo written=1

if [ -n "$reset" ]; then
  eval "$start" >/dev/null 2>&1 || fail start-agent
  wait_ready "$cli"
elif [ -n "$start" ]; then
  "$cli" ping >/dev/null 2>&1; prc=$?
  if [ "$prc" = 255 ]; then
    # Not running: start it, as a v1 claim does.
    eval "$start" >/dev/null 2>&1 || fail start-agent
    echo started=1
    wait_ready "$cli"
  fi
fi
out=$("$cli" reload-claiming-state 2>&1); rc=$?
# Claimed: the link keeps the proxy it read at start (from cloud.conf,
# which the claim just wrote, or netdata.conf's [cloud] proxy:
# src/claim/cloud-conf.c:23-36, src/aclk/aclk_proxy.c:198-227), which
# aclk-state json shows as aclk_proxy (aclk_proxy.c:233-250). When it is
# not the claim's, restart the agent, after the reload, so that it is.
case $out in
"Netdata Agent is claimed to Netdata Cloud"*)
  if [ -z "$reset" ] && [ -n "$start" ] && [ "$newproxy" != env ]; then
    link_proxy "$cli"
    proxy_display "$newproxy"
    if [ "$lp" != "$pd" ]; then
      eval "$stop" >/dev/null 2>&1
      eval "$start" >/dev/null 2>&1 || fail start-agent
      echo restarted=proxy
      wait_ready "$cli"
    fi
  fi ;;
esac
echo "reload-rc=$rc"
emit_lines reload-out "$out"
