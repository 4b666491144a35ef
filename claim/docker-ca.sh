# fleetclaim docker-ca: installs the Cloud CA chain, read from stdin, as
# cloud.d/trusted.pem (see write_ca in lib.sh) inside the agent's container (docker exec
# -i, after lib.sh). As on a host, root follows no link in cloud.d: see
# lib.sh.
# $1: cloud.d.  $2: the agent's config dir.  $3: its run-as user.
# Output: written=1.
cloudd=$1 conf=$2 owner=$3
[ "$owner" = root ] && owner=''
am_root
make_cloudd "$cloudd" 0755 "$owner"
f="$cloudd/trusted.pem"
no_link "$f"
[ -d "$f" ] && fail write-ca
make_tdir "$conf" "$cloudd"
umask 022
cat > "$tdir/trusted.pem" || fail write-ca
umask 077
put_file "$tdir/trusted.pem" "$f" "$owner" write-ca
rmdir "$tdir" && tdir=''
echo written=1
