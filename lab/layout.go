package lab

import (
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// hostPaths are the places a simulated install uses under a host's prefix:
// the static-install layout by default, the native layout (a distribution
// package, or the netdata/netdata image inside a container) with nativePaths.
type hostPaths struct {
	prefix   string // DIR/hosts/NAME, the host's "/"
	root     string // the agent's "/": the prefix, or a container's root directory
	netdata  string // PREFIX/opt/netdata
	bin      string // PREFIX/opt/netdata/bin
	conf     string // PREFIX/opt/netdata/etc/netdata
	varLib   string // PREFIX/opt/netdata/var/lib/netdata
	cloudDir string // PREFIX/opt/netdata/var/lib/netdata/cloud.d
	initd    string // PREFIX/etc/init.d/netdata
}

func newHostPaths(prefix string) hostPaths {
	nd := filepath.Join(prefix, "opt", "netdata")
	return hostPaths{
		prefix:   prefix,
		root:     prefix,
		netdata:  nd,
		bin:      filepath.Join(nd, "bin"),
		conf:     filepath.Join(nd, "etc", "netdata"),
		varLib:   filepath.Join(nd, "var", "lib", "netdata"),
		cloudDir: filepath.Join(nd, "var", "lib", "netdata", "cloud.d"),
		initd:    filepath.Join(prefix, "etc", "init.d", "netdata"),
	}
}

// nativePaths is the native layout (/etc/netdata, /usr/sbin,
// /var/lib/netdata) rooted at root, on the host with prefix.
func nativePaths(prefix, root string) hostPaths {
	return hostPaths{
		prefix:   prefix,
		root:     root,
		netdata:  root,
		bin:      filepath.Join(root, "usr", "sbin"),
		conf:     filepath.Join(root, "etc", "netdata"),
		varLib:   filepath.Join(root, "var", "lib", "netdata"),
		cloudDir: filepath.Join(root, "var", "lib", "netdata", "cloud.d"),
		initd:    filepath.Join(root, "etc", "init.d", "netdata"),
	}
}

// containerRoot is the root directory of a docker host's "netdata" container.
func containerRoot(prefix string) string {
	return filepath.Join(prefix, "var", "lib", "lab-docker", "containers", "netdata")
}

// pathsFor is the layout of a host's agent.
func pathsFor(prefix string, kind AgentKind) hostPaths {
	switch kind {
	case KindDistro:
		return nativePaths(prefix, prefix)
	case KindDocker:
		return nativePaths(prefix, containerRoot(prefix))
	}
	return newHostPaths(prefix)
}

// binDir is the directory of lab programs on a host's own PATH (the docker
// stand-in), searched before the system's.
func (p hostPaths) binDir() string { return filepath.Join(p.prefix, "usr", "local", "lab-bin") }

// dockerSocket is the docker host's socket (DOCKER_HOST points at it).
func (p hostPaths) dockerSocket() string { return filepath.Join(p.prefix, "run", "docker.sock") }

// dockerLog is where the docker stand-in logs every argv it was given.
func (p hostPaths) dockerLog() string {
	return filepath.Join(p.prefix, "var", "log", "lab-docker-argv.log")
}

func (p hostPaths) guidFile() string {
	return filepath.Join(p.varLib, "registry", "netdata.public.unique.id")
}

// prebuiltArch is the `uname -m` spelling of the machine the lab runs on.
func prebuiltArch() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	case "386":
		return "i386"
	case "arm":
		return "armv7l"
	default:
		return runtime.GOARCH
	}
}

// shellQuote quotes s as one POSIX shell word.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// helperEnv is what every generated script needs to reach the lab process.
type helperEnv struct {
	exe     string // the fleetlab binary (or a test binary that dispatches as it does)
	sock    string // DIR/lab.sock
	runUser string // the OS user the lab runs as
}

// installHost lays out a host's prefix for its personality. It rewrites the
// programs and configuration every time (the binary path may have changed) but
// never touches agent state (machine GUID, cloud.d, claim.conf).
func installHost(h *host, env helperEnv) error {
	p := h.paths
	if err := os.MkdirAll(p.prefix, 0o755); err != nil {
		return fmt.Errorf("host %s: %w", h.name, err)
	}
	if err := installFaultTools(h); err != nil {
		return err
	}
	if err := installLoginTools(h, filepath.Dir(env.sock)); err != nil {
		return err
	}
	if h.personality.Kind == KindDocker {
		if err := installDocker(h); err != nil {
			return fmt.Errorf("host %s: %w", h.name, err)
		}
	}
	if !h.agent.installed.Load() {
		return nil // no Netdata until kickstart installs it
	}
	return installAgent(h, env)
}

