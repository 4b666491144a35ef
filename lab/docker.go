package lab

import (
	_ "embed"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
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

// dockerShimScript is the docker stand-in's body (docker-shim.sh).
//
//go:embed docker-shim.sh
var dockerShimScript string

// dockerShim is host h's docker stand-in: its values, then
// docker-shim.sh.
func dockerShim(h *host) string {
	p := h.paths
	vars := []struct{ name, value string }{
		{"ctr_name", labContainerName}, {"ctr_id", labContainerID}, {"image", labContainerImage(h)},
		{"host_root", p.prefix}, {"ctr_root", p.root}, {"docker_log", p.dockerLog()},
		{"docker_version", labDockerVersion}, {"default_path", defaultPath},
	}
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# fleetclaim lab: docker stand-in for lab host " + h.name + " (see lab/docker.go).\n")
	for _, v := range vars {
		b.WriteString(v.name + "=" + shellQuote(v.value) + "\n")
	}
	b.WriteString(dockerShimScript)
	return b.String()
}
