package inventory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// LoadOptions tune Load.
type LoadOptions struct {
	// Format is "" (detect), "native", "ansible" ("ansible-yaml",
	// "ansible-ini" and "ansible-json" force one Ansible syntax; the last is
	// the JSON of inventory scripts and of ansible-inventory --list),
	// "script" or "pssh"; it applies to every file source.
	Format string
	// SSHConfig is the ssh_config file to apply: "" reads ~/.ssh/config
	// when it exists, "none" reads nothing.
	SSHConfig string
	// Overrides are "key=value" settings from the command line (--set),
	// applied to every host after everything else.
	Overrides []string
	// LookupEnv reads environment variables; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Home is the user's home directory for "~"; "" means os.UserHomeDir().
	Home string
	// User is the default SSH user when neither the inventory nor
	// ssh_config names one; "" means the current user.
	User string
	// MaxHosts caps the number of hosts (ranges included) as a guard
	// against a mistyped range; 0 means MaxRangeHosts.
	MaxHosts int
	// ScriptTimeout bounds each run of an inventory script; 0 means
	// DefaultScriptTimeout.
	ScriptTimeout time.Duration
	// Vault holds the Ansible Vault passwords; without one, a vaulted
	// value or file is an error.
	Vault *VaultKeys
	// Lazy keeps every host in a compact form and resolves it only when it
	// is asked for (Inventory.Host, Select, Choose): Inventory.Hosts stays
	// nil. Every host is still resolved and validated once at load, and
	// errors are the same.
	Lazy bool

	// wholeYAML reads every native inventory as one node tree, never in
	// parts (tests compare the two).
	wholeYAML bool
}

// Load reads, validates and resolves the inventory at path. On bad input it
// returns an Errors holding every problem found, and no inventory.
func Load(path string, opts LoadOptions) (*Inventory, error) {
	return LoadSources(context.Background(), []string{path}, opts)
}

