package inventory

import (
	"bytes"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/fleetclaim/fleetclaim/inventory/internal/sshconfig"
	"gopkg.in/yaml.v3"
)

// sshConf is an ssh_config file applied beneath the inventory, resolved
// per host as OpenSSH resolves it (package sshconfig; real ssh -G is its
// test oracle).
type sshConf struct {
	cfg     *sshconfig.Config
	display string // the path as shown in Sources ("~/.ssh/config")
	file    string
	local   sshconfig.Query // the local user and host, for tokens and Match
	// warned holds the keywords already warned about: one warning per run.
	warned map[string]bool
	// fills are the values made of each resolution, by its Key: hosts that
	// resolve alike share them. jumps are the jump values resolveJumps
	// made, by the value they were made from.
	fills map[string]*sshFills
	jumps map[*val]*val
	// bySig are the fills of resolutions by their Signature, for the
	// resolutions whose values do not depend on the host itself: a host of
	// a known Signature is not resolved until it needs a value not made
	// yet.
	bySig map[uint64]*sshFills
}

// sshFills are the values one resolution gives the slots, each made when a
// host first needs it.
type sshFills struct {
	done [nSlots]bool
	vals [nSlots]*val
}

// sshKeys maps the ssh_config keywords fleetclaim follows to slots.
var sshKeys = map[string]slot{
	"hostname":              sAddress,
	"port":                  sPort,
	"user":                  sUser,
	"identityfile":          sIdentityFiles,
	"certificatefile":       sCertificateFiles,
	"proxyjump":             sJump,
	"proxycommand":          sProxyCommand,
	"userknownhostsfile":    sKnownHosts,
	"stricthostkeychecking": sHostKeyPolicy,
	"hostkeyalias":          sHostKeyAlias,
	"hashknownhosts":        sHashKnownHosts,
	"identityagent":         sIdentityAgent,
	"identitiesonly":        sIdentitiesOnly,
	"connecttimeout":        sConnectTimeout,
	"serveraliveinterval":   sServerAliveInterval,
}

// sshUnsupported are keywords fleetclaim does not follow that change how
// ssh would connect or authenticate, with the values that change nothing
// (nil: any value changes something). Each set one is warned about once.
var sshUnsupported = map[string][]string{
	"GSSAPIAuthentication": {"no", "false"}, "GSSAPIDelegateCredentials": {"no", "false"},
	"GSSAPIKeyExchange": {"no", "false"}, "PKCS11Provider": {"none"}, "SecurityKeyProvider": {"internal"},
	"ControlPath": {"none"}, "ControlMaster": {"no", "false"}, "ControlPersist": {"no", "false"},
	"CanonicalDomains": nil, "CanonicalizePermittedCNAMEs": nil, "KnownHostsCommand": {"none"}, "GlobalKnownHostsFile": nil,
	"RevokedHostKeys": nil, "HostKeyAlgorithms": nil, "KexAlgorithms": nil, "Ciphers": nil, "MACs": nil,
	"PubkeyAcceptedAlgorithms": nil, "PubkeyAcceptedKeyTypes": nil, "CASignatureAlgorithms": nil,
	"BindAddress": nil, "BindInterface": nil, "AddressFamily": {"any"}, "ProxyUseFdpass": {"no", "false"},
	"PubkeyAuthentication": {"yes", "true"}, "PreferredAuthentications": nil,
	"HostbasedAuthentication": {"no", "false"}, "VerifyHostKeyDNS": {"no", "false"},
	"CheckHostIP": {"no", "false"}, "ConnectionAttempts": {"1"}, "ServerAliveCountMax": {"3"},
	"AddKeysToAgent": {"no", "false"}, "RemoteCommand": {"none"}, "Tunnel": {"no", "false"},
	"LocalCommand": nil, "PermitLocalCommand": {"no", "false"}, "RequiredRSASize": {"1024"},
}

var sshUnsupportedLower = func() map[string]string {
	m := make(map[string]string, len(sshUnsupported))
	for k := range sshUnsupported {
		m[strings.ToLower(k)] = k
	}
	return m
}()

