# fleetclaim upload, step 3 (remote.Upload): check the uploaded file's
# sha256, give it its owner and mode and rename it into place, so the
# destination is either complete or untouched. POSIX sh only (dash, bash,
# BusyBox ash, macOS and FreeBSD sh). Runs as whoever the upload is for:
# root through sudo/doas, or the login user.
# $1: the uploaded file (upload-stage.sh's file or dir/NAME).
# $2: upload-stage.sh's private directory, "" when the file is next to the
#     destination already. Its file is copied next to the destination
#     first, into a file this script makes, and the directory is removed.
# $3: the destination's directory.  $4: the destination's file name.
# $5: the sha256 tool (sha256sum, shasum, openssl, sha256; "" for none: the
#     caller read the file back).  $6: its path.  $7: the sha256 wanted, hex.
# $8: the owner ("user" or "user:group"; "" to leave it).  $9: the mode,
#     octal.
# Exit codes (remote's upload.place tells them): 3 sha256 mismatch, 4 no
# temporary file next to the destination, 5 no sha256, 6 owner or mode,
# 7 the rename, 8 a link or a directory at the temporary file's name or at
# the destination, refused: the user who owns the destination's directory
# may put one there, and root follows no link such a user controls.
src=$1 stagedir=$2 dir=$3 base=$4 tool=$5 tool_path=$6 want=$7 owner=$8 mode=$9
dst="$dir/$base"
if [ -n "$stagedir" ]; then
	umask 077
	t=$(mktemp "$dir/.$base.fleetclaim.XXXXXX") || exit 4
	cat "$src" > "$t" || { rm -f "$t"; exit 4; }
else
	t=$src
fi
# refuse CODE: remove the temporary file, stop with CODE.
refuse() {
	rm -f "$t"
	exit "$1"
}
if [ -h "$t" ] || [ ! -f "$t" ]; then
	echo "not a plain file at the temporary name $t" >&2
	exit 8
fi
if [ -n "$tool" ]; then
	case $tool in
	sha256sum) h=$("$tool_path" < "$t") ;;
	shasum) h=$("$tool_path" -a 256 < "$t") ;;
	openssl) h=$("$tool_path" dgst -sha256 < "$t") ;;
	sha256) h=$("$tool_path" -q < "$t") ;;
	*) false ;;
	esac || refuse 5
	case $h in
	*"$want"*) ;;
	*) echo "sha256 on the host: $h" >&2; refuse 3 ;;
	esac
fi
if [ -n "$owner" ]; then
	chown -h "$owner" "$t" || refuse 6
fi
chmod "$mode" "$t" || refuse 6
if [ -h "$dst" ] || [ -d "$dst" ]; then
	echo "a link or a directory at $dst" >&2
	refuse 8
fi
mv -f "$t" "$dst" || refuse 7
if [ -n "$stagedir" ]; then
	rm -rf "$stagedir" 2>/dev/null
fi
exit 0
