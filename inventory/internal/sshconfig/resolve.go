package sshconfig

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Config is one ssh_config file (what ssh -F names, or ~/.ssh/config) with
// every file it includes, parsed once and resolved per host.
type Config struct {
	path string
	home string

	mu    sync.Mutex
	files map[string]*file // parsed Include files by path
}

// Open parses the file at path. home anchors "~" and relative Includes
// (~/.ssh/NAME), as for ssh's user configuration.
func Open(path, home string) (*Config, error) {
	f, err := parseFile(path)
	if err != nil {
		return nil, err
	}
	return &Config{path: path, home: home, files: map[string]*file{path: f}}, nil
}

// OpenBytes is Open for a file already read.
func OpenBytes(path, home string, data []byte) (*Config, error) {
	f, err := parseBytes(path, data)
	if err != nil {
		return nil, err
	}
	return &Config{path: path, home: home, files: map[string]*file{path: f}}, nil
}

// Query is one connection as ssh's command line gives it.
type Query struct {
	// Host is the host name given to ssh (what Host patterns match).
	Host string
	// User and Port, when set, come from the command line and win over
	// every file (ssh -l, -p).
	User string
	Port int
	// LocalUser, UID and Home describe the local user (%u, %i, %d);
	// an empty Home is the Config's.
	LocalUser string
	UID       int
	Home      string
	// LocalHost is the local host name (%l; %L is its first label).
	LocalHost string
	// Exec runs a "Match exec" command (already expanded) and reports
	// whether it exited 0; nil runs it with sh -c.
	Exec func(cmd string) (bool, error)
}

// Value is one effective setting with where it was written.
type Value struct {
	Args []string
	// Raw is the text after the keyword (ProxyCommand keeps it whole).
	Raw  string
	File string
	Line int
}

// Result is the effective configuration of one host.
type Result struct {
	q Query
	// first holds single-valued keywords, first value wins.
	first map[string]Value
	// lists holds IdentityFile and CertificateFile, every value in order.
	lists map[string][]Value
	// host is ssh's effective host name: HostName with %h expanded, or
	// the host as given.
	host string
	// Final reports whether a final pass ran (Match final).
	Final bool
	// tokens caches Tokens; the result is complete when they are asked.
	tokens map[byte]string
	// applied names every line that set a value, in order (see Key);
	// tokened: one of them has a %-token.
	applied []byte
	tokened bool
}

// Key names what the result holds, for a caller that keeps what it makes
// of a result: two results of one Config with the same Key have the same
// values (Get, List, Keywords) from the same lines and the same Hostname;
// User, Port and Tokens, which fall back to the query's, may differ. A
// result with a %-token in a value other than HostName's (expanded for
// the host) has no Key: "".
func (r *Result) Key() string {
	if r.tokened {
		return ""
	}
	if _, ok := r.first["hostname"]; ok {
		return string(r.applied) + "\x00" + r.host
	}
	return string(r.applied)
}

// multi are the keywords every matching line adds to.
var multi = map[string]bool{"identityfile": true, "certificatefile": true, "localforward": true, "remoteforward": true,
	"dynamicforward": true, "sendenv": true, "setenv": true, "canonicaldomains": false}

// Get returns the first value of keyword kw (lower case).
func (r *Result) Get(kw string) (Value, bool) {
	v, ok := r.first[kw]
	return v, ok
}

// List returns every value of a multi-valued keyword.
func (r *Result) List(kw string) []Value { return r.lists[kw] }

