package remote

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"
)

// hostKeyStore verifies host keys against a set of known_hosts files. It is
// loaded once per set of files and shared by every host that names them.
type hostKeyStore struct {
	files []string
	db    *knownhosts.HostKeyDB
	// shards, for large files, hold the same lines split by host: see
	// loadShards. An answer other than "known" always comes from db.
	shards []*knownhosts.HostKeyDB

	mu    sync.Mutex
	added map[string]ssh.PublicKey // keys recorded under accept-new in this run
}

func (d *Dialer) hostKeyStore(files []string) (*hostKeyStore, error) {
	key := strings.Join(files, "\x00")
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.hostKeys[key]; ok {
		return s, nil
	}
	s := &hostKeyStore{files: files, added: map[string]ssh.PublicKey{}}
	var existing []string
	for _, f := range files {
		if _, err := os.Stat(f); err == nil {
			existing = append(existing, f)
		}
	}
	if len(existing) > 0 {
		db, err := knownhosts.NewDB(existing...)
		if err != nil {
			return nil, fmt.Errorf("known_hosts: %w", err)
		}
		s.db = db
		if s.shards, err = loadShards(existing); err != nil {
			return nil, fmt.Errorf("known_hosts: %w", err)
		}
	}
	d.hostKeys[key] = s
	return s, nil
}

// Known_hosts lookups scan every line of the files (in the libraries that
// parse them), twice per connection: at 10,000 hosts in one file that was
// 21% of fleetclaim's CPU, growing with the square of the fleet. Large files
// are therefore also loaded split into shards of ~shardLines host lines:
// a line naming only plain hosts ("name", "[name]:port", lists of them) goes
// to the shard of each name; every other line (hashed names, wildcards,
// negations, @cert-authority, @revoked) goes to every shard. A shard thus
// holds every line that can match its hosts, and gives the same answer as
// the whole files.
const (
	shardMinLines = 512
	shardLines    = 64
)

func loadShards(files []string) ([]*knownhosts.HostKeyDB, error) {
	general, plains, err := readKnownHosts(files)
	if err != nil {
		return nil, err
	}
	if len(plains) < shardMinLines {
		return nil, nil
	}
	n := len(plains) / shardLines
	text := make([]strings.Builder, n)
	for i := range text {
		for _, g := range general {
			text[i].WriteString(g)
			text[i].WriteByte('\n')
		}
	}
	for _, p := range plains {
		var done [4]int
		seen := done[:0]
		for _, k := range p.keys {
			i := shardOf(k, n)
			if slices.Contains(seen, i) {
				continue
			}
			seen = append(seen, i)
			text[i].WriteString(p.line)
			text[i].WriteByte('\n')
		}
	}
	return writeShards(text)
}

// plainLine is a known_hosts line that names its hosts in plain text, and
// the lookup keys of those hosts (plainHostKeys).
type plainLine struct {
	line string
	keys []string
}

// readKnownHosts reads files' lines, without blanks and comments: the
// plain ones, which go to the shards of their hosts, and the general
// ones (hashed, wildcards, markers), which go to every shard.
func readKnownHosts(files []string) (general []string, plains []plainLine, err error) {
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, err
		}
		for line := range strings.Lines(string(data)) {
			line = strings.TrimRight(line, "\r\n")
			t := strings.TrimSpace(line)
			if t == "" || t[0] == '#' {
				continue
			}
			if keys := plainHostKeys(t); keys != nil {
				plains = append(plains, plainLine{t, keys})
			} else {
				general = append(general, t)
			}
		}
	}
	return general, plains, nil
}

