package remote

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

//go:embed probe.sh
var probeSource string

// probeScript is the probe as sent to every host: without its comment
// lines, 3.6 KB of its 12.8.
var probeScript = withoutComments(probeSource)

// ProbeScript returns the probe's POSIX sh code as sent.
func ProbeScript() string { return probeScript }

// withoutComments is script without its comment lines (a line whose first
// non-blank character is #). probe.sh has no such line inside a quoted
// string or a here-document; its tests run what this returns.
func withoutComments(script string) string {
	var b strings.Builder
	b.Grow(len(script))
	for script != "" {
		line, rest, _ := strings.Cut(script, "\n")
		if t := strings.TrimLeft(line, " \t"); !strings.HasPrefix(t, "#") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
		script = rest
	}
	return b.String()
}

// ProbeFacts is what one probe learns about a host.
type ProbeFacts struct {
	// User and UID are the login user's: the user fleetclaim logged in as,
	// whatever the probe ran as. Every decision about privilege is taken
	// on them (UID is -1 when a probe run through sudo or doas could not
	// tell who called it).
	User string `json:"user"`
	UID  int    `json:"uid"`
	// ProbeUser and ProbeUID are who the probe ran as: the login user, or
	// the target of sudo/doas (ProbeVia). Facts that depend on permissions
	// (cloud.d, the docker socket, netdata.conf) were read as this user.
	ProbeUser     string `json:"probe_user,omitempty"`
	ProbeUID      int    `json:"probe_uid"`
	ProbeVia      string `json:"probe_via,omitempty"`
	Kernel        string `json:"kernel"`
	KernelRelease string `json:"kernel_release"`
	Arch          string `json:"arch"`
	// Hostname is the host's name (the kernel's), the agent's node name
	// unless its netdata.conf sets one (Install.ConfHostname).
	Hostname string    `json:"hostname,omitempty"`
	OS       OSRelease `json:"os"`
	Init     string    `json:"init"`
	Tools    []string  `json:"tools,omitempty"`
	// SudoNoPassword / DoasNoPassword: `sudo -n true` / `doas -n true` worked.
	SudoNoPassword bool `json:"sudo_nopasswd,omitempty"`
	DoasNoPassword bool `json:"doas_nopasswd,omitempty"`
	// DockerSocket is "accessible", "denied", "absent" or "remote"
	// (DOCKER_HOST is not a unix socket); "" when docker is not installed.
	DockerSocket string `json:"docker_socket,omitempty"`
	// DockerVersion is the Docker engine's version, read only when a
	// Netdata container runs.
	DockerVersion string `json:"docker_version,omitempty"`
	// LibSeccomp is the host's libseccomp version ("" when not found).
	LibSeccomp string      `json:"libseccomp,omitempty"`
	Containers []Container `json:"containers,omitempty"`
	Installs   []Install   `json:"installs,omitempty"`
}

// Root reports whether the login user is root (not the user the probe ran
// as: see ProbeUID).
func (f *ProbeFacts) Root() bool { return f.UID == 0 }

// HasTool reports whether the probe found the named command.
func (f *ProbeFacts) HasTool(name string) bool {
	for _, t := range f.Tools {
		if t == name {
			return true
		}
	}
	return false
}

// OSRelease holds the os-release fields fleetclaim uses (or sw_vers on macOS).
type OSRelease struct {
	ID         string `json:"id,omitempty"`
	IDLike     string `json:"id_like,omitempty"`
	VersionID  string `json:"version_id,omitempty"`
	PrettyName string `json:"pretty_name,omitempty"`
}

// Container is a running container from a Netdata image.
type Container struct {
	Name  string `json:"name"`
	Image string `json:"image"`
}