// installAgent lays out the agent's programs and configuration.
func installAgent(h *host, env helperEnv) error {
	p := h.paths
	for _, d := range []string{p.bin, p.conf, filepath.Join(p.varLib, "registry"), filepath.Dir(p.initd)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("host %s: %w", h.name, err)
		}
	}
	files := []struct {
		path string
		data string
		mode os.FileMode
	}{
		{filepath.Join(p.conf, "netdata.conf"), netdataConf(h, env), 0o644},
		{filepath.Join(p.bin, "netdata"), netdataProgram(h), 0o755},
		{filepath.Join(p.bin, "netdatacli"), helperScript(env, "netdatacli", h.name,
			"simulated netdatacli: talks to this host's agent inside the lab process"), 0o755},
		{filepath.Join(p.bin, "netdata-claim.sh"), claimScript(h, env), 0o755},
		{p.initd, helperScript(env, "service", h.name,
			"SysV-style init script (start|stop|restart|status) for this host's simulated agent"), 0o755},
	}
	if h.personality.Kind.agentKind() != KindNoCloud {
		itype := "kickstart-static"
		if h.personality.Kind == KindDocker {
			itype = "oci"
		}
		files = append(files, struct {
			path string
			data string
			mode os.FileMode
		}{filepath.Join(p.conf, ".install-type"),
			"INSTALL_TYPE='" + itype + "'\nPREBUILT_ARCH='" + prebuiltArch() + "'\n", 0o644})
	}
	for _, f := range files {
		// Created with their mode (under the umask, like any install); an
		// existing file keeps the mode it has.
		if err := os.WriteFile(f.path, []byte(f.data), f.mode); err != nil {
			return fmt.Errorf("host %s: %w", h.name, err)
		}
	}
	if _, err := os.Stat(p.guidFile()); errors.Is(err, fs.ErrNotExist) {
		if err := os.WriteFile(p.guidFile(), []byte(h.guid), 0o644); err != nil {
			return fmt.Errorf("host %s: %w", h.name, err)
		}
	} else if err != nil {
		return fmt.Errorf("host %s: %w", h.name, err)
	}
	return lockConf(h)
}

func netdataConf(h *host, env helperEnv) string {
	port := agentWebPort
	if h.web.port != 0 {
		port = h.web.port // the agent's own TCP port (Options.TCPWeb)
	}
	return fmt.Sprintf(`# netdata configuration (fleetclaim lab host %s)
[global]
    run as user = %s
    hostname = %s

[web]
    default port = %d
`, h.name, h.runAsUser(env.runUser), h.name, port)
}

func helperScript(env helperEnv, verb, name, what string) string {
	return fmt.Sprintf("#!/bin/sh\n# fleetclaim lab: %s\nexec %s %s --sock %s --host %s \"$@\"\n",
		what, shellQuote(env.exe), verb, shellQuote(env.sock), shellQuote(name))
}

// claimScript is netdata-claim.sh: for v2 a POSIX sh wrapper that writes
// claim.conf and asks the agent to reload; for v1 (and the old builds without
// Cloud) a script that claims through the lab process itself.
func claimScript(h *host, env helperEnv) string {
	if k := h.personality.Kind.agentKind(); k == KindV1 || k == KindNoCloud {
		return fmt.Sprintf(`#!/bin/sh
# netdata-claim.sh (fleetclaim lab, Netdata v%s behaviour): claims this node itself
# and reports the outcome through its exit code.
exec %s claim-v1 --sock %s --host %s -- "$@"
`, h.personality.Version, shellQuote(env.exe), shellQuote(env.sock), shellQuote(h.name))
	}
	return "#!/bin/sh\nconfig_dir=" + shellQuote(h.paths.conf) + "\nnetdatacli=" + shellQuote(filepath.Join(h.paths.bin, "netdatacli")) +
		"\n" + claimScriptV2
}

// claimScriptV2 is a v2 host's netdata-claim.sh stand-in's body
// (netdata-claim-v2.sh), after the variables claimScript sets.
//
//go:embed netdata-claim-v2.sh
var claimScriptV2 string

// netdataProgram is the `netdata` binary stand-in: it only answers the version
// and build-info queries a fleet tool asks before claiming.
func netdataProgram(h *host) string {
	v := "v" + h.personality.Version
	return fmt.Sprintf(`#!/bin/sh
# fleetclaim lab: simulated netdata daemon binary (version and build info only;
# the agent itself runs inside the lab process, see ../../../etc/init.d/netdata)
case "$1" in
    -v|-V|--version|version) echo %s; exit 0 ;;
    -W)
        case "$2" in
            buildinfo)
                cat <<'BUILDINFO'
%sBUILDINFO
                exit 0 ;;
        esac ;;
esac
echo "netdata: the fleetclaim lab runs this agent; use %s start|stop|restart|status" >&2
exit 1
`, shellQuote("netdata "+v), buildInfo(h), h.paths.initd)
}