func (l *loader) loadSSHConfig() {
	path := l.opts.SSHConfig
	if path == "none" {
		return
	}
	explicit := path != ""
	if !explicit {
		if l.home == "" {
			return
		}
		path = filepath.Join(l.home, ".ssh", "config")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if explicit || !os.IsNotExist(err) {
			l.errorf(path, 0, 0, "ssh_config", "cannot read: %v", unwrapPathError(err))
		}
		return
	}
	if !explicit {
		// ssh checks the user's own file, not one given with -F.
		if fi, err := os.Stat(path); err == nil {
			if err := sshconfig.CheckPerm(path, fi); err != nil {
				l.errorf(path, 0, 0, "ssh_config", "%v", err)
				return
			}
		}
	}
	if i := bytes.IndexByte(data, 0); i >= 0 {
		l.checkNUL(path, data)
		return
	}
	cfg, err := sshconfig.OpenBytes(path, l.home, data)
	if err != nil {
		l.sshErrors(path, err)
		return
	}
	display := path
	if l.home != "" {
		if rest, ok := strings.CutPrefix(path, l.home+"/"); ok {
			display = "~/" + rest
		}
	}
	l.ssh = &sshConf{cfg: cfg, display: display, file: path, local: localQuery(l), warned: map[string]bool{},
		fills: map[string]*sshFills{}, jumps: map[*val]*val{}, bySig: map[uint64]*sshFills{}}
}

// localQuery describes the local side (%u %i %l %L %d, Match localuser).
func localQuery(l *loader) sshconfig.Query {
	q := sshconfig.Query{LocalUser: l.user, Home: l.home, UID: os.Getuid()}
	if u, err := user.Current(); err == nil && l.opts.User == "" {
		q.LocalUser = u.Username
	}
	q.LocalHost, _ = os.Hostname()
	return q
}

// sshErrors reports what ssh_config resolution refused, each with its file
// and line.
func (l *loader) sshErrors(file string, err error) {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		var le *sshconfig.LineError
		if errors.As(e, &le) {
			key := "ssh_config"
			if le.Keyword != "" {
				key += " " + le.Keyword
			}
			l.errorf(le.File, le.Line, 0, key, "%v", le.Err)
			continue
		}
		l.errorf(file, 0, 0, "ssh_config", "%v", e)
	}
}

// matchName is the host name ssh is given for h, which Host blocks match:
// for Ansible, the ansible_host it passes to ssh (else the inventory
// name); for a native inventory, the name as written, like "ssh NAME".
func (l *loader) matchName(h *hostRec, eff *[nSlots]*val) string {
	if l.ansible && eff[sAddress] != nil {
		return eff[sAddress].s
	}
	return h.addr()
}

// apply fills the SSH slots the inventory left unset from ssh_config, as
// ssh resolves it for this host. The inventory's user and port are what
// ssh's command line gives (-l, -p): they win and Match user sees them.
func (s *sshConf) apply(l *loader, h *hostRec, eff *[nSlots]*val) {
	q := s.local
	q.Host = l.matchName(h, eff)
	if v := eff[sUser]; v != nil {
		q.User = v.s
	}
	if v := eff[sPort]; v != nil {
		q.Port = int(v.n)
	}
	sig, sigOK := s.cfg.Signature(q)
	f := s.bySig[sig]
	var r *sshconfig.Result
	if f == nil || !sigOK {
		var err error
		if r, err = s.cfg.Resolve(q); err != nil {
			// Load dedupes: one bad line is reported once, not per host.
			l.sshErrors(s.display, err)
			return
		}
		f = s.fillsOf(l, r)
		if sigOK && r.Key() != "" && !hostNameTokened(r) {
			s.bySig[sig] = f
		}
	}
	defer s.resolveJumps(eff)
	for kw, sl := range sshKeys {
		// For Ansible, ansible_host is the name given to ssh, which a
		// HostName line replaces: ssh connects where HostName says.
		if eff[sl] != nil && !(sl == sAddress && l.ansible) {
			continue
		}
		// The inventory's jump excludes ssh_config's ProxyCommand, and
		// the other way round.
		if (sl == sProxyCommand && eff[sJump] != nil) || (sl == sJump && eff[sProxyCommand] != nil) {
			continue
		}
		if !f.done[sl] {
			if r == nil {
				// Resolved alike, but this value is not made yet.
				var err error
				if r, err = s.cfg.Resolve(q); err != nil {
					l.sshErrors(s.display, err)
					return
				}
			}
			f.done[sl] = true
			f.vals[sl] = s.fill(l, r, kw, sl)
		}
		if v := f.vals[sl]; v != nil {
			eff[sl] = v
		}
	}
}

// hostNameTokened reports a HostName with a %-token: the host's own name,
// which a Signature does not tell.
func hostNameTokened(r *sshconfig.Result) bool {
	v, ok := r.Get("hostname")
	return ok && strings.Contains(v.Args[0], "%")
}

// fillsOf returns the values of resolution r, shared with every earlier
// resolution of the same Key, warning about what r sets that fleetclaim
// does not follow when it is new.
func (s *sshConf) fillsOf(l *loader, r *sshconfig.Result) *sshFills {
	key := r.Key()
	if f, ok := s.fills[key]; ok && key != "" {
		return f
	}
	s.warnUnsupported(l, r)
	f := &sshFills{}
	if key != "" {
		s.fills[key] = f
	}
	return f
}

