# fleetclaim probe: one round trip that reports what fleetclaim needs to know
# about a host. POSIX sh only (dash, bash, BusyBox ash, macOS and FreeBSD sh).
# $1: the root under which Netdata installs are looked for ("" = the host's /).
# $2: comma-separated flags: sudo / doas (become is configured: test it without
#     a password), via-sudo / via-doas (the probe was started through it),
#     docker (the inventory asks for a container: list them even
#     when the socket looks out of reach), conf-awk (tests: read netdata.conf
#     with awk whatever its length).
# $3: the inventory's container name, if any.
# Output: key=value lines, parsed by remote.ParseProbe.
#
# Cost: this runs on every host of every run, so it forks as little as it
# can: shell builtins read /proc, /etc/passwd, os-release, .install-type, the
# machine GUID, the claim script and a netdata.conf of the usual length (awk
# reads a long one); the
# agent's binary runs once for its version, and for its build info only when
# the install type and the version (v1) leave Cloud support in doubt; docker runs only when its
# socket is reachable or the inventory asks for it.
LC_ALL=C
export LC_ALL
PATH="$PATH:/usr/sbin:/sbin:/usr/local/sbin:/usr/local/bin:/opt/homebrew/bin"
R="${1:-}"
F=",${2:-},"
want_ctr="${3:-}"
nl='
'
set -f
echo "fleetclaim-probe=1"

# Who runs the probe (its effective uid) and who logged in. They differ when
# the probe was started through sudo or doas ($2 holds via-sudo / via-doas):
# sudo names its caller in SUDO_UID and SUDO_USER (sudo(8), ENVIRONMENT),
# doas in DOAS_USER (doas(1)). Every decision about privilege is taken on the
# login user's facts, never on those of the user the probe ran as.
# /proc and /etc/passwd through builtins; id(1) only elsewhere.
u=
if [ -r "/proc/$$/status" ]; then
  while IFS=' 	' read -r k _r e _rest; do
    if [ "$k" = "Uid:" ]; then u=$e; break; fi
  done < "/proc/$$/status"
fi
[ -n "$u" ] || u=$(id -u 2>/dev/null)
lu=$u lun=
case "$F" in
*,via-sudo,*) lu=${SUDO_UID:-} lun=${SUDO_USER:-} ;;
*,via-doas,*) lu='' lun=${DOAS_USER:-} ;;
esac
un=
# uid 0 is root: no need to read /etc/passwd (a builtin read costs a system
# call per byte in dash). One pass finds both names (and the doas caller's
# uid).
[ "$u" = 0 ] && un=root
[ "$lu" = 0 ] && lun=root
if { [ -z "$un" ] || [ -z "$lun" ] || [ -z "$lu" ]; } && [ -n "$u" ] && [ -r /etc/passwd ]; then
  while IFS=: read -r n _x i _rest; do
    [ -z "$un" ] && [ "$i" = "$u" ] && un=$n
    [ -z "$lun" ] && [ -n "$lu" ] && [ "$i" = "$lu" ] && lun=$n
    [ -z "$lu" ] && [ -n "$lun" ] && [ "$n" = "$lun" ] && lu=$i
    [ -n "$un" ] && [ -n "$lun" ] && [ -n "$lu" ] && break
  done < /etc/passwd
fi
[ -n "$un" ] || un=$(id -un 2>/dev/null)
[ "$lu" = "$u" ] && [ -z "$lun" ] && lun=$un
echo "uid=$lu"
echo "user=$lun"
echo "probe_uid=$u"
echo "probe_user=$un"
case "$F" in
*,via-sudo,*) echo "probe_via=sudo" ;;
*,via-doas,*) echo "probe_via=doas" ;;
esac

# Kernel: /proc/sys/kernel on Linux, uname(1) elsewhere.
ks='' kr='' ka=''
if [ -r /proc/sys/kernel/ostype ] && [ -r /proc/sys/kernel/osrelease ] && [ -r /proc/sys/kernel/arch ]; then
  read -r ks < /proc/sys/kernel/ostype
  read -r kr < /proc/sys/kernel/osrelease
  read -r ka < /proc/sys/kernel/arch
else
  # The three words, split (set -f is on).
  # shellcheck disable=SC2046
  set -- $(uname -s -r -m 2>/dev/null)
  ks="${1:-}" kr="${2:-}" ka="${3:-}"