// Install is one Netdata Agent installation found on a host.
type Install struct {
	// Layout: native, static, macos, prefixed, local, homebrew.
	Layout      string `json:"layout"`
	ConfigDir   string `json:"config_dir"`
	VarLibDir   string `json:"var_lib_dir"`
	Binary      string `json:"binary,omitempty"`
	CLI         string `json:"netdatacli,omitempty"`
	ClaimScript string `json:"claim_script,omitempty"`
	// ClaimGeneration is 2 when the claim script is the v2 wrapper, 1 for
	// the v1 script, 0 when there is no script.
	ClaimGeneration int `json:"claim_generation"`
	// InstallType is .install-type's INSTALL_TYPE, or "" for a distribution
	// or third-party package.
	InstallType  string `json:"install_type,omitempty"`
	PrebuiltArch string `json:"prebuilt_arch,omitempty"`
	Version      string `json:"version,omitempty"`
	RunAsUser    string `json:"run_as_user"`
	WebPort      int    `json:"web_port"`
	WebMode      string `json:"web_mode,omitempty"`
	CloudProxy   string `json:"cloud_proxy,omitempty"`
	// ConfHostname is netdata.conf's [global] hostname, the node name.
	ConfHostname string `json:"conf_hostname,omitempty"`
	MachineGUID  string `json:"machine_guid,omitempty"`
	ClaimedID    string `json:"claimed_id,omitempty"`
	// CloudDir is "present", "absent" or "unreadable" (cloud.d exists but
	// the probing user cannot look inside).
	CloudDir  string `json:"cloud_dir"`
	ClaimConf bool   `json:"claim_conf,omitempty"`
	// Leftover: a claim cut off where no trap ran left its temporary
	// files, or v1's cloud.d/token, behind.
	Leftover     bool `json:"leftover,omitempty"`
	ConfReadable bool `json:"conf_readable"`
	// CloudSupport is "yes", "no" (built without Cloud) or "" (unknown).
	CloudSupport string `json:"cloud_support,omitempty"`
	// InitScript is a SysV-style service script under the probed root.
	InitScript string `json:"init_script,omitempty"`
	// Running is "yes" or "no" when the agent's pid file was found, ""
	// when the probe could not tell.
	Running string `json:"running,omitempty"`
}

// Claimed reports whether the install has a claimed id on disk.
func (i *Install) Claimed() bool { return i.ClaimedID != "" }

// Probe runs the probe script once on r and parses what it prints. root is
// where installs are looked for ("" for the host's own /). Privilege comes
// from r itself (a Privileged runner), never from a wrapper of the probe's
// own.
func Probe(ctx context.Context, r Runner, root string) (*ProbeFacts, error) {
	return ProbeWith(ctx, r, ProbeOptions{Root: root})
}

// ProbeOptions tell the probe what the inventory configures, so that it
// runs the costly checks only where they matter.
type ProbeOptions struct {
	// Root is where installs are looked for ("" for the host's own /).
	Root string
	// Become is "sudo" or "doas" when the inventory configures it: only
	// then does the probe test it without a password.
	Become string
	// Via is "sudo" or "doas" when the probe's runner is a Privileged one
	// (ProbeWith sets it from the runner): the probe then reports its
	// caller as the login user.
	Via string
	// Docker lists containers even when the docker socket looks out of
	// reach; Container is the inventory's container name.
	Docker    bool
	Container string
}

// ProbeCommand is the command line the probe runs with (its script goes on
// stdin).
func ProbeCommand(o ProbeOptions) (string, error) {
	return scriptCommand(o.args())
}

// args are the probe's positional parameters: the root, the flags, the
// container.
func (o ProbeOptions) args() []string {
	var flags []string
	switch o.Become {
	case "sudo", "doas":
		flags = append(flags, o.Become)
	}
	switch o.Via {
	case "sudo", "doas":
		flags = append(flags, "via-"+o.Via)
	}
	if o.Docker || o.Container != "" {
		flags = append(flags, "docker")
	}
	return []string{o.Root, strings.Join(flags, ","), o.Container}
}

// ProbeWith runs the probe script once on r and parses what it prints.
// It goes through RunScript (a ScriptRunner's shared shell).
//
// When r is a Privileged runner the probe runs through its sudo/doas and
// reports both the login user and the user it ran as.
func ProbeWith(ctx context.Context, r Runner, o ProbeOptions) (*ProbeFacts, error) {
	if m, _ := BecomeOf(r); m != "none" {
		o.Via = m
	}
	res, err := RunScript(ctx, r, probeScript, o.args()...)
	if err != nil {
		return nil, err
	}
	f, perr := ParseProbe(res.Stdout)
	if perr != nil {
		msg := strings.TrimSpace(string(res.Stderr))
		if len(msg) > 300 {
			msg = msg[:300]
		}
		if msg != "" {
			perr = fmt.Errorf("%w (stderr: %s)", perr, msg)
		}
		return nil, &Error{Op: "probe", Category: CatProbe, Err: perr}
	}
	return f, nil
}