// resolveJumps resolves each jump hop's name through ssh_config, as ssh -J
// NAME does: its HostName, and its Port and User when the hop does not give
// them (a hop written without a port reads as port 22).
func (s *sshConf) resolveJumps(eff *[nSlots]*val) {
	v := eff[sJump]
	if v == nil || len(v.jump()) == 0 {
		return
	}
	if nv, ok := s.jumps[v]; ok {
		eff[sJump] = nv
		return
	}
	s.jumps[v] = v
	hops := make([]Endpoint, len(v.jump()))
	changed := false
	for i, e := range v.jump() {
		q := s.local
		q.Host, q.User = e.Address, e.User
		if e.Port != DefaultPort {
			q.Port = e.Port
		}
		hops[i] = e
		r, err := s.cfg.Resolve(q)
		if err != nil {
			continue // reported for the target already: the same files
		}
		if _, ok := r.Get("hostname"); ok {
			hops[i].Address = r.Hostname()
		}
		hops[i].Port = r.Port()
		if _, ok := r.Get("user"); ok && e.User == "" {
			hops[i].User = r.User()
		}
		changed = changed || hops[i] != e
	}
	if changed {
		nv := *v // the value may be a group's, shared by other hosts
		nv.hops = &hops
		eff[sJump] = &nv
		s.jumps[v] = &nv
	}
}

// fill makes the value of slot sl from keyword kw of the resolution r;
// nil when r does not set it or its value is bad (reported).
func (s *sshConf) fill(l *loader, r *sshconfig.Result, kw string, sl slot) *val {
	var node *yaml.Node
	var first sshconfig.Value
	var ok bool
	switch sl {
	case sIdentityFiles, sCertificateFiles:
		node, first, ok = s.listNode(l, r, kw)
	default:
		node, first, ok = s.scalarNode(l, r, kw, sl)
	}
	if !ok {
		return nil
	}
	ki := sshKeyIndex(sl)
	before := len(l.errs)
	where := s.where(first)
	v, ok := l.conv.parse(ki, node, where, "ssh_config "+slotNames[sl], "")
	if !ok {
		// One bad ssh_config line must not repeat for every host.
		l.errs = append(l.errs[:before], dedupe(l.errs[before:])...)
		return nil
	}
	v.setSource("ssh_config " + where + ":" + strconv.Itoa(first.Line))
	return &v
}

// path expands a path of keyword kw as ssh does: ~, %-tokens, environment
// variables; a relative one is relative to the current directory.
func (s *sshConf) path(l *loader, r *sshconfig.Result, kw, p string, v sshconfig.Value) (string, bool) {
	var tok map[byte]string
	if strings.Contains(p, "%") {
		tok = r.Tokens()
	}
	out, err := sshconfig.ExpandPath(p, l.home, tok, l.lookup)
	if err != nil {
		s.errorf(l, v, kw, "%v", err)
		return "", false
	}
	if !filepath.IsAbs(out) {
		if abs, err := filepath.Abs(out); err == nil {
			out = abs
		}
	}
	return out, true
}

// listNode is the list of paths of every IdentityFile (or
// CertificateFile) line, "none" dropped.
func (s *sshConf) listNode(l *loader, r *sshconfig.Result, kw string) (*yaml.Node, sshconfig.Value, bool) {
	vs := r.List(kw)
	if len(vs) == 0 {
		return nil, sshconfig.Value{}, false
	}
	node := &yaml.Node{Kind: yaml.SequenceNode, Line: vs[0].Line}
	for _, v := range vs {
		if strings.EqualFold(v.Args[0], "none") {
			continue
		}
		p, ok := s.path(l, r, kw, v.Args[0], v)
		if !ok {
			return nil, v, false
		}
		node.Content = append(node.Content, scalarNode(p, v.Line, 0))
	}
	return node, vs[0], len(node.Content) > 0
}

// scalarNode is the node of a single-valued keyword, as the slot reads it.
func (s *sshConf) scalarNode(l *loader, r *sshconfig.Result, kw string, sl slot) (*yaml.Node, sshconfig.Value, bool) {
	v, ok := r.Get(kw)
	if !ok {
		return nil, v, false
	}
	a := v.Args[0]
	switch sl {
	case sAddress:
		a = r.Hostname()
	case sKnownHosts:
		return s.knownHostsNode(l, r, kw, v)
	case sHostKeyPolicy:
		a = s.hostKeyPolicy(l, v)
	case sJump, sProxyCommand:
		if strings.EqualFold(a, "none") {
			return nil, v, false
		}
		a = strings.TrimSpace(v.Raw)
	case sIdentityAgent:
		a, ok = s.identityAgent(l, v, func(p string, v sshconfig.Value) (string, bool) { return s.path(l, r, kw, p, v) })
		if !ok {
			return nil, v, false
		}
	case sConnectTimeout, sServerAliveInterval:
		if strings.EqualFold(a, "none") {
			return nil, v, false
		}
		n, err := sshconfig.ParseTime(a)
		if err != nil {
			s.errorf(l, v, kw, "%q is not a time", a)
			return nil, v, false
		}
		a = strconv.FormatInt(n, 10)
	}
	return scalarNode(a, v.Line, 0), v, true
}