fi
echo "kernel=$ks"
echo "kernel_release=$kr"
echo "arch=$ka"
kernel="$ks"
# The host name the agent takes as its node name unless netdata.conf's
# [global] hostname sets one (gethostname(2): Netdata v2.11.0
# src/libnetdata/runtime-paths/runtime-paths.c:51-54).
hn=
if [ -r /proc/sys/kernel/hostname ]; then read -r hn < /proc/sys/kernel/hostname; else hn=$(uname -n 2>/dev/null); fi
printf 'hostname=%s\n' "$hn"
for f in /etc/os-release /usr/lib/os-release; do
  if [ -r "$f" ]; then
    while IFS= read -r l || [ -n "$l" ]; do printf 'osr=%s\n' "$l"; done < "$f"
    break
  fi
done
if [ "$kernel" = Darwin ]; then
  echo "macos_name=$(sw_vers -productName 2>/dev/null)"
  echo "macos_version=$(sw_vers -productVersion 2>/dev/null)"
fi
if [ -d /run/systemd/system ]; then echo "init=systemd"
elif [ "$kernel" = Darwin ]; then echo "init=launchd"
elif [ -x /sbin/openrc-run ] || [ -x /sbin/rc-service ]; then echo "init=openrc"
elif [ -d /etc/rc.d ] && [ "$kernel" = FreeBSD ]; then echo "init=bsdrc"
elif [ -d /etc/init.d ]; then echo "init=sysv"
else echo "init=unknown"
fi
for t in sudo doas curl wget openssl sha256sum shasum docker systemctl uuidgen; do
  command -v "$t" >/dev/null 2>&1 && echo "tool=$t"
done
# A password-less sudo/doas is tested only when the inventory configures it,
# and only by the login user itself.
if [ "$u" != 0 ] && [ "$u" = "$lu" ]; then
  case "$F" in *,sudo,*) command -v sudo >/dev/null 2>&1 && sudo -n true </dev/null >/dev/null 2>&1 && echo "sudo_nopasswd=1" ;; esac
  case "$F" in *,doas,*) command -v doas >/dev/null 2>&1 && doas -n true </dev/null >/dev/null 2>&1 && echo "doas_nopasswd=1" ;; esac
fi
if command -v docker >/dev/null 2>&1; then
  sock=/var/run/docker.sock
  case "${DOCKER_HOST:-}" in unix://*) sock="${DOCKER_HOST#unix://}" ;; ?*) sock= ;; esac
  ds=absent
  if [ -z "$sock" ]; then ds=remote
  elif [ -S "$sock" ]; then
    if [ -r "$sock" ] && [ -w "$sock" ]; then ds=accessible; else ds=denied; fi
  fi
  echo "docker_socket=$ds"
  case "$ds$F" in
  accessible*|remote*|*,docker,*)
    out=$(docker ps --format '{{.Names}} {{.Image}}' 2>/dev/null)
    found=
    IFS="$nl"
    for l in $out; do
      n="${l%% *}" i="${l#* }"
      case "$i" in *netdata*) echo "container=$n $i"; found=1; continue ;; esac
      [ -n "$want_ctr" ] && [ "$n" = "$want_ctr" ] && { echo "container=$n $i"; found=1; }
    done
    unset IFS
    if [ -n "$found" ]; then
      v=$(docker version --format '{{.Server.Version}}' 2>/dev/null) && echo "docker_version=${v%%"$nl"*}"
      # libseccomp's version from its file name (Docker's seccomp
      # limitation): only for a container, since the glob reads every
      # directory of /usr/lib.
      set +f
      for l in /usr/lib/*/libseccomp.so.2.* /usr/lib64/libseccomp.so.2.* /usr/lib/libseccomp.so.2.* /lib/*/libseccomp.so.2.* /lib64/libseccomp.so.2.*; do
        [ -e "$l" ] || continue
        echo "libseccomp=${l##*/libseccomp.so.}"
        break
      done
      set -f
    fi
    ;;
  esac
fi
# Netdata installs: layout:config dir:binary dir:default var lib dir, relative to $R.
for spec in \
  native:/etc/netdata:/usr/sbin:/var/lib/netdata \
  static:/opt/netdata/etc/netdata:/opt/netdata/bin:/opt/netdata/var/lib/netdata \
  macos:/usr/local/netdata/etc/netdata:/usr/local/netdata/usr/sbin:/usr/local/netdata/var/lib/netdata \
  prefixed:/netdata/etc/netdata:/netdata/usr/sbin:/netdata/var/lib/netdata \
  local:/usr/local/etc/netdata:/usr/local/sbin:/usr/local/var/lib/netdata \
  homebrew:/opt/homebrew/etc/netdata:/opt/homebrew/sbin:/opt/homebrew/var/lib/netdata
