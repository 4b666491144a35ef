package lab

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// A docker host (KindDocker) has no agent of its own. Its PATH starts with
// a directory under its prefix that holds a `docker` stand-in, and
// DOCKER_HOST names a socket file under its prefix, so a probe finds Docker
// reachable. One container runs: "netdata", from the netdata/netdata image,
// whose root directory is containerRoot(prefix) and whose agent is a lab v2
// agent with the image's native layout. The stand-in answers what a fleet
// tool asks Docker:
//
//   - docker ps [--format TEMPLATE] ({{.ID}}, {{.Names}}, {{.Image}})
//   - docker version [--format TEMPLATE] ({{.Server.Version}}, {{.Client.Version}})
//   - docker inspect --format '{{range .Mounts}}{{println .Destination}}{{end}}'
//     CONTAINER: the volumes' destinations, under the container's root
//   - docker exec [-i] [-t] [-u USER] CONTAINER CMD ARGS...: CMD runs in the
//     container's root directory, stdin connected only with -i. A container
//     sees its root where the host has its prefix: an argument equal to the
//     host's prefix is passed as the container's root.
//
// Every call's arguments are appended to dockerLog(), so tests can prove
// that no secret ever reached docker's argv.

const (
	labContainerName = "netdata"
	labContainerID   = "3f9c1a7e2b4d"
	labDockerVersion = "24.0.7"
)

func labContainerImage(h *host) string { return "netdata/netdata:v" + h.personality.Version }

// installDocker writes the docker stand-in and the socket file.
func installDocker(h *host) error {
	p := h.paths
	for _, d := range []string{p.binDir(), filepath.Dir(p.dockerLog()), filepath.Dir(p.dockerSocket()), p.root} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(p.binDir(), "docker"), []byte(dockerShim(h)), 0o755); err != nil {
		return err
	}
	// A socket file nobody listens on: enough for `test -S`, and no
	// descriptor held per host.
	sock := p.dockerSocket()
	if len(sock) >= 104 {
		return fmt.Errorf("docker socket path %s is too long for a unix socket; use a shorter --dir", sock)
	}
	_ = os.Remove(sock)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		return fmt.Errorf("docker socket: %w", err)
	}
	ln.SetUnlinkOnClose(false)
	return ln.Close()
}

// dockerEnv is what a docker host's sessions add to their environment.
func (p hostPaths) dockerEnv() []string {
	return []string{"PATH=" + p.binDir() + ":" + defaultPath, "DOCKER_HOST=unix://" + p.dockerSocket()}
}

func dockerShim(h *host) string {
	p := h.paths
	return fmt.Sprintf(`#!/bin/sh
# fleetclaim lab: docker stand-in for lab host %[1]s (see lab/docker.go).
# One container runs: %[2]s (%[3]s), root directory %[5]s.
printf '%%s\n' "$*" >> %[6]s
host_root=%[4]s
ctr_root=%[5]s
image=%[3]s
sub() {
  printf '%%s\n' "$1" | sed -e "s|{{ *\.Names *}}|%[2]s|g" -e "s|{{ *\.Image *}}|$image|g" -e "s|{{ *\.ID *}}|%[7]s|g" \
    -e "s|{{ *\.Server\.Version *}}|%[8]s|g" -e "s|{{ *\.Client\.Version *}}|%[8]s|g"
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
    printf '%%s   %%s   "/usr/sbin/run.sh"   2 hours ago   Up 2 hours (healthy)   19999/tcp   %%s\n' %[7]s "$image" %[2]s
  fi ;;
version)
  case "${1:-}" in
  --format) sub "${2:-}" ;;
  --format=*) sub "${1#--format=}" ;;
  *) printf 'Client: Docker Engine - Community\n Version:           %[8]s\n\nServer: Docker Engine - Community\n Engine:\n  Version:          %[8]s\n' ;;
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
  %[2]s|%[7]s) ;;
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
  PATH="$ctr_root/usr/sbin:$ctr_root/usr/bin:%[9]s"
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
  %[2]s|%[7]s) ;;
  *) echo "Error: No such object: ${1:-}" >&2; exit 1 ;;
  esac
  case "$fmt" in
  *'.Mounts'*'.Destination'*) printf '%%s\n' "$ctr_root/etc/netdata" "$ctr_root/var/lib/netdata" "$ctr_root/var/cache/netdata" ;;
  *) echo "template not supported by the lab stand-in: $fmt" >&2; exit 1 ;;
  esac ;;
'')
  echo "Usage:  docker [OPTIONS] COMMAND" >&2; exit 1 ;;
*)
  echo "docker: '$cmd' is not a docker command (fleetclaim lab stand-in)." >&2; exit 1 ;;
esac
`, h.name, labContainerName, shellQuote(labContainerImage(h)), shellQuote(p.prefix), shellQuote(p.root),
		shellQuote(p.dockerLog()), labContainerID, labDockerVersion, defaultPath)
}