// Keywords lists every keyword that has a value, sorted.
func (r *Result) Keywords() []string {
	var out []string
	for k := range r.first {
		out = append(out, k)
	}
	for k := range r.lists {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Hostname is the effective host name ssh connects to.
func (r *Result) Hostname() string { return r.host }

// User is the effective remote user: the command line's, the first User
// line's, or the local user.
func (r *Result) User() string {
	if r.q.User != "" {
		return r.q.User
	}
	if v, ok := r.first["user"]; ok {
		return v.Args[0]
	}
	return r.q.LocalUser
}

// Port is the effective port.
func (r *Result) Port() int {
	if r.q.Port != 0 {
		return r.q.Port
	}
	if v, ok := r.first["port"]; ok {
		if p, err := strconv.Atoi(v.Args[0]); err == nil {
			return p
		}
	}
	return 22
}

// pass is the state of one reading of the files.
type pass struct {
	c         *Config
	q         Query
	r         *Result
	final     bool
	wantFinal bool
	// host is what Host lines match: the host as given on the first pass,
	// the resolved host name on the final one.
	host string
	errs []error
}

// Resolve reads the files for q as ssh does.
func (c *Config) Resolve(q Query) (*Result, error) {
	if q.Home == "" {
		q.Home = c.home
	}
	r := &Result{q: q, first: map[string]Value{}, lists: map[string][]Value{}}
	p := &pass{c: c, q: q, r: r, host: q.Host}
	p.readFile(c.path, true, 0)
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	host := q.Host
	if v, ok := r.first["hostname"]; ok {
		h, err := expandHostName(v, q.Host)
		if err != nil {
			return nil, err
		}
		host = h
	}
	if _, err := netip.ParseAddr(host); err != nil {
		host = strings.ToLower(host)
	}
	r.host = host
	if v, ok := r.first["canonicalizehostname"]; ok && !strings.EqualFold(v.Args[0], "no") && !strings.EqualFold(v.Args[0], "false") {
		// ssh.c: canonicalization re-parses the files. fleetclaim looks
		// up no CanonicalDomains; the caller warns about the keyword.
		p.wantFinal = true
	}
	if p.wantFinal {
		r.Final = true
		fp := &pass{c: c, q: q, r: r, final: true, host: host}
		fp.readFile(c.path, true, 0)
		if len(fp.errs) > 0 {
			return nil, errors.Join(fp.errs...)
		}
	}
	return r, nil
}

// Signature tells which lines of the files apply to q without resolving
// it: which Host lines match, and whether the command line gives a user
// and a port (which User and Port lines then cannot set). Two queries of
// one Config with the same Signature resolve from the same lines, so a
// caller that keeps what it makes of a Result (by Key) can skip Resolve.
// ok is false where it cannot tell without resolving: a Match or Include
// line, a CanonicalizeHostname line, more than 62 Host lines.
func (c *Config) Signature(q Query) (sig uint64, ok bool) {
	f, err := c.file(c.path)
	if err != nil {
		return 0, false
	}
	bit := 0
	for _, l := range f.lines {
		switch l.kw {
		case "match", "include", "canonicalizehostname":
			return 0, false
		case "host":
			if bit == 62 {
				return 0, false
			}
			if hostLineMatches(q.Host, l.args) {
				sig |= 1 << bit
			}
			bit++
		}
	}
	if q.User != "" {
		sig |= 1 << 62
	}
	if q.Port != 0 {
		sig |= 1 << 63
	}
	return sig, true
}

// hostLineMatches is a Host line's outcome for host: a pattern matches,
// and no negated one does.
func hostLineMatches(host string, pats []string) bool {
	on := false
	for _, pat := range pats {
		neg := strings.HasPrefix(pat, "!")
		if matchPattern(host, strings.TrimPrefix(pat, "!")) {
			if neg {
				return false
			}
			on = true
		}
	}
	return on
}

// expandHostName expands HostName's tokens, %h and %% only (ssh.c); any
// other token is an error, as it is for ssh.
func expandHostName(v Value, host string) (string, error) {
	out, err := expand(v.Args[0], map[byte]string{'%': "%", 'h': host}, nil)
	if err != nil {
		return "", &LineError{File: v.File, Line: v.Line, Keyword: "HostName", Err: err}
	}
	return out, nil
}

const maxDepth = 16

func (c *Config) file(path string) (*file, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.files[path]; ok {
		return f, nil
	}
	// An Include of a device or FIFO (/dev/zero) would never end.
	if st, err := os.Stat(path); err == nil {
		if !st.Mode().IsRegular() {
			return nil, syntaxError(path, 0, "Include", "not a regular file")
		}
		if err := CheckPerm(path, st); err != nil {
			return nil, &LineError{File: path, Keyword: "Include", Err: err}
		}
	}
	f, err := parseFile(path)
	if err != nil {
		return nil, err
	}
	c.files[path] = f
	return f, nil
}

// readFile applies one file; active says whether its first lines apply
// (an Include under a block that does not match reads, never applies).
func (p *pass) readFile(path string, active bool, depth int) {
	if depth > maxDepth {
		p.errs = append(p.errs, syntaxError(path, 0, "Include", "too many nested Includes"))
		return
	}
	f, err := p.c.file(path)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) || depth == 0 {
			p.errs = append(p.errs, err)
		}
		return
	}
	never := !active
	on := active
	for _, l := range f.lines {
		switch l.kw {
		case "host":
			on = false
			if never {
				continue
			}
			on = hostLineMatches(p.host, l.args)
		case "match":
			m, err := p.match(f.path, l)
			if err != nil {
				p.errs = append(p.errs, err)
				return
			}
			on = m && !never
		case "include":
			for _, arg := range l.args {
				p.include(f.path, l, arg, on, depth)
			}
		default:
			if on {
				p.set(f.path, l)
			}
		}
	}
}