// Limits on probe output: it comes from the host and is not trusted.
const (
	maxProbeBytes = 256 << 10
	maxProbeLines = 4000
	maxInstalls   = 16
)

// ParseProbe parses the probe's output. It is strict: every line after the
// header must be a known key, the output must end with the end marker, and
// nothing unbounded is accepted. Lines before the header (a login banner
// printed by a shell start-up file) are skipped.
func ParseProbe(out []byte) (*ProbeFacts, error) {
	if len(out) > maxProbeBytes {
		return nil, fmt.Errorf("probe output is %d bytes, more than the %d allowed", len(out), maxProbeBytes)
	}
	lines := bytes.Split(out, []byte("\n"))
	if len(lines) > maxProbeLines {
		return nil, fmt.Errorf("probe output has %d lines, more than the %d allowed", len(lines), maxProbeLines)
	}
	p := &probeParse{f: &ProbeFacts{UID: -1, ProbeUID: -1}}
	for n, raw := range lines {
		if err := p.line(n+1, strings.TrimSuffix(string(raw), "\r")); err != nil {
			return nil, err
		}
	}
	return p.done()
}

// probeParse is ParseProbe's state: the facts so far, and the install
// record being read (cur, with the lines applied when it ends).
type probeParse struct {
	f                                *ProbeFacts
	sawUID, started, ended           bool
	osr                              []string
	cur                              *Install
	confLines, itypeLines, buildinfo []string
}

// probeLineError is a probe line wrong as a whole, not in one key's value.
type probeLineError string

func (e probeLineError) Error() string { return string(e) }

// line reads line n of the probe's output.
func (p *probeParse) line(n int, line string) error {
	if !p.started {
		if line == "fleetclaim-probe=1" {
			p.started = true
		}
		return nil
	}
	if line == "" {
		return nil
	}
	if p.ended {
		return fmt.Errorf("probe output line %d: text after the end marker", n)
	}
	k, v, ok := strings.Cut(line, "=")
	if !ok {
		return fmt.Errorf("probe output line %d: %q is not key=value", n, Clip(line, probeQuoteMax))
	}
	var err error
	if strings.HasPrefix(k, "i.") {
		if p.cur == nil {
			return fmt.Errorf("probe output line %d: %s outside an install record", n, k)
		}
		err = p.installKey(k, v)
	} else {
		err = p.hostKey(k, v)
	}
	var whole probeLineError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &whole):
		return fmt.Errorf("probe output line %d: %s", n, whole)
	}
	return fmt.Errorf("probe output line %d: %s: %w", n, k, err)
}

// hostKey reads a key of the host (not of one install), and the
// install and end markers.
func (p *probeParse) hostKey(k, v string) error {
	f := p.f
	var err error
	switch k {
	case "uid":
		p.sawUID = true
		if v != "" {
			f.UID, err = strconv.Atoi(v)
		}
	case "user":
		f.User = v
	case "probe_uid":
		f.ProbeUID, err = strconv.Atoi(v)
	case "probe_user":
		f.ProbeUser = v
	case "probe_via":
		err = oneOf(&f.ProbeVia, v, "unknown become method %q", "sudo", "doas")
	case "hostname":
		f.Hostname = v
	case "kernel":
		f.Kernel = v
	case "kernel_release":
		f.KernelRelease = v
	case "arch":
		f.Arch = v
	case "osr":
		p.osr = append(p.osr, v)
	case "macos_name":
		f.OS.ID, f.OS.PrettyName = "macos", v
	case "macos_version":
		f.OS.VersionID = v
		f.OS.PrettyName = strings.TrimSpace(f.OS.PrettyName + " " + v)
	case "init":
		f.Init = v
	case "tool":
		f.Tools = append(f.Tools, v)
	case "sudo_nopasswd":
		f.SudoNoPassword = v == "1"
	case "doas_nopasswd":
		f.DoasNoPassword = v == "1"
	case "docker_socket":
		err = oneOf(&f.DockerSocket, v, "unknown docker socket state %q", "accessible", "denied", "absent", "remote")
	case "docker_version":
		f.DockerVersion = v
	case "libseccomp":
		f.LibSeccomp = v
	case "container":
		if len(f.Containers) >= maxInstalls*4 {
			return probeLineError("too many containers")
		}
		name, image, _ := strings.Cut(v, " ")
		f.Containers = append(f.Containers, Container{Name: name, Image: image})
	case "install":
		p.finish()
		if len(f.Installs) >= maxInstalls {
			return probeLineError(fmt.Sprintf("more than %d installs", maxInstalls))
		}
		p.cur = &Install{Layout: v, WebPort: 19999, RunAsUser: "netdata", CloudDir: "absent"}
	case "end":
		p.finish()
		p.ended = true
	default:
		return probeLineError(fmt.Sprintf("unknown key %q", Clip(k, probeQuoteMax)))
	}
	return err
}

