# fleetclaim claim library: the functions of the claim scripts that run on a
# host (claimconf.sh, claimscript.sh), put ahead of each. POSIX sh: dash,
# bash, BusyBox ash, macOS and FreeBSD sh.
#
# Inputs that are secret or long (FC_CONF, FC_TOKEN, FC_CA, FC_PROXY) are
# shell variables set ahead of this text, which travels on the session's
# stdin: never on a command line. Everything else is a positional parameter.
#
# Output: key=value lines. A failure prints fleetclaim-error=KEY (and
# fleetclaim-path=PATH when a path is at fault), and the script exits 0.
#
# Root and the agent's directories: the agent's user owns the var lib dir
# and cloud.d, so it can put a link at any name there. Root therefore
# refuses a link at every path it writes there (naming it), makes its
# temporary files in a directory only root can write (made by mktemp under
# the config dir) and gives them their owner there, then renames them into
# place from inside the target directory, entered and checked (in_dir): a
# rename replaces what is at the name and follows no link, and a directory
# swapped for a link after the check is not the one the shell is in.

# Unset variables are errors; files are private unless made otherwise; a
# file size limit (ulimit -f) makes a write fail with EFBIG instead of
# killing the writer with SIGXFSZ, so a builtin's failed write (printf)
# reaches the clean-up as a full disk's ENOSPC does. Commands started from
# the script inherit the ignored signal.
set -u
umask 077
trap '' XFSZ
nl='
'
tdir='' tok='' tmp='' nctmp=''

# cleanup removes what the script made and must not leave behind: its
# temporary files and directory, and cloud.d/token. It may run twice (a
# failure, then the EXIT trap).
cleanup() {
  if [ -n "$tmp" ]; then rm -f "$tmp"; tmp=''; fi
  if [ -n "$nctmp" ]; then rm -f "$nctmp"; nctmp=''; fi
  if [ -n "$tok" ]; then rm -f "$tok" && echo token-removed=1; tok=''; fi
  if [ -n "$tdir" ]; then rm -rf "$tdir"; tdir=''; fi
}

# A signal (the session ended, the run was cut off) cleans up too.
trap 'cleanup; exit 129' HUP
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
trap cleanup EXIT