func (p *pass) include(from string, l line, arg string, on bool, depth int) {
	pat := arg
	switch {
	case strings.HasPrefix(pat, "~/"):
		pat = filepath.Join(p.c.home, pat[2:])
	case !filepath.IsAbs(pat):
		pat = filepath.Join(p.c.home, ".ssh", pat)
	}
	matches, err := filepath.Glob(pat)
	if err != nil {
		p.errs = append(p.errs, syntaxError(from, l.num, "Include", "%s: %v", arg, err))
		return
	}
	sort.Strings(matches)
	for _, m := range matches {
		p.readFile(m, on, depth+1)
	}
}

func (p *pass) set(path string, l line) {
	v := Value{Args: l.args, Raw: l.rest, File: path, Line: l.num}
	defer p.note(path, l, len(p.r.first)+len(p.r.lists[l.kw]))
	if multi[l.kw] {
		for _, old := range p.r.lists[l.kw] {
			if (l.kw == "identityfile" || l.kw == "certificatefile") && old.Args[0] == v.Args[0] {
				return // add_identity_file ignores a duplicate
			}
		}
		p.r.lists[l.kw] = append(p.r.lists[l.kw], v)
		return
	}
	switch l.kw {
	case "user":
		if p.q.User != "" {
			return
		}
	case "port":
		if p.q.Port != 0 {
			return
		}
	case "proxycommand":
		// ProxyJump given first makes a later ProxyCommand inert, and
		// the other way round (readconf.c).
		if _, ok := p.r.first["proxyjump"]; ok {
			return
		}
	case "proxyjump":
		if _, ok := p.r.first["proxycommand"]; ok {
			return
		}
	}
	if _, ok := p.r.first[l.kw]; !ok {
		p.r.first[l.kw] = v
	}
}

// note records in the result's key that line l of path set a value, when
// the number of values it had before set (n) changed.
func (p *pass) note(path string, l line, n int) {
	if len(p.r.first)+len(p.r.lists[l.kw]) == n {
		return
	}
	p.r.applied = strconv.AppendInt(p.r.applied, int64(l.num), 10)
	if path != p.c.path {
		p.r.applied = append(append(p.r.applied, ' '), path...)
	}
	p.r.applied = append(p.r.applied, ';')
	// HostName's tokens are in the Key already, as Hostname.
	p.r.tokened = p.r.tokened || l.kw != "hostname" && strings.IndexByte(l.rest, '%') >= 0
}

// match evaluates a Match line (readconf.c match_cfg_line).
func (p *pass) match(path string, l line) (bool, error) {
	bad := func(format string, a ...any) error {
		return syntaxError(path, l.num, "Match", format, a...)
	}
	host := p.q.Host
	if p.final {
		host = p.r.host
	} else if v, ok := p.r.first["hostname"]; ok {
		h, err := expandHostName(v, p.q.Host)
		if err != nil {
			return false, err
		}
		host = h
	}
	ruser := p.r.User()
	result, attrs := true, 0
	s := l.rest
	for {
		attr, ok, unclosed := strdelim(&s)
		if unclosed {
			return false, bad("unclosed quote")
		}
		if !ok || attr == "" {
			break
		}
		if attr[0] == '#' {
			break
		}
		neg := attr[0] == '!'
		a := strings.ToLower(strings.TrimPrefix(attr, "!"))
		if a == "all" {
			next, more, _ := strdelim(&s)
			if attrs > 1 || (more && next != "" && next[0] != '#') {
				return false, bad("'%s' cannot be combined with other Match attributes", attr)
			}
			if result {
				result = !neg
			}
			return result, nil
		}
		attrs++
		if a == "canonical" || a == "final" {
			if a == "final" {
				p.wantFinal = true
			}
			if p.final == neg {
				result = false
			}
			continue
		}
		arg, ok, _ := strdelim(&s)
		if !ok || arg == "" || arg[0] == '#' {
			return false, bad("missing criteria for %s", a)
		}
		var r bool
		switch a {
		case "host":
			r = matchHostname(host, arg)
		case "originalhost":
			r = matchHostname(p.q.Host, arg)
		case "user":
			r = matchPatternList(ruser, arg, false) == 1
		case "localuser":
			r = matchPatternList(p.q.LocalUser, arg, false) == 1
		case "exec":
			if !result {
				continue
			}
			cmd := p.expandExec(arg, host, ruser)
			run := p.q.Exec
			if run == nil {
				run = shellExec
			}
			ok, err := run(cmd)
			if err != nil {
				return false, bad("exec %q: %v", cmd, err)
			}
			r = ok
		default:
			return false, bad("unsupported Match attribute %s", a)
		}
		if r == neg {
			result = false
		}
	}
	if attrs == 0 {
		return false, bad("one or more attributes required")
	}
	return result, nil
}