// LoadSources reads every inventory source in order, as Ansible takes
// several -i options: a file of any supported format, an executable
// inventory script, an inventory directory, or a comma-separated host list
// ("h1,h2,"). Groups of the same name merge; for the same host or group, a
// later source's variables win over an earlier one's. ctx bounds the
// inventory scripts.
func LoadSources(ctx context.Context, sources []string, opts LoadOptions) (*Inventory, error) {
	if len(sources) == 0 {
		return nil, Errors{{Key: "inventory", Msg: "no inventory source given"}}
	}
	l, err := newLoader(sources[0], opts)
	if err != nil {
		return nil, err
	}
	l.ctx = ctx
	l.path = strings.Join(sources, ",")
	for _, src := range sources {
		l.readSource(src)
	}
	return l.finish()
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// LoadBytes is Load for an inventory already in memory; path names it in
// diagnostics and anchors relative paths (and group_vars/ for Ansible).
func LoadBytes(path string, data []byte, opts LoadOptions) (*Inventory, error) {
	l, err := newLoader(path, opts)
	if err != nil {
		return nil, err
	}
	l.parseFile(path, data, opts.Format)
	l.addVarsBase(path, false)
	return l.finish()
}

// finish reads the vars directories, applies ssh_config and --set, and
// resolves every host.
func (l *loader) finish() (*Inventory, error) {
	if l.ansible {
		l.addUngrouped()
		l.readVarsDirs()
	}
	l.loadSSHConfig()
	l.parseOverrides()
	inv := l.resolve()
	if len(l.errs) > 0 {
		return nil, dedupe(l.errs)
	}
	inv.Warnings = dedupe(Errors(l.warns))
	inv.lookupEnv = l.lookup
	inv.roomRefs = l.roomNames
	if l.opts.Lazy {
		l.release()
		inv.res = l
		return inv, nil
	}
	inv.Hosts = l.resolved
	if inv.Hosts == nil {
		inv.Hosts = []*Host{}
	}
	return inv, nil
}

// release drops what only reading the sources needed, once every host is
// validated: what stays resolves hosts.
func (l *loader) release() {
	l.errs, l.warns = nil, nil
	l.vaulted, l.vaultCache = nil, nil
	l.varsBases = nil
	l.ctx = nil
}

// parseFile reads one inventory file of the given format ("" detects it).
func (l *loader) parseFile(path string, data []byte, format string) {
	l.beginFile(path)
	l.checkNUL(path, data)
	data, ok := l.decryptFile(path, data)
	if !ok {
		return
	}
	if format == "" {
		format = detectFormat(path, data)
	}
	switch format {
	case "native":
		l.setFormat("native")
		l.parseNative(path, data)
	case "ansible", "ansible-yaml", "ansible-ini", "ansible-json":
		l.ansible = true
		if format == "ansible" {
			format = detectAnsible(path, data)
		}
		l.setFormat(format)
		switch format {
		case "ansible-ini":
			l.parseAnsibleINI(path, data)
		case "ansible-json":
			l.parseAnsibleJSON(path, data, nil)
		default:
			l.parseAnsibleYAML(path, data)
		}
	case "pssh":
		l.setFormat("pssh")
		l.parsePSSH(path, data)
	case "script":
		l.errorf(path, 0, 0, "format", "an inventory script must be a file with its execute bit set")
	default:
		l.errorf(path, 0, 0, "format", "unknown inventory format %q (want %s)%s",
			format, strings.Join(formatNames, ", "), didYouMean(format, formatNames))
	}
}

// formatNames are the values of LoadOptions.Format.
var formatNames = []string{"native", "ansible", "ansible-yaml", "ansible-ini", "ansible-json", "script", "pssh"}

// setFormat records the format of one more source.
func (l *loader) setFormat(f string) {
	switch {
	case l.format == "":
		l.format = f
	case !slices.Contains(strings.Split(l.format, "+"), f):
		l.format += "+" + f
	}
}

// loader holds the state of one Load.
type loader struct {
	ctx     context.Context
	opts    LoadOptions
	path    string
	dir     string
	home    string
	user    string
	lookup  func(string) (string, bool)
	conv    conv
	errs    Errors
	warns   []Diagnostic
	format  string
	ansible bool

	groups   []*groupRec
	groupIdx map[string]int32
	hosts    []*hostRec
	hostIdx  map[string]int32

	// rank orders the files read: a later source's variables beat an
	// earlier one's. fileRank maps a file (as named in vals) to its rank.
	rank     int
	fileRank map[string]int
	// varsBases are the directories whose group_vars/ and host_vars/ apply.
	varsBases []varsBase
	// vaulted marks the nodes that were decrypted from Ansible Vault;
	// vaultCache holds each vault text's decryption.
	vaulted    map[*yaml.Node]bool
	vaultCache map[string]vaultResult

	// defaultIDs is OpenSSH's default identity files that exist, found
	// once (defaultIdentityFiles).
	defaultIDs func() []string

	ssh       *sshConf
	overrides []val
	// resolved are the hosts of an eager load, in order.
	resolved []*Host
	// roomNames are the rooms written by name, with their places.
	roomNames []RoomRef
}

// groupRec is a group as read, before resolution.
type groupRec struct {
	name      string
	file      string
	line, col int
	vals      []val
	children  []nameRef
	parents   []int32
	anc       []int32 // every ancestor, sorted; "all" (index 0) excluded
	hosts     []string
	priority  int
	depth     int
	defined   bool
}

type nameRef struct {
	name      string
	file      string
	line, col int
}

// hostEntry is one place in the inventory that gives a host settings; all
// the hosts of a range share one entry.
type hostEntry struct {
	vals []val
	// rank orders entries: a later source beats an earlier one, and
	// host_vars files (varsRank and above) beat the inventory's inline
	// host variables, as they do in Ansible. Entries of one rank must agree.
	rank int
}

type hostRec struct {
	name    string
	file    string
	direct  []int32
	entries []*hostEntry
	// combo is the group-level settings of the host's direct groups, set
	// when the hosts are validated.
	combo *combo
	// addrOff and addrEnd place the address in the name: name[off:end]
	// ("10.0.0.5" of "10.0.0.5:2222").
	addrOff, addrEnd int32
	port             int32 // from the name ("10.0.0.5:2222"), 0 if none
	line, col        int32
}

// addr is the address the host's name gives.
func (h *hostRec) addr() string { return h.name[h.addrOff:h.addrEnd] }

func newLoader(path string, opts LoadOptions) (*loader, error) {
	l := &loader{ctx: context.Background(), opts: opts, path: path, groupIdx: map[string]int32{}, hostIdx: map[string]int32{},
		fileRank: map[string]int{}}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: err.Error()}}
	}
	l.dir = filepath.Dir(abs)
	l.home = opts.Home
	if l.home == "" {
		l.home, _ = os.UserHomeDir()
	}
	l.user = opts.User
	if l.user == "" {
		if u, err := user.Current(); err == nil {
			l.user = u.Username
		} else {
			l.user = os.Getenv("USER")
		}
	}
	l.lookup = opts.LookupEnv
	if l.lookup == nil {
		l.lookup = os.LookupEnv
	}
	l.conv = conv{dir: l.dir, home: l.home, errs: &l.errs, roomNames: &l.roomNames}
	l.defaultIDs = sync.OnceValue(func() []string { return defaultIdentityFiles(l.home) })
	// Group 0 is "all": the defaults, ancestor of every group.
	l.group("all", path, 0, 0).defined = true
	return l, nil
}