do
  # Split with expansions: a here-document would be a pipe read a byte at a time.
  layout=${spec%%:*} rest=${spec#*:}
  conf=${rest%%:*} rest=${rest#*:}
  bin=${rest%%:*} lib=${rest#*:}
  # FreeBSD ports keep the agent's state in /var/db/netdata.
  [ "$layout" = local ] && [ "$kernel" = FreeBSD ] && lib=/var/db/netdata
  conf="$R$conf"; bin="$R$bin"; lib="$R$lib"
  [ -d "$conf" ] || [ -x "$bin/netdata" ] || continue
  echo "install=$layout"
  echo "i.confdir=$conf"
  [ -x "$bin/netdata" ] && echo "i.binary=$bin/netdata"
  [ -x "$bin/netdatacli" ] && echo "i.cli=$bin/netdatacli"
  if [ -f "$bin/netdata-claim.sh" ]; then
    echo "i.claim_script=$bin/netdata-claim.sh"
    # The v2 wrapper carries its marker near the top.
    if [ -r "$bin/netdata-claim.sh" ]; then
      n=0
      while [ $n -lt 60 ] && IFS= read -r l; do
        case "$l" in *NEW_CLAIMING_METHOD*) echo "i.claim_v2=1"; break ;; esac
        n=$((n+1))
      done < "$bin/netdata-claim.sh"
    fi
  fi
  it=
  if [ -r "$conf/.install-type" ]; then
    while IFS= read -r l || [ -n "$l" ]; do
      printf 'i.itype=%s\n' "$l"
      case "$l" in INSTALL_TYPE=*) it="${l#INSTALL_TYPE=}" ;; esac
    done < "$conf/.install-type"
  fi
  if [ -r "$conf/netdata.conf" ]; then
    # A package's netdata.conf (a few dozen lines) is read with builtins. A
    # long one (the full configuration saved from the agent: thousands of
    # lines, and a builtin read costs a system call per byte) goes to one
    # awk, which prints the same lines.
    big=
    case "$F" in *,conf-awk,*) big=1 ;; esac
    if [ -z "$big" ]; then
      acc='' s='' libdir='' n=0
      while IFS= read -r l || [ -n "$l" ]; do
        n=$((n+1))
        if [ $n -gt 100 ]; then big=1; break; fi
        t=${l#"${l%%[! 	]*}"}
        case $t in
        \[*)
          # The section: the line without its blanks and brackets.
          IFS=' 	[]'
          # shellcheck disable=SC2086 # split on IFS, set -f is on
          set -- $t
          unset IFS
          s=
          for w in "$@"; do s=$s$w; done
          acc="${acc}i.conf=$l$nl" ;;
        \#*|\;*) ;;
        *=*)
          k=${t%%=*}
          k=${k%"${k##*[! 	]}"}
          case $k in
          'run as user'|'default port'|mode|lib|proxy|'bind to'|enabled|hostname) acc="${acc}i.conf=$l$nl" ;;
          esac
          if [ "$s" = directories ] && [ "$k" = lib ]; then
            v=${l#*=}
            v=${v#"${v%%[! 	]*}"}
            libdir=${v%"${v##*[! 	]}"}
          fi ;;
        esac
      done < "$conf/netdata.conf"
    fi
    if [ -z "$big" ]; then
      printf '%si.libdir=%s\n' "$acc" "$libdir"
      [ -n "$libdir" ] && lib="$libdir"
    else
    out=$(awk '/^[ \t]*\[/ { s = $0; gsub(/[ \t\[\]]/, "", s); print "i.conf=" $0; next }
      /^[ \t]*[#;]/ { next }
      /=/ { k = $0; sub(/[ \t]*=.*/, "", k); sub(/^[ \t]+/, "", k)
        if (k == "run as user" || k == "default port" || k == "mode" || k == "lib" || k == "proxy" || k == "bind to" || k == "enabled" || k == "hostname") print "i.conf=" $0
        if (s == "directories" && k == "lib") { v = $0; sub(/^[^=]*=[ \t]*/, "", v); sub(/[ \t]+$/, "", v); libdir = v } }
      END { print "i.libdir=" libdir }' "$conf/netdata.conf" 2>/dev/null)
    printf '%s\n' "$out"
    v="${out##*i.libdir=}"
    [ -n "$v" ] && lib="$v"
    fi
  elif [ -e "$conf/netdata.conf" ]; then
    echo "i.conf_unreadable=1"
  fi
  [ -e "$conf/claim.conf" ] && echo "i.claim_conf=1"
  echo "i.varlib=$lib"
  # What a claim cut off where no trap runs (SIGKILL, a reboot) leaves:
  # its temporary directory, which may hold the token, its temporary files,
  # and v1's cloud.d/token (netdata-claim.sh removes it once claimed,
  # v1.37.1 claim/netdata-claim.sh.in:396). The claim removes them.
  set +f
  for t in "$conf"/.fleetclaim.* "$conf"/.*.fleetclaim.* "$lib/cloud.d"/.fleetclaim.* "$lib/cloud.d/token"; do
    if [ -e "$t" ] || [ -h "$t" ]; then echo "i.leftover=1"; break; fi
  done
  set -f
  # The agent's user owns registry and cloud.d: the probe (root, maybe)
  # reads nothing through a link there, which could point anywhere.
  g="$lib/registry/netdata.public.unique.id"
  if [ ! -h "$lib/registry" ] && [ ! -h "$g" ] && [ -r "$g" ]; then read -r g < "$g"; echo "i.guid=$g"; fi
  if [ -d "$lib/cloud.d" ]; then
    if [ -r "$lib/cloud.d" ] && [ -x "$lib/cloud.d" ]; then
      echo "i.cloudd=present"
      c="$lib/cloud.d/claimed_id"
      if [ ! -h "$lib/cloud.d" ] && [ ! -h "$c" ] && [ -r "$c" ]; then read -r c < "$c"; echo "i.claimed_id=$c"; fi
    else
      echo "i.cloudd=unreadable"
    fi
  else
    echo "i.cloudd=absent"
  fi
  [ -x "$R/etc/init.d/netdata" ] && echo "i.initd=$R/etc/init.d/netdata"
  # Is the agent running? Its pid file, checked without a fork; the last is
  # Debian's init script's (PIDFILE=/run/netdata.pid, netdata 1.37.1).
  for p in "$R/run/netdata/netdata.pid" "$R/var/run/netdata/netdata.pid" "${lib%/lib/netdata}/run/netdata/netdata.pid" "$R/run/netdata.pid"; do
    [ -r "$p" ] || continue
    pid=; read -r pid < "$p"
    case "$pid" in ''|*[!0-9]*) continue ;; esac
    if [ -d /proc/1 ]; then
      # A stale pid file may name another process by now, or a thread of
      # one (pids are reused; /proc/TID exists too), or the agent that
      # exited and was not reaped yet (a zombie): the agent runs when that
      # pid is a live process (its thread group's) named netdata.
      pname='' pstate='' tgid=''
      if [ -r "/proc/$pid/status" ]; then
        while read -r k v _; do
          case $k in Name:) pname=$v ;; State:) pstate=$v ;; Tgid:) tgid=$v; break ;; esac
        done < "/proc/$pid/status"
      fi
      case $pstate in Z | X) pname='' ;; esac
      if [ "$pname" = netdata ] && [ "$tgid" = "$pid" ]; then echo "i.running=1"; else echo "i.running=0"; fi
    elif kill -0 "$pid" 2>/dev/null; then echo "i.running=1"
    else echo "i.running=0"
    fi
    break
  done
  if [ -x "$bin/netdata" ]; then
    v=$("$bin/netdata" -v 2>/dev/null) && printf 'i.version=%s\n' "${v%%"$nl"*}"
    # Official builds (kickstart, native packages, static, Docker) always
    # carry Cloud; distribution packages and hand builds may not.
    # Every build from v2.0.0 on carries Cloud: v2.0.0's CMakeLists.txt:1448
    # builds the ACLK always (v1.47.5's CMakeLists.txt:150 was the last
    # ENABLE_ACLK option). The version says enough.
    major=${v##* }; major=${major#v}; major=${major%%.*}
    case "$major" in ''|*[!0-9]*|0|1) ;; *) it="$it,cloud-builtin"; echo "i.cloud_builtin=1" ;; esac
    case "$it" in
    *kickstart-static*|*kickstart-build*|*binpkg-*|*oci*|*manual-static*|*,cloud-builtin) ;;
    *)
      out=$("$bin/netdata" -W buildinfo 2>/dev/null)
      IFS="$nl"
      for l in $out; do
        case "$l" in *[Cc]loud*|*ACLK*) printf 'i.buildinfo=%s\n' "$l" ;; esac
      done
      unset IFS
      ;;
    esac
  fi
done
echo "end=1"