// oneOf sets *dst to v when v is one of the values allowed, else says so
// with format (which quotes v).
func oneOf(dst *string, v, format string, allowed ...string) error {
	if !slices.Contains(allowed, v) {
		return fmt.Errorf(format, Clip(v, probeQuoteMax))
	}
	*dst = v
	return nil
}

// installKey reads an i. key of the install record being read.
func (p *probeParse) installKey(k, v string) error {
	cur := p.cur
	var err error
	switch k {
	case "i.confdir":
		cur.ConfigDir = v
	case "i.binary":
		cur.Binary = v
	case "i.cli":
		cur.CLI = v
	case "i.claim_script":
		cur.ClaimScript = v
		if cur.ClaimGeneration == 0 {
			cur.ClaimGeneration = 1
		}
	case "i.claim_v2":
		cur.ClaimGeneration = 2
	case "i.itype":
		p.itypeLines = append(p.itypeLines, v)
	case "i.conf":
		cur.ConfReadable = true
		p.confLines = append(p.confLines, v)
	case "i.libdir":
		// Already applied by the probe to i.varlib.
	case "i.conf_unreadable":
	case "i.claim_conf":
		cur.ClaimConf = v == "1"
	case "i.leftover":
		cur.Leftover = v == "1"
	case "i.varlib":
		cur.VarLibDir = v
	case "i.guid":
		cur.MachineGUID, err = machineID(v)
	case "i.cloudd":
		err = oneOf(&cur.CloudDir, v, "unknown cloud.d state %q", "present", "absent", "unreadable")
	case "i.claimed_id":
		cur.ClaimedID, err = machineID(v)
	case "i.initd":
		cur.InitScript = v
	case "i.running":
		switch v {
		case "1":
			cur.Running = "yes"
		case "0":
			cur.Running = "no"
		default:
			err = fmt.Errorf("want 0 or 1, not %q", Clip(v, probeQuoteMax))
		}
	case "i.version":
		cur.Version = parseVersion(v)
	case "i.buildinfo":
		p.buildinfo = append(p.buildinfo, v)
	case "i.cloud_builtin":
		// A v2 build: Cloud is always in it (probe.sh).
		if v == "1" {
			cur.CloudSupport = "yes"
		}
	default:
		return probeLineError(fmt.Sprintf("unknown key %q", Clip(k, probeQuoteMax)))
	}
	return err
}

// finish ends the install record being read, if any.
func (p *probeParse) finish() {
	if p.cur == nil {
		return
	}
	applyConf(p.cur, p.confLines)
	applyInstallType(p.cur, p.itypeLines)
	applyBuildinfo(p.cur, p.buildinfo)
	p.f.Installs = append(p.f.Installs, *p.cur)
	p.cur, p.confLines, p.itypeLines, p.buildinfo = nil, nil, nil, nil
}

// done checks that the output was whole and fills in what the host's
// lines imply.
func (p *probeParse) done() (*ProbeFacts, error) {
	f := p.f
	if !p.started {
		return nil, errors.New("no probe output (is /bin/sh a POSIX shell on the host?)")
	}
	if !p.ended {
		return nil, errors.New("probe output ended early (the probe was cut off or failed half way)")
	}
	if !p.sawUID || (f.UID < 0 && f.ProbeVia == "") {
		return nil, errors.New("probe output has no uid")
	}
	if f.ProbeUID < 0 {
		// A probe that ran as the login user itself.
		f.ProbeUID, f.ProbeUser = f.UID, f.User
	}
	if f.OS.ID == "" {
		f.OS = ParseOSRelease(p.osr)
	}
	return f, nil
}

// probeQuoteMax is how much of a probe line or value an error quotes.
const probeQuoteMax = 60

