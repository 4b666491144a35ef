# fleetclaim upload, step 1 (remote.Upload): make the temporary file an
# upload is written to, and find the host's sha256 tool. POSIX sh only
# (dash, bash, BusyBox ash, macOS and FreeBSD sh). Runs as the login user.
# $1: the destination's directory.
# $2: the destination's file name.
# Output, one line each:
#   file PATH  the temporary file, next to the destination (the login user
#              may write there), or
#   dir PATH   a private temporary directory holding PATH/$2 (it may not);
#   hash TOOL PATH, once per sha256 tool found (sha256sum, shasum, openssl,
#              sha256), in that order.
# Exit 1 when no temporary file could be made.
umask 077
dir=$1 base=$2
if [ -w "$dir" ] && t=$(mktemp "$dir/.$base.fleetclaim.XXXXXX" 2>/dev/null); then
	printf 'file %s\n' "$t"
else
	t=$(mktemp -d "${TMPDIR:-/tmp}/fleetclaim.XXXXXX") && : > "$t/$base" && printf 'dir %s\n' "$t" || exit 1
fi
for x in sha256sum shasum openssl sha256; do
	p=$(command -v "$x" 2>/dev/null) && printf 'hash %s %s\n' "$x" "$p"
done
exit 0