// buildInfo is `netdata -W buildinfo` in the layout of the agent's version.
func buildInfo(h *host) string {
	p := h.personality
	cloud := p.Kind.agentKind() != KindNoCloud
	v := "v" + p.Version
	if versionBefore(p.Version, 1, 41) {
		return buildInfoColons(v, cloud)
	}
	return buildInfoTable(h, v, cloud)
}

// buildInfo137 is real `netdata -W buildinfo` output of Debian's
// netdata-core 1.37.1 (built without Cloud), captured into testdata.
//
//go:embed testdata/buildinfo/netdata-1.37.1-debian.txt
var buildInfo137 string

// buildInfoColons is the build report of agents before v1.41, the older
// colon-aligned layout: the captured 1.37.1 report, with the version the
// host's agent has (daemon/main.c:1279 v1.37.1, "Version: %s %s") and, for a
// build with Cloud, the two lines daemon/buildinfo.c:273-274 (v1.37.1)
// print then ("%s %s" of YES and an empty FEAT_CLOUD_MSG, :11-12) and a
// configure line without --disable-cloud.
func buildInfoColons(v string, cloud bool) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(buildInfo137, "\n") {
		switch {
		case l == "" || strings.HasPrefix(l, "#"):
			continue
		case strings.HasPrefix(l, "Version: netdata "):
			l = "Version: netdata " + v + "\n"
		case !cloud:
		case strings.HasPrefix(l, "Configure options: "):
			l = strings.Replace(l, " '--disable-cloud'", "", 1)
		case strings.HasPrefix(l, "    Netdata Cloud: "):
			l = "    Netdata Cloud:              YES \n"
		case strings.HasPrefix(l, "    ACLK: "):
			l = "    ACLK:                       YES\n"
		}
		b.WriteString(l)
	}
	return b.String()
}

// buildInfoTable is the build report of v1.41 and later: sections of
// underscore-padded lines.
func buildInfoTable(h *host, v string, cloud bool) string {
	line := func(k, v string) string {
		pad := max(60-len(k)-1, 0)
		return "    " + k + " " + strings.Repeat("_", pad) + " : " + v + "\n"
	}
	yn := func(b bool) string {
		if b {
			return "YES"
		}
		return "NO"
	}
	nd := h.paths.netdata
	var b strings.Builder
	b.WriteString("Packaging:\n")
	b.WriteString(line("Netdata Version", v))
	b.WriteString(line("Installation Type", "kickstart-static"))
	b.WriteString(line("Package Architecture", prebuiltArch()))
	b.WriteString(line("Package Distro", ""))
	b.WriteString(line("Configure Options", "dummy-configure-command"))
	b.WriteString("Default Directories:\n")
	b.WriteString(line("User Configurations", nd+"/etc/netdata"))
	b.WriteString(line("Stock Configurations", nd+"/usr/lib/netdata/conf.d"))
	b.WriteString(line("Ephemeral Databases (metrics data, metadata)", nd+"/var/cache/netdata"))
	b.WriteString(line("Permanent Databases", nd+"/var/lib/netdata"))
	b.WriteString(line("Plugins", nd+"/usr/libexec/netdata/plugins.d"))
	b.WriteString(line("Log Files", nd+"/var/log/netdata"))
	b.WriteString("Operating System:\n")
	b.WriteString(line("Kernel", "Linux"))
	b.WriteString(line("Operating System", "Debian GNU/Linux"))
	b.WriteString("Features:\n")
	b.WriteString(line("Built For", "Linux"))
	b.WriteString(line("Netdata Cloud", yn(cloud)))
	b.WriteString(line("Health (trigger alerts and send notifications)", "YES"))
	b.WriteString(line("Streaming (stream metrics to parent Netdata servers)", "YES"))
	b.WriteString(line("Machine Learning", "YES"))
	b.WriteString("Connectivity Capabilities:\n")
	b.WriteString(line("ACLK (Agent-Cloud Link: MQTT over WebSockets over TLS)", yn(cloud)))
	b.WriteString(line("static (Netdata internal web server)", "YES"))
	b.WriteString(line("Native HTTPS (TLS Support)", "YES"))
	b.WriteString(line("TLS Host Verification", "YES"))
	b.WriteString("Libraries:\n")
	b.WriteString(line("protobuf", "YES (bundled)"))
	b.WriteString(line("OpenSSL", "YES"))
	b.WriteString(line("JSON-C", "YES"))
	return b.String()
}

// versionBefore reports whether version v (like "1.37.1") is older than major.minor.
func versionBefore(v string, major, minor int) bool {
	var a, b int
	if _, err := fmt.Sscanf(v, "%d.%d", &a, &b); err != nil {
		return false
	}
	return a < major || a == major && b < minor
}
