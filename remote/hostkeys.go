package remote

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"
)

// hostKeyStore verifies host keys against a set of known_hosts files. It is
// loaded once per set of files and shared by every host that names them.
type hostKeyStore struct {
	files []string
	db    *knownhosts.HostKeyDB

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
	}
	d.hostKeys[key] = s
	return s, nil
}

// algorithms returns the host key algorithms known_hosts holds for addr, so
// that the server is asked for a key type we can verify.
func (s *hostKeyStore) algorithms(addr string) []string {
	if s == nil || s.db == nil {
		return nil
	}
	return s.db.HostKeyAlgorithms(addr)
}

func (s *hostKeyStore) callback(policy string) ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
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
			err = s.db.HostKeyCallback()(hostname, remote, key)
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
			return s.record(hostname, remote, key)
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

// record appends an unknown host's key to the first known_hosts file
// (accept-new) and remembers it for the rest of the run.
func (s *hostKeyStore) record(hostname string, remote net.Addr, key ssh.PublicKey) error {
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
	f := s.files[0]
	if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
		return &Error{Op: "host key", Category: CatHostKeyUnknown, Err: err}
	}
	fh, err := os.OpenFile(f, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return &Error{Op: "host key", Category: CatHostKeyUnknown, Err: err}
	}
	defer fh.Close()
	if err := knownhosts.WriteKnownHost(fh, hostname, remote, key); err != nil {
		return &Error{Op: "host key", Category: CatHostKeyUnknown, Err: err}
	}
	s.added[norm] = key
	return nil
}
