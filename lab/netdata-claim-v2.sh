# netdata-claim.sh (fleetclaim lab, Netdata v2 behaviour)
#
# %%NEW_CLAIMING_METHOD%%
#
# Writes claim.conf and asks the running agent to reload its claiming state.

# config_dir and netdatacli are set ahead (lab/layout.go claimScript).
# shellcheck disable=SC2154
set -e

warn() { printf 'WARNING: %s\n' "$1" >&2; }
die() { printf 'ERROR: %s\n' "$1" >&2; exit "$2"; }

token='' rooms='' url='' proxy='' insecure='' noreload=''
while [ $# -gt 0 ]; do
    case "$1" in
        -token=*) token=${1#-token=} ;;
        -rooms=*) rooms=${1#-rooms=} ;;
        -url=*) url=${1#-url=} ;;
        -proxy=*) proxy=${1#-proxy=} ;;
        --claim-token) token=$2; shift ;;
        --claim-rooms) rooms=$2; shift ;;
        --claim-url) url=$2; shift ;;
        --claim-proxy) proxy=$2; shift ;;
        -noproxy|--noproxy) proxy=none ;;
        -insecure|--insecure) insecure=yes ;;
        -noreload|--noreload) noreload=1 ;;
        -verbose|-daemon-not-running) ;;
        -id=*) warn "-id option is no longer supported. Remove the node ID file instead." ;;
        -hostname=*) warn "-hostname option is no longer supported. Update the main netdata configuration manually instead." ;;
        -user=*) warn "-user option is no longer supported." ;;
        *) warn "Ignoring unrecognized option $1" ;;
    esac
    shift
done

[ -w "$config_dir" ] || die "Script must be run by a user with write access to $config_dir." 32
[ -n "$token" ] || die "Claim token must be specified" 1
[ -n "$url" ] || url=https://app.netdata.cloud/

umask 077
tmp="$config_dir/claim.conf.tmp.$$"
{
    printf '[global]\n'
    printf '    url = %s\n' "$url"
    printf '    token = %s\n' "$token"
    [ -z "$rooms" ] || printf '    rooms = %s\n' "$rooms"
    [ -z "$proxy" ] || printf '    proxy = %s\n' "$proxy"
    [ -z "$insecure" ] || printf '    insecure = %s\n' "$insecure"
} > "$tmp"
chmod 0640 "$tmp"
mv -f "$tmp" "$config_dir/claim.conf"

[ -n "$noreload" ] || "$netdatacli" reload-claiming-state
