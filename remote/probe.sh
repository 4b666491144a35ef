# fleetclaim probe: one round trip that reports what fleetclaim needs to know
# about a host. POSIX sh only (dash, bash, BusyBox ash, macOS and FreeBSD sh).
# $1: the root under which Netdata installs are looked for ("" = the host's /).
# Output: key=value lines, parsed by remote.ParseProbe.
LC_ALL=C
export LC_ALL
PATH="$PATH:/usr/sbin:/sbin:/usr/local/sbin:/usr/local/bin:/opt/homebrew/bin"
R="${1:-}"
echo "fleetclaim-probe=1"
u=$(id -u 2>/dev/null)
echo "uid=$u"
echo "user=$(id -un 2>/dev/null)"
set -- $(uname -s -r -m 2>/dev/null)
echo "kernel=${1:-}"
echo "kernel_release=${2:-}"
echo "arch=${3:-}"
kernel="${1:-}"
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
if [ "$u" != 0 ]; then
  command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1 && echo "sudo_nopasswd=1"
  command -v doas >/dev/null 2>&1 && doas -n true >/dev/null 2>&1 && echo "doas_nopasswd=1"
fi
if command -v docker >/dev/null 2>&1; then
  docker ps --format '{{.Names}} {{.Image}}' 2>/dev/null | while read -r n i; do
    case "$i" in *netdata*) echo "container=$n $i" ;; esac
  done
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
  IFS=: read -r layout conf bin lib <<EOF
$spec
EOF
  conf="$R$conf"; bin="$R$bin"; lib="$R$lib"
  [ -d "$conf" ] || [ -x "$bin/netdata" ] || continue
  echo "install=$layout"
  echo "i.confdir=$conf"
  [ -x "$bin/netdata" ] && echo "i.binary=$bin/netdata"
  [ -x "$bin/netdatacli" ] && echo "i.cli=$bin/netdatacli"
  if [ -f "$bin/netdata-claim.sh" ]; then
    echo "i.claim_script=$bin/netdata-claim.sh"
    grep -q 'NEW_CLAIMING_METHOD' "$bin/netdata-claim.sh" 2>/dev/null && echo "i.claim_v2=1"
  fi
  if [ -r "$conf/.install-type" ]; then
    while IFS= read -r l || [ -n "$l" ]; do printf 'i.itype=%s\n' "$l"; done < "$conf/.install-type"
  fi
  if [ -r "$conf/netdata.conf" ]; then
    out=$(awk '/^[ \t]*\[/ { s = $0; gsub(/[ \t\[\]]/, "", s); print "i.conf=" $0; next }
      /^[ \t]*[#;]/ { next }
      /=/ { k = $0; sub(/[ \t]*=.*/, "", k); sub(/^[ \t]+/, "", k)
        if (k == "run as user" || k == "default port" || k == "mode" || k == "lib" || k == "proxy" || k == "bind to" || k == "enabled") print "i.conf=" $0
        if (s == "directories" && k == "lib") { v = $0; sub(/^[^=]*=[ \t]*/, "", v); sub(/[ \t]+$/, "", v); libdir = v } }
      END { print "i.libdir=" libdir }' "$conf/netdata.conf" 2>/dev/null)
    printf '%s\n' "$out"
    v="${out##*i.libdir=}"
    [ -n "$v" ] && lib="$v"
  elif [ -e "$conf/netdata.conf" ]; then
    echo "i.conf_unreadable=1"
  fi
  [ -e "$conf/claim.conf" ] && echo "i.claim_conf=1"
  echo "i.varlib=$lib"
  [ -r "$lib/registry/netdata.public.unique.id" ] && { read -r g < "$lib/registry/netdata.public.unique.id"; echo "i.guid=$g"; }
  if [ -d "$lib/cloud.d" ]; then
    if [ -r "$lib/cloud.d" ] && [ -x "$lib/cloud.d" ]; then
      echo "i.cloudd=present"
      [ -r "$lib/cloud.d/claimed_id" ] && { read -r c < "$lib/cloud.d/claimed_id"; echo "i.claimed_id=$c"; }
    else
      echo "i.cloudd=unreadable"
    fi
  else
    echo "i.cloudd=absent"
  fi
  [ -x "$R/etc/init.d/netdata" ] && echo "i.initd=$R/etc/init.d/netdata"
  if [ -x "$bin/netdata" ]; then
    v=$("$bin/netdata" -v 2>/dev/null) && printf 'i.version=%s\n' "$v" | head -n 1
    "$bin/netdata" -W buildinfo 2>/dev/null | while IFS= read -r l; do
      case "$l" in *[Cc]loud*|*ACLK*) printf 'i.buildinfo=%s\n' "$l" ;; esac
    done
  fi
done
echo "end=1"