// Clip cuts s to n bytes, marking the cut with an ellipsis.
func Clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// ParseOSRelease reads os-release(5) lines: KEY=value with optional shell
// quoting. Unknown keys are ignored.
func ParseOSRelease(lines []string) OSRelease {
	var o OSRelease
	for _, l := range lines {
		k, v, ok := strings.Cut(strings.TrimSpace(l), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		v = unquoteShell(v)
		switch k {
		case "ID":
			o.ID = v
		case "ID_LIKE":
			o.IDLike = v
		case "VERSION_ID":
			o.VersionID = v
		case "PRETTY_NAME":
			o.PrettyName = v
		}
	}
	return o
}

func unquoteShell(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		q := v[0]
		v = v[1 : len(v)-1]
		if q == '"' {
			var b strings.Builder
			for i := 0; i < len(v); i++ {
				if v[i] == '\\' && i+1 < len(v) && strings.IndexByte("\"\\$`", v[i+1]) >= 0 {
					i++
				}
				b.WriteByte(v[i])
			}
			v = b.String()
		}
	}
	return v
}

// applyConf reads the netdata.conf lines the probe kept.
func applyConf(in *Install, lines []string) {
	for _, kv := range ParseINI(lines) {
		switch kv.Section + "/" + kv.Key {
		case "global/run as user":
			in.RunAsUser = kv.Value
		case "web/default port":
			if p, err := strconv.Atoi(kv.Value); err == nil && p > 0 && p < 65536 {
				in.WebPort = p
			}
		case "web/mode":
			in.WebMode = kv.Value
		case "cloud/proxy":
			in.CloudProxy = kv.Value
		case "global/hostname":
			in.ConfHostname = kv.Value
		}
	}
}

// INIValue is one key of a Netdata-style ini file.
type INIValue struct{ Section, Key, Value string }

// ParseINI parses Netdata's ini dialect: [section] headers, `key = value`,
// # and ; comments. Keys may contain spaces.
func ParseINI(lines []string) []INIValue {
	var out []INIValue
	sect := ""
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || t[0] == '#' || t[0] == ';' {
			continue
		}
		if t[0] == '[' {
			if end := strings.IndexByte(t, ']'); end > 0 {
				sect = strings.TrimSpace(t[1:end])
			}
			continue
		}
		k, v, ok := strings.Cut(t, "=")
		if !ok {
			continue
		}
		out = append(out, INIValue{Section: sect, Key: strings.TrimSpace(k), Value: strings.TrimSpace(v)})
	}
	return out
}

func applyInstallType(in *Install, lines []string) {
	for _, l := range lines {
		k, v, ok := strings.Cut(strings.TrimSpace(l), "=")
		if !ok {
			continue
		}
		switch k {
		case "INSTALL_TYPE":
			in.InstallType = unquoteShell(v)
		case "PREBUILT_ARCH":
			in.PrebuiltArch = unquoteShell(v)
		}
	}
}

func applyBuildinfo(in *Install, lines []string) {
	for _, l := range lines {
		t := strings.TrimSpace(l)
		k, v, ok := strings.Cut(t, ":")
		if !ok {
			continue
		}
		// v2 pads the name with underscores ("Netdata Cloud ____ : YES").
		k = strings.TrimSpace(strings.TrimRight(strings.TrimSpace(k), "_"))
		v = strings.ToUpper(strings.TrimSpace(v))
		if k == "Netdata Cloud" || k == "ACLK" {
			switch {
			case strings.HasPrefix(v, "NO"):
				in.CloudSupport = "no"
			case strings.HasPrefix(v, "YES") && in.CloudSupport == "":
				in.CloudSupport = "yes"
			}
		}
	}
}

// parseVersion turns `netdata v1.37.1` (or `netdata 2.1.0`) into "1.37.1".
func parseVersion(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	v := f[len(f)-1]
	return strings.TrimPrefix(v, "v")
}

// Major returns the major version number of a version string, or 0.
func Major(version string) int {
	m, _, _ := strings.Cut(version, ".")
	n, err := strconv.Atoi(m)
	if err != nil {
		return 0
	}
	return n
}

// machineID checks a machine GUID or claimed id read from the agent's files
// (which its user can write): a UUID, or nothing. The value is not repeated
// in the error: it may be anything a link pointed at.
func machineID(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" || IsUUID(v) {
		return v, nil
	}
	return "", fmt.Errorf("not a UUID (%d bytes)", len(v))
}

// IsUUID reports whether s is a UUID in its text form, 8-4-4-4-12 hex
// digits of either case.
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}