# fail KEY [PATH]: report a failure, clean up, stop.
fail() {
  echo "fleetclaim-error=$1"
  if [ $# -gt 1 ]; then printf 'fleetclaim-path=%s\n' "$2"; fi
  cleanup
  exit 0
}

# am_root sets root to yes when the script runs as root: the effective uid
# from /proc through shell builtins where there is a /proc, id(1) only
# elsewhere (one process fewer per host).
am_root() {
  e=''
  if [ -r "/proc/$$/status" ]; then
    while IFS=' 	' read -r _k _r e _rest; do [ "$_k" = "Uid:" ] && break; e=''; done < "/proc/$$/status"
  fi
  [ -n "$e" ] || e=$(id -u)
  root=no
  if [ "$e" = 0 ]; then root=yes; fi
}

# no_link PATH: refuse a path that is a symbolic link.
no_link() {
  if [ -h "$1" ]; then fail unsafe-path "$1"; fi
}

# make_cloudd DIR MODE OWNER: cloud.d, refused when it is a link, made with
# MODE when missing (mkdir, not mkdir -p: it fails when anything, a link
# too, appeared at the name) and given to OWNER (when root and OWNER set).
make_cloudd() {
  no_link "$1"
  [ -d "$1" ] && return 0
  [ -d "${1%/*}" ] || mkdir -p "${1%/*}" || fail write-cloud.d
  mkdir -m "$2" "$1" || fail write-cloud.d
  if [ "$root" = yes ] && [ -n "$3" ]; then chown -h "$3" "$1" 2>/dev/null; fi
  return 0
}

# make_tdir BASE CLOUDD: the script's temporary directory, made once. Root
# makes it under BASE (the config dir, which only root writes), or /tmp
# when BASE is missing or read-only; a user that is not root makes it in
# its own CLOUDD.
make_tdir() {
  [ -n "$tdir" ] && return 0
  b=$1
  [ "$root" = yes ] || b=$2
  tdir=$(mktemp -d "$b/.fleetclaim.XXXXXX" 2>/dev/null) ||
    tdir=$(mktemp -d /tmp/.fleetclaim.XXXXXX) || { tdir=''; fail write-tmp; }
}

# put_file TMP DEST OWNER KEY: give TMP its owner (when root and OWNER
# set), then rename it to DEST, refusing a DEST that is a link or a
# directory (mv would move the file into it).
# The rename is made from inside DEST's directory, entered and checked
# first (in_dir), by DEST's own name: the agent's user may swap that
# directory for a link at any moment, and a rename by a name relative to
# the shell's directory lands in the directory that was checked, whatever
# the path names by then.
put_file() {
  in_dir "${2%/*}" "$4"
  pn=${2##*/}
  if [ -h "$pn" ]; then fail unsafe-path "$2"; fi
  [ -d "$pn" ] && fail "$4" "$2"
  if [ "$root" = yes ] && [ -n "$3" ]; then chown -h "$3" "$1" || fail "$4"; fi
  mv -f "$1" "$pn" || fail "$4"
  cd /
}

# enter_dir DIR: make DIR the shell's directory when it is the directory
# the path names: not a link, nor swapped for one on the way in (the
# physical directory entered is DIR's parent's plus DIR's name). Returns 1
# when it is not, 2 when it cannot be entered. cd -P sets PWD to the
# physical path: no process is started.
enter_dir() {
  if [ -h "$1" ]; then return 1; fi
  ip=${1%/*}
  cd -P -- "${ip:-/}" 2>/dev/null || return 2
  ip=${PWD%/}
  cd -P -- "${1##*/}" 2>/dev/null || return 2
  [ "$PWD" = "$ip/${1##*/}" ] || return 1
}

# in_dir DIR KEY: enter_dir, or fail: unsafe-path for a link, KEY for a
# directory that cannot be entered.
in_dir() {
  enter_dir "$1"
  case $? in
  0) ;;
  1) fail unsafe-path "$1" ;;
  *) fail "$2" "$1" ;;
  esac
}

# write_ca CLOUDD CONFDIR OWNER NAME: install $FC_CA as CLOUDD/NAME:
# trusted.pem for a v2 agent, which prefers it to cloud_fullchain.pem
# (netdata v2.11.0 src/claim/claim-with-api.c:229-243), cloud_fullchain.pem
# for v1's netdata-claim.sh (v1.37.1 claim/netdata-claim.sh.in:143). Either
# reaches the claim request only: the agent's link to Cloud checks the
# system's store (src/aclk/mqtt_websockets/mqtt_wss_client.c:444,
# src/aclk/https_client.c:848 v2.11.0).
#
# A chain already in place with the same contents is left alone, which is
# the common case of a scheduled reclaim: a chain of up to $FC_CA_MAX bytes
# is read with shell builtins and compared, so an unchanged chain costs no
# process. A larger bundle is always written: reading it a byte per system
# call would cost more than that.
write_ca() {
  f="$1/$4"
  no_link "$f"
  # mv would move the chain into a directory there.
  [ -d "$f" ] && fail write-ca
  if [ "${#FC_CA}" -le "$FC_CA_MAX" ] && [ -f "$f" ] && [ -r "$f" ]; then
    have=''
    while IFS= read -r l || [ -n "$l" ]; do have="$have$l$nl"; done < "$f"
    if [ "$have" = "$FC_CA" ]; then echo ca=unchanged; return 0; fi
  fi
  make_tdir "$2" "$1"
  umask 022
  printf '%s' "$FC_CA" > "$tdir/$4" || fail write-ca
  umask 077
  put_file "$tdir/$4" "$f" "$3" write-ca
  rmdir "$tdir" && tdir=''
  echo ca=written
}