func (p *pass) expandExec(cmd, host, ruser string) string {
	port := strconv.Itoa(p.r.Port())
	alias := host
	if v, ok := p.r.first["hostkeyalias"]; ok {
		alias = v.Args[0]
	}
	t := p.q.tokens(host, port, ruser, alias)
	return Expand(cmd, t)
}

func shellExec(cmd string) (bool, error) {
	sh := os.Getenv("SHELL")
	if sh == "" {
		sh = "/bin/sh"
	}
	c := exec.Command(sh, "-c", cmd)
	c.Stdin, c.Stdout = nil, nil
	err := c.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ee.Exited() {
			return false, nil
		}
		return false, fmt.Errorf("exited abnormally: %v", err)
	}
	return err == nil, err
}

// tokens are the % tokens of ssh_config(5) for one connection.
func (q Query) tokens(host, port, ruser, alias string) map[byte]string {
	short, _, _ := strings.Cut(q.LocalHost, ".")
	sum := sha1.Sum([]byte(q.LocalHost + host + port + ruser))
	return map[byte]string{
		'%': "%", 'C': hex.EncodeToString(sum[:]), 'L': short, 'i': strconv.Itoa(q.UID), 'k': alias,
		'l': q.LocalHost, 'n': q.Host, 'p': port, 'd': q.Home, 'h': host, 'r': ruser, 'u': q.LocalUser,
	}
}

// Tokens returns the % tokens of the resolved connection (ssh.c's
// DEFAULT_CLIENT_PERCENT_EXPAND_ARGS).
func (r *Result) Tokens() map[byte]string {
	if r.tokens != nil {
		return r.tokens
	}
	alias := r.q.Host
	if v, ok := r.first["hostkeyalias"]; ok {
		alias = v.Args[0]
	}
	r.tokens = r.q.tokens(r.host, strconv.Itoa(r.Port()), r.User(), alias)
	return r.tokens
}

// ErrToken is an unknown % token or an unset ${VAR}.
var ErrToken = errors.New("ssh_config token")

// Expand replaces the % tokens of s from t. An unknown token is left as
// it is; use ExpandStrict to refuse it.
func Expand(s string, t map[byte]string) string {
	out, _ := expand(s, t, nil)
	return out
}

// ExpandPath is what ssh does to a path setting (IdentityFile,
// UserKnownHostsFile, IdentityAgent, CertificateFile): "~" first, then the
// % tokens and ${VAR} from env.
func ExpandPath(s, home string, t map[byte]string, env func(string) (string, bool)) (string, error) {
	if s == "~" {
		s = home
	} else if strings.HasPrefix(s, "~/") {
		s = filepath.Join(home, s[2:])
	}
	return expand(s, t, env)
}

// ExpandStrict is Expand refusing unknown tokens (when env is nil,
// ${VAR} is left alone).
func ExpandStrict(s string, t map[byte]string, env func(string) (string, bool)) (string, error) {
	return expand(s, t, env)
}

func expand(s string, t map[byte]string, env func(string) (string, bool)) (string, error) {
	if !strings.ContainsAny(s, "%$") {
		return s, nil
	}
	var b strings.Builder
	var bad error
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '$' && env != nil && i+1 < len(s) && s[i+1] == '{' {
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return "", fmt.Errorf("%w: unterminated ${ in %q", ErrToken, s)
			}
			name := s[i+2 : i+end]
			v, ok := env(name)
			if !ok {
				return "", fmt.Errorf("%w: environment variable %s is not set", ErrToken, name)
			}
			b.WriteString(v)
			i += end
			continue
		}
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(s) {
			return "", fmt.Errorf("%w: %% at the end of %q", ErrToken, s)
		}
		i++
		v, ok := t[s[i]]
		if !ok {
			if bad == nil {
				bad = fmt.Errorf("%w: unknown token %%%c in %q", ErrToken, s[i], s)
			}
			b.WriteByte('%')
			b.WriteByte(s[i])
			continue
		}
		b.WriteString(v)
	}
	return b.String(), bad
}