// writeShards loads each shard's text into a known_hosts database,
// through a private temporary file removed at once.
func writeShards(text []strings.Builder) ([]*knownhosts.HostKeyDB, error) {
	dir, err := os.MkdirTemp("", "fleetclaim-known-hosts-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	shards := make([]*knownhosts.HostKeyDB, len(text))
	for i := range text {
		f := filepath.Join(dir, strconv.Itoa(i))
		if err := os.WriteFile(f, []byte(text[i].String()), 0o600); err != nil {
			return nil, err
		}
		if shards[i], err = knownhosts.NewDB(f); err != nil {
			return nil, err
		}
	}
	return shards, nil
}

// plainHostKeys returns the lookup keys of a known_hosts line whose host
// field lists only plain names, or nil for any other line.
func plainHostKeys(line string) []string {
	field, _, ok := strings.Cut(line, " ")
	if !ok || strings.ContainsAny(field, "*?!|@\t") {
		return nil
	}
	var keys []string
	for p := range strings.SplitSeq(field, ",") {
		// As the known_hosts parser reads a pattern.
		host, port, err := net.SplitHostPort(p)
		if err != nil {
			if strings.HasPrefix(p, "[") {
				return nil
			}
			host, port = p, "22"
		}
		if host == "" {
			return nil
		}
		keys = append(keys, host+"\x00"+port)
	}
	return keys
}

func shardOf(key string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// dbFor returns the database to ask about addr (host:port): its shard, or
// the whole files.
func (s *hostKeyStore) dbFor(addr string) *knownhosts.HostKeyDB {
	if len(s.shards) == 0 {
		return s.db
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return s.db
	}
	return s.shards[shardOf(host+"\x00"+port, len(s.shards))]
}

// algorithms returns the host key algorithms known_hosts holds for addr, so
// that the server is asked for a key type we can verify.
func (s *hostKeyStore) algorithms(addr string) []string {
	if s == nil || s.db == nil {
		return nil
	}
	return s.dbFor(addr).HostKeyAlgorithms(addr)
}

// keyCheck says how one hop's host key is checked.
type keyCheck struct {
	policy string // strict | accept-new | off
	// alias, when set, is the name the key is looked up and recorded
	// under instead of the address (HostKeyAlias).
	alias string
	// hash hashes recorded names (HashKnownHosts).
	hash bool
}

func (s *hostKeyStore) callback(policy string) ssh.HostKeyCallback {
	return s.check(keyCheck{policy: policy})
}

func (s *hostKeyStore) check(kc keyCheck) ssh.HostKeyCallback {
	policy := kc.policy
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		if kc.alias != "" {
			// As OpenSSH: the alias alone, without the port.
			hostname = net.JoinHostPort(kc.alias, "22")
		}
		if policy == "off" {
			return nil
		}
		if s == nil {
			return &Error{Op: "host key", Category: CatHostKeyUnknown, Err: errors.New("no known_hosts file")}
		}
		norm := knownhosts.Normalize(hostname)
		s.mu.Lock()
		prev, seen := s.added[norm]
		s.mu.Unlock()
		if seen {
			if string(prev.Marshal()) == string(key.Marshal()) {
				return nil
			}
			return &Error{Op: "host key", Category: CatHostKeyChanged, Err: changedError(hostname, key, nil, prev)}
		}
		var err error
		if s.db != nil {
			db := s.dbFor(hostname)
			err = db.HostKeyCallback()(hostname, remote, key)
			if err != nil && db != s.db {
				// The whole files say why, with their own names and lines.
				err = s.db.HostKeyCallback()(hostname, remote, key)
			}
		} else {
			err = &xknownhosts.KeyError{}
		}
		if err == nil {
			return nil
		}
		var revoked *xknownhosts.RevokedError
		if errors.As(err, &revoked) {
			return &Error{Op: "host key", Category: CatHostKeyRevoked, Err: fmt.Errorf("host key %s %s for %s is marked @revoked in %s:%d",
				key.Type(), ssh.FingerprintSHA256(key), hostname, revoked.Revoked.Filename, revoked.Revoked.Line)}
		}
		var ke *xknownhosts.KeyError
		if errors.As(err, &ke) && len(ke.Want) > 0 {
			return &Error{Op: "host key", Category: CatHostKeyChanged, Err: changedError(hostname, key, ke.Want, nil)}
		}
		if !errors.As(err, &ke) {
			return &Error{Op: "host key", Category: CatHostKeyUnknown, Err: err}
		}
		if policy == "accept-new" {
			return s.record(hostname, remote, key, kc.hash)
		}
		return &Error{Op: "host key", Category: CatHostKeyUnknown, Err: fmt.Errorf(
			"no host key is known for %s in %s (received %s %s); add it to known_hosts or use host_key_policy: accept-new",
			hostname, strings.Join(s.files, ", "), key.Type(), ssh.FingerprintSHA256(key))}
	}
}

func changedError(hostname string, got ssh.PublicKey, want []xknownhosts.KnownKey, prev ssh.PublicKey) error {
	var b strings.Builder
	fmt.Fprintf(&b, "REMOTE HOST IDENTIFICATION HAS CHANGED for %s: received %s key %s", hostname, got.Type(), ssh.FingerprintSHA256(got))
	for _, w := range want {
		fmt.Fprintf(&b, "; expected %s key %s (%s:%d)", w.Key.Type(), ssh.FingerprintSHA256(w.Key), w.Filename, w.Line)
	}
	if prev != nil {
		fmt.Fprintf(&b, "; expected %s key %s (accepted earlier in this run)", prev.Type(), ssh.FingerprintSHA256(prev))
	}
	b.WriteString(". Someone could be impersonating the host, or its key was replaced; nothing was sent to it")
	return errors.New(b.String())
}

// knownHostsLockWait bounds how long accept-new waits for another run
// that holds the known_hosts lock.
const knownHostsLockWait = 10 * time.Second

// lockPollFirst and lockPollMax are the first and the longest pause between
// two tries of a busy known_hosts lock (the pause doubles each time).
const (
	lockPollFirst = time.Millisecond
	lockPollMax   = 50 * time.Millisecond
)

// record appends an unknown host's key to the first known_hosts file
// (accept-new) and remembers it for the rest of the run. The file is
// locked (flock) and every file re-read under the lock, so that two runs
// that both found the host unknown record one key: the second sees the
// first's, and a different key is refused as changed. The line is hashed
// when hash is set or the file's own entries mostly are.
func (s *hostKeyStore) record(hostname string, remote net.Addr, key ssh.PublicKey, hash bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	norm := knownhosts.Normalize(hostname)
	if prev, ok := s.added[norm]; ok {
		if string(prev.Marshal()) == string(key.Marshal()) {
			return nil
		}
		return &Error{Op: "host key", Category: CatHostKeyChanged, Err: changedError(hostname, key, nil, prev)}
	}
	if len(s.files) == 0 {
		return &Error{Op: "host key", Category: CatHostKeyUnknown, Err: errors.New("accept-new needs a known_hosts file to write to")}
	}
	fail := func(err error) error { return &Error{Op: "host key", Category: CatHostKeyUnknown, Err: err} }
	f := s.files[0]
	if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
		return fail(err)
	}
	fh, err := os.OpenFile(f, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fail(err)
	}
	defer fh.Close()
	if err := lockFile(fh, knownHostsLockWait); err != nil {
		return fail(fmt.Errorf("known_hosts %s: %w", f, err))
	}
	defer unlockFile(fh)
	if err := s.recheck(hostname, remote, key); err != nil || s.added[norm] != nil {
		return err
	}
	data, err := io.ReadAll(fh)
	if err != nil {
		return fail(err)
	}
	name := norm
	if hash || mostlyHashed(data) {
		name = xknownhosts.HashHostname(norm)
	}
	var line []byte
	if len(data) > 0 && data[len(data)-1] != '\n' {
		line = append(line, '\n')
	}
	line = append(line, name+" "...)
	line = append(line, ssh.MarshalAuthorizedKey(key)...)
	if _, err := fh.Write(line); err != nil {
		return fail(err)
	}
	if err := fh.Sync(); err != nil {
		return fail(err)
	}
	s.added[norm] = key
	return nil
}