# reset_agent STOP CLOUDD K ARGS...: stop the agent (STOP is a command line
# fleetclaim built and quoted), remove cloud.d (rm removes a link, not what
# it points to) and the first K of ARGS (the machine identity files, with
# --new-identity).
reset_agent() {
  eval "$1" >/dev/null 2>&1
  echo "stop-rc=$?"
  rm -rf "$2" || fail remove-cloud.d
  rk=$3
  shift 3
  # Keep the first K parameters only (the for list is expanded once).
  i=0
  for a do
    i=$((i+1))
    if [ "$i" -le "$rk" ]; then set -- "$@" "$a"; fi
  done
  shift $(($# - rk))
  if [ $# -gt 0 ]; then rm -f "$@" || fail remove-identity; fi
}

# emit_lines KEY VALUE prints each line of VALUE as "KEY=LINE", with shell
# builtins only (a pipe into a read loop costs two processes per host). An
# empty value prints one "KEY=" line.
emit_lines() {
  rest=$2
  while :; do
    case $rest in
    *"$nl"*) l=${rest%%"$nl"*}; rest=${rest#*"$nl"} ;;
    *) l=$rest; rest='' ;;
    esac
    printf '%s=%s\n' "$1" "$l"
    [ -n "$rest" ] || break
  done
}

# wait_ready CLI: wait until the agent answers "CLI ping" with exit 0, for
# at most about $FC_READY_TICKS tenths of a second. While it starts,
# netdatacli prints the "Cannot connect" text and exits 255 (no pipe yet),
# then a v2 agent's ping exits 1 and every other command answers "Agent is
# initializing" with exit 0 and does nothing (netdata v2.11.0
# src/daemon/commands.c:72, 682-686); a v1 agent's ping answers once its
# pipe exists (v1.37.1 daemon/commands.c:297-303). It asks every tenth of a
# second, where sleep takes a fraction (GNU, BusyBox, BSD), else every
# second: one netdatacli process each time, so that the wait ends as soon
# as the agent is ready, not up to a second later. A netdatacli the shell
# cannot run (exit 126, or 127: not found) never will: no wait then.
# Prints ready-rc=N, ping's last exit code.
wait_ready() {
  wi=0
  while :; do
    "$1" ping >/dev/null 2>&1; wrc=$?
    case $wrc in 0|126|127) break ;; esac
    [ "$wi" -ge "${FC_READY_TICKS:-300}" ] && break
    if sleep 0.1 2>/dev/null; then wi=$((wi+1)); else sleep 1; wi=$((wi+10)); fi
  done
  echo "ready-rc=$wrc"
}

# write_cloud_proxy CONFDIR PROXY sets netdata.conf's [cloud] proxy: every
# other line and comment is kept, an existing proxy line of that section is
# replaced, the section is added when missing, and the file is replaced
# atomically with its owner and mode kept (cp -p). A missing netdata.conf
# is created. The value reaches awk through the environment: -v would
# interpret backslashes in it. Prints cloud-proxy=1, or cloud-proxy=same
# when netdata.conf already said so (and returns 1).
write_cloud_proxy() {
  nc="$1/netdata.conf"
  nctmp="$1/.netdata.conf.fleetclaim.$$"
  if [ -f "$nc" ]; then
    cp -p "$nc" "$nctmp" && FLEETCLAIM_PROXY=$2 awk '
BEGIN { p = ENVIRON["FLEETCLAIM_PROXY"] }
/^[ \t]*\[/ { if (cloud && !done) { print "    proxy = " p; done = 1 }
  cloud = ($0 ~ /^[ \t]*\[cloud\][ \t]*$/); print; next }
cloud && /^[ \t]*proxy[ \t]*=/ { if (!done) { print "    proxy = " p; done = 1 }; next }
{ print }
END { if (cloud && !done) { print "    proxy = " p; done = 1 }
  if (!done) { print ""; print "[cloud]"; print "    proxy = " p } }' "$nc" > "$nctmp"
  else
    printf '\n[cloud]\n    proxy = %s\n' "$2" > "$nctmp" && chmod 0644 "$nctmp"
  fi || fail write-netdata-conf
  if [ -f "$nc" ] && cmp -s "$nc" "$nctmp"; then
    rm -f "$nctmp"; nctmp=''; echo cloud-proxy=same; return 1
  fi
  mv -f "$nctmp" "$nc" || fail write-netdata-conf
  nctmp=''
  echo cloud-proxy=1
}