func (l *loader) errorf(file string, line, col int, key, format string, args ...any) {
	l.errs = append(l.errs, Diagnostic{File: file, Line: line, Col: col, Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (l *loader) warnf(file string, line, col int, key, format string, args ...any) {
	l.warns = append(l.warns, Diagnostic{File: file, Line: line, Col: col, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// checkNUL reports every NUL byte (up to a few) with its position.
func (l *loader) checkNUL(file string, data []byte) {
	off, count := 0, 0
	for {
		i := bytes.IndexByte(data[off:], 0)
		if i < 0 {
			return
		}
		pos := off + i
		line := bytes.Count(data[:pos], []byte{'\n'}) + 1
		col := pos - bytes.LastIndexByte(data[:pos], '\n')
		l.errorf(file, line, col, "", "NUL byte in inventory")
		count++
		if count == 5 {
			return
		}
		off = pos + 1
	}
}

// group returns the group named name, creating it on first use.
func (l *loader) group(name, file string, line, col int) *groupRec {
	if i, ok := l.groupIdx[name]; ok {
		return l.groups[i]
	}
	g := &groupRec{name: name, file: file, line: line, col: col}
	l.groupIdx[name] = int32(len(l.groups))
	l.groups = append(l.groups, g)
	return g
}

// addHost records a host name (possibly a range) as a member of group gi
// (-1: no group) with the settings of entry (nil: none).
func (l *loader) addHost(pattern string, gi int32, entry *hostEntry, file string, line, col int, key string) {
	limit := l.opts.MaxHosts
	if limit <= 0 {
		limit = MaxRangeHosts
	}
	names, err := ExpandRange(pattern, limit)
	if err == nil && len(l.hosts)+len(names) > limit && len(names) > 1 {
		err = fmt.Errorf("range %q would take the inventory past %d hosts", truncate(pattern, 80), limit)
	}
	if err != nil {
		l.errorf(file, line, col, key, "%v", err)
		return
	}
	if entry != nil && len(entry.vals) == 0 {
		entry = nil
	}
	if entry != nil && entry.rank == 0 {
		entry.rank = l.rank
	}
	for _, name := range names {
		addr, port, err := splitHostPort(name)
		if err != nil {
			l.errorf(file, line, col, key, "host name: %v", err)
			return
		}
		var h *hostRec
		if i, ok := l.hostIdx[name]; ok {
			h = l.hosts[i]
		} else {
			h = newHostRec(name, addr, port, file, line, col)
			l.hostIdx[name] = int32(len(l.hosts))
			l.hosts = append(l.hosts, h)
		}
		if gi > 0 && !slices.Contains(h.direct, gi) {
			h.direct = append(h.direct, gi)
		}
		if entry != nil && !slices.Contains(h.entries, entry) {
			h.entries = append(h.entries, entry)
		}
	}
	if gi > 0 {
		g := l.groups[gi]
		g.hosts = append(g.hosts, names...)
	}
}

// newHostRec records a host as read; addr is a substring of name.
func newHostRec(name, addr string, port int, file string, line, col int) *hostRec {
	// The first place addr is in name is where splitHostPort took it
	// from: before it are only blanks and '['.
	off := strings.Index(name, addr)
	if off < 0 {
		off, addr = 0, name
	}
	return &hostRec{name: name, addrOff: int32(off), addrEnd: int32(off + len(addr)), port: int32(port), file: file,
		line: int32(line), col: int32(col)}
}

// detectFormat tells native from Ansible inventories.
func detectFormat(path string, data []byte) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".ini", ".cfg", ".hosts":
		return "ansible"
	}
	trimmed := firstSignificantLine(data)
	if strings.HasPrefix(trimmed, "{") && looksLikeScriptJSON(data) {
		return "ansible-json"
	}
	if strings.HasPrefix(trimmed, "[") {
		return "ansible"
	}
	if looksLikePSSH(data) {
		return "pssh"
	}
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		if len(line) == 0 || line[0] == ' ' || line[0] == '\t' || line[0] == '#' || line[0] == '-' {
			continue
		}
		key, _, _ := bytes.Cut(line, []byte(":"))
		switch string(bytes.Trim(bytes.TrimSpace(key), `"'`)) {
		case "defaults", "groups", "hosts":
			return "native"
		case "all", "ungrouped":
			return "ansible"
		}
	}
	if looksLikeAnsibleYAML(data) {
		return "ansible"
	}
	// A native inventory is a YAML mapping; lines of bare host names are an
	// Ansible INI inventory.
	var doc yaml.Node
	if trimmed != "" && (yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode) {
		return "ansible"
	}
	return "native"
}

func detectAnsible(path string, data []byte) string {
	if strings.HasPrefix(firstSignificantLine(data), "{") && looksLikeScriptJSON(data) {
		return "ansible-json"
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yml", ".yaml", ".json":
		return "ansible-yaml"
	case ".ini", ".cfg":
		return "ansible-ini"
	}
	if strings.HasPrefix(firstSignificantLine(data), "[") {
		return "ansible-ini"
	}
	if looksLikeAnsibleYAML(data) {
		return "ansible-yaml"
	}
	// A YAML mapping has "key:" lines; an INI inventory has bare host names.
	t := firstSignificantLine(data)
	if strings.HasSuffix(t, ":") || strings.HasPrefix(t, "{") {
		return "ansible-yaml"
	}
	return "ansible-ini"
}

func firstSignificantLine(data []byte) string {
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		t := bytes.TrimSpace(line)
		if len(t) == 0 || t[0] == '#' || t[0] == ';' || string(t) == "---" {
			continue
		}
		return string(t)
	}
	return ""
}

// dedupe drops repeated diagnostics, keeping the first of each.
func dedupe(errs Errors) Errors {
	if len(errs) < 2 {
		return errs
	}
	seen := make(map[Diagnostic]struct{}, len(errs))
	out := errs[:0:0]
	for _, d := range errs {
		if _, ok := seen[d]; ok {
			continue
		}
		seen[d] = struct{}{}
		out = append(out, d)
	}
	return out
}

// defaultIdentityFiles returns those of OpenSSH's default identity files
// that exist under home/.ssh: ssh skips the others without a word. The
// names and their order are OpenSSH's when no IdentityFile is configured
// (`ssh -G` of OpenSSH 9.2; ssh_config(5), IdentityFile). One slice serves
// every host.
func defaultIdentityFiles(home string) []string {
	if home == "" {
		return nil
	}
	var out []string
	for _, n := range []string{"id_rsa", "id_ecdsa", "id_ecdsa_sk", "id_ed25519", "id_ed25519_sk", "id_xmss", "id_dsa"} {
		p := filepath.Join(home, ".ssh", n)
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	return slices.Clip(out)
}
