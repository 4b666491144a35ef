# fleetclaim lab: the docker stand-in of a lab host whose agent runs in a
# container (lab/docker.go writes it, these variables set ahead):
# ctr_name, ctr_id, image: the one container that runs; host_root and
# ctr_root: the host's and the container's root directories; docker_log:
# where each call's arguments go; docker_version; default_path.
# shellcheck disable=SC2154
printf '%s\n' "$*" >> "$docker_log"
sub() {
  printf '%s\n' "$1" | sed -e "s|{{ *\.Names *}}|$ctr_name|g" -e "s|{{ *\.Image *}}|$image|g" -e "s|{{ *\.ID *}}|$ctr_id|g" \
    -e "s|{{ *\.Server\.Version *}}|$docker_version|g" -e "s|{{ *\.Client\.Version *}}|$docker_version|g"
}
cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
ps)
  fmt=
  while [ $# -gt 0 ]; do
    case "$1" in
    --format) fmt=${2:-}; shift ;;
    --format=*) fmt=${1#--format=} ;;
    -a|--all|-q|--quiet|--no-trunc) ;;
    *) echo "unknown flag: $1" >&2; exit 125 ;;
    esac
    shift
  done
  if [ -n "$fmt" ]; then sub "$fmt"; else
    printf 'CONTAINER ID   IMAGE   COMMAND   CREATED   STATUS   PORTS   NAMES\n'
    printf '%s   %s   "/usr/sbin/run.sh"   2 hours ago   Up 2 hours (healthy)   19999/tcp   %s\n' "$ctr_id" "$image" "$ctr_name"
  fi ;;
version)
  case "${1:-}" in
  --format) sub "${2:-}" ;;
  --format=*) sub "${1#--format=}" ;;
  *) printf 'Client: Docker Engine - Community\n Version:           %s\n\nServer: Docker Engine - Community\n Engine:\n  Version:          %s\n' "$docker_version" "$docker_version" ;;
  esac ;;
exec)
  interactive=
  while [ $# -gt 0 ]; do
    case "$1" in
    -i|--interactive) interactive=1 ;;
    -it|-ti) interactive=1 ;;
    -t|--tty|-d|--detach) ;;
    -u|--user|-w|--workdir|-e|--env) shift ;;
    --) shift; break ;;
    -*) echo "unknown flag: $1" >&2; exit 125 ;;
    *) break ;;
    esac
    shift
  done
  if [ $# -lt 2 ]; then echo '"docker exec" requires at least 2 arguments.' >&2; exit 1; fi
  case "$1" in
  "$ctr_name"|"$ctr_id") ;;
  *) echo "Error response from daemon: No such container: $1" >&2; exit 1 ;;
  esac
  shift
  n=$#
  while [ "$n" -gt 0 ]; do
    a=$1; shift
    [ "$a" = "$host_root" ] && a=$ctr_root
    set -- "$@" "$a"
    n=$((n-1))
  done
  cd "$ctr_root" || exit 126
  [ -n "$interactive" ] || exec </dev/null
  unset DOCKER_HOST
  HOME=$ctr_root
  PATH="$ctr_root/usr/sbin:$ctr_root/usr/bin:$default_path"
  export HOME PATH
  exec "$@" ;;
inspect)
  # The container runs with the volumes Netdata's docker guide gives it
  # (packaging/docker/README.md:69-73 v2.11.0), at the container's root.
  fmt=
  while [ $# -gt 1 ]; do
    case "$1" in
    --format|-f) fmt=${2:-}; shift ;;
    esac
    shift
  done
  case "${1:-}" in
  "$ctr_name"|"$ctr_id") ;;
  *) echo "Error: No such object: ${1:-}" >&2; exit 1 ;;
  esac
  case "$fmt" in
  *'.Mounts'*'.Destination'*) printf '%s\n' "$ctr_root/etc/netdata" "$ctr_root/var/lib/netdata" "$ctr_root/var/cache/netdata" ;;
  *) echo "template not supported by the lab stand-in: $fmt" >&2; exit 1 ;;
  esac ;;
'')
  echo "Usage:  docker [OPTIONS] COMMAND" >&2; exit 1 ;;
*)
  echo "docker: '$cmd' is not a docker command (fleetclaim lab stand-in)." >&2; exit 1 ;;
esac