// recheck reads every known_hosts file again (under the lock): a key that
// another run recorded since this run loaded them is trusted (and
// remembered in s.added) if it is this key, refused as changed otherwise.
// A nil error with nothing remembered means the host is still unknown.
func (s *hostKeyStore) recheck(hostname string, remote net.Addr, key ssh.PublicKey) error {
	var existing []string
	for _, f := range s.files {
		if _, err := os.Stat(f); err == nil {
			existing = append(existing, f)
		}
	}
	if len(existing) == 0 {
		return nil
	}
	db, err := knownhosts.NewDB(existing...)
	if err != nil {
		return &Error{Op: "host key", Category: CatHostKeyUnknown, Err: fmt.Errorf("known_hosts: %w", err)}
	}
	err = db.HostKeyCallback()(hostname, remote, key)
	if err == nil {
		s.added[knownhosts.Normalize(hostname)] = key
		return nil
	}
	var revoked *xknownhosts.RevokedError
	if errors.As(err, &revoked) {
		return &Error{Op: "host key", Category: CatHostKeyRevoked, Err: fmt.Errorf("host key %s %s for %s is marked @revoked in %s:%d",
			key.Type(), ssh.FingerprintSHA256(key), hostname, revoked.Revoked.Filename, revoked.Revoked.Line)}
	}
	var ke *xknownhosts.KeyError
	if errors.As(err, &ke) && len(ke.Want) > 0 {
		return &Error{Op: "host key", Category: CatHostKeyChanged, Err: changedError(hostname, key, ke.Want, nil)}
	}
	return nil
}

// lockFile takes an exclusive flock on f, waiting at most wait for a
// holder to let go.
func lockFile(f *os.File, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	delay := lockPollFirst
	for {
		busy, err := tryLockFile(f)
		if err != nil || !busy {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still locked by another process after %v", wait)
		}
		time.Sleep(delay)
		delay = min(2*delay, lockPollMax)
	}
}

// mostlyHashed reports whether most host lines of a known_hosts file have
// hashed names (|1|salt|hash, what HashKnownHosts writes).
func mostlyHashed(data []byte) bool {
	hashed, plain := 0, 0
	for line := range strings.Lines(string(data)) {
		t := strings.TrimSpace(line)
		if t == "" || t[0] == '#' {
			continue
		}
		if t[0] == '@' {
			if _, rest, ok := strings.Cut(t, " "); ok {
				t = strings.TrimSpace(rest)
			}
		}
		if strings.HasPrefix(t, "|1|") {
			hashed++
		} else {
			plain++
		}
	}
	return hashed > plain
}
