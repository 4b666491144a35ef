# fleetclaim kickstart: installs the agent with kickstart.sh, or with an
# offline bundle's install.sh, from a temporary directory fleetclaim made
# on the host (mktemp -d) and pushed the files to, or that the host fetches
# kickstart.sh into. The installer's output goes to a log there, whose last
# lines are reported. POSIX sh.
# $1: the temporary directory.
# $2: bundle (run the pushed bundle's install.sh), file (run the pushed
#     kickstart.sh) or fetch (download kickstart.sh from $3 first).
# $3: with fetch, kickstart.sh's url.
# $4: with fetch, the sha256 it must have, or "" when not pinned.
# $5...: the installer's arguments.
# Output: fleetclaim-error=no-fetcher|fetch|sha256, or kickstart-rc=N and
#   log=LINE... (the log's last 20 lines).
dir=$1 how=$2 url=$3 want=$4
shift 4
ks="$dir/kickstart.sh"
log="$dir/kickstart.log"
if [ "$how" = fetch ]; then
  if command -v curl >/dev/null 2>&1; then get=curl
  elif command -v wget >/dev/null 2>&1; then get=wget
  else echo fleetclaim-error=no-fetcher; exit 0
  fi
  case $get in
  curl) curl -fsSL "$url" -o "$ks" ;;
  *) wget -q -O "$ks" "$url" ;;
  esac > "$log" 2>&1 || { echo fleetclaim-error=fetch; exit 0; }
  if [ -n "$want" ]; then
    h=$(sha256sum "$ks" 2>/dev/null || shasum -a 256 "$ks")
    [ "${h%% *}" = "$want" ] || { echo fleetclaim-error=sha256; exit 0; }
  fi
fi
(
  case $how in
  bundle) cd "$dir" && sh ./install.sh "$@" ;;
  *) sh "$ks" "$@" ;;
  esac
) >> "$log" 2>&1
rc=$?
echo "kickstart-rc=$rc"
tail -n 20 "$log" | while IFS= read -r l; do printf 'log=%s\n' "$l"; done