// knownHostsNode is UserKnownHostsFile's list of paths ("none": the null
// device).
func (s *sshConf) knownHostsNode(l *loader, r *sshconfig.Result, kw string, v sshconfig.Value) (*yaml.Node, sshconfig.Value, bool) {
	node := &yaml.Node{Kind: yaml.SequenceNode, Line: v.Line}
	if strings.EqualFold(v.Args[0], "none") {
		node.Content = append(node.Content, scalarNode(os.DevNull, v.Line, 0))
		return node, v, true
	}
	for _, f := range v.Args {
		p, ok := s.path(l, r, kw, f, v)
		if !ok {
			return nil, v, false
		}
		node.Content = append(node.Content, scalarNode(p, v.Line, 0))
	}
	return node, v, true
}

func (s *sshConf) where(v sshconfig.Value) string {
	if v.File == s.file || v.File == "" {
		return s.display
	}
	return v.File
}

// errorf reports a bad ssh_config value; Load dedupes, so a line shared by
// many hosts is reported once.
func (s *sshConf) errorf(l *loader, v sshconfig.Value, kw, format string, a ...any) {
	l.errorf(s.where(v), v.Line, 0, "ssh_config "+kw, format, a...)
}

// hostKeyPolicy maps StrictHostKeyChecking. "no" and "off" never turn
// checking off: they become accept-new, which still refuses a changed
// key, with one warning per run. Only fleetclaim's own host_key_policy:
// off (inventory or --set) turns checking off.
func (s *sshConf) hostKeyPolicy(l *loader, v sshconfig.Value) string {
	switch strings.ToLower(v.Args[0]) {
	case "accept-new":
		return "accept-new"
	case "no", "off", "false":
		if !s.warned["stricthostkeychecking"] {
			s.warned["stricthostkeychecking"] = true
			l.warnf(s.where(v), v.Line, 0, "ssh_config StrictHostKeyChecking",
				"StrictHostKeyChecking %s is taken as accept-new: unknown host keys are recorded, changed ones refused; only host_key_policy: off turns checking off", v.Args[0])
		}
		return "accept-new"
	}
	return "strict"
}

// identityAgent reads IdentityAgent: "none", "SSH_AUTH_SOCK" (the
// environment's socket), "$NAME" (another environment variable) or a path.
func (s *sshConf) identityAgent(l *loader, v sshconfig.Value, path func(string, sshconfig.Value) (string, bool)) (string, bool) {
	a := v.Args[0]
	switch {
	case a == "none":
		return "none", true
	case a == "SSH_AUTH_SOCK" || (strings.HasPrefix(a, "$") && !strings.HasPrefix(a, "${")):
		name := strings.TrimPrefix(a, "$")
		sock, ok := l.lookup(name)
		if !ok || sock == "" {
			return "none", true // ssh: no agent
		}
		return path(sock, v)
	}
	return path(a, v)
}

// warnUnsupported names, once per run, each keyword that changes how ssh
// would connect and that fleetclaim does not follow.
func (s *sshConf) warnUnsupported(l *loader, r *sshconfig.Result) {
	for _, kw := range r.Keywords() {
		name, ok := sshUnsupportedLower[kw]
		if !ok || s.warned[kw] {
			continue
		}
		v, ok := r.Get(kw)
		if !ok {
			continue
		}
		harmless := false
		for _, h := range sshUnsupported[name] {
			if strings.EqualFold(v.Args[0], h) {
				harmless = true
			}
		}
		if harmless {
			continue
		}
		s.warned[kw] = true
		l.warnf(s.where(v), v.Line, 0, "ssh_config "+name,
			"%s %s changes how ssh connects, and fleetclaim does not support it: ignored", name, strings.Join(v.Args, " "))
	}
}

// sshKeyIndex is the keyTable index used to check a value from ssh_config.
func sshKeyIndex(sl slot) int {
	for i, k := range keyTable {
		if k.slot == sl && k.kind != kSecret && k.kind != kNoInline {
			return i
		}
	}
	return -1
}

func itoa(n int) string { return strconv.Itoa(n) }
