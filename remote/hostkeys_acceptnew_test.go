package remote

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
)

// A run is one Dialer; each loads the known_hosts files once.
func newRunStore(t *testing.T, files ...string) *hostKeyStore {
	t.Helper()
	s, err := NewDialer(DialerOptions{}).hostKeyStore(files)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var testRemote = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 9), Port: 2222}

const testHostPort = "127.0.0.9:2222"

func hostLines(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// TestHostKeyAcceptNewRecordsNewKey: an unknown host's key is recorded and
// trusted by the next run, even under strict.
func TestHostKeyAcceptNewRecordsNewKey(t *testing.T) {
	kh := filepath.Join(t.TempDir(), "sub", "known_hosts")
	key := testHostKey(t)
	if err := newRunStore(t, kh).callback("accept-new")(testHostPort, testRemote, key); err != nil {
		t.Fatalf("accept-new refused a new key: %v", err)
	}
	lines := hostLines(t, kh)
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "[127.0.0.9]:2222 ssh-ed25519 ") {
		t.Fatalf("known_hosts = %q, want one [127.0.0.9]:2222 line", lines)
	}
	if err := newRunStore(t, kh).callback("strict")(testHostPort, testRemote, key); err != nil {
		t.Errorf("the next run does not trust the recorded key: %v", err)
	}
}

// TestHostKeyAcceptNewRefusesChangedKey: accept-new records only unknown
// hosts; a changed key is refused and the file is left alone.
func TestHostKeyAcceptNewRefusesChangedKey(t *testing.T) {
	kh := filepath.Join(t.TempDir(), "known_hosts")
	old, changed := testHostKey(t), testHostKey(t)
	line := "[127.0.0.9]:2222 " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(old)))
	if err := os.WriteFile(kh, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := newRunStore(t, kh).callback("accept-new")(testHostPort, testRemote, changed)
	if CategoryOf(err) != CatHostKeyChanged {
		t.Fatalf("accept-new with a changed key: %v (category %q), want %s", err, CategoryOf(err), CatHostKeyChanged)
	}
	if got := hostLines(t, kh); len(got) != 1 || got[0] != line {
		t.Errorf("known_hosts changed to %q", got)
	}
}

// TestHostKeyAcceptNewConcurrentRunsRecordOneKey: runs that loaded the file
// before any of them recorded a key (two fleetclaim processes started
// together) record one key for a host, and refuse the others as changed.
func TestHostKeyAcceptNewConcurrentRunsRecordOneKey(t *testing.T) {
	kh := filepath.Join(t.TempDir(), "known_hosts")
	const runs = 8
	stores := make([]*hostKeyStore, runs)
	keys := make([]ssh.PublicKey, runs)
	for i := range stores {
		stores[i] = newRunStore(t, kh)
		keys[i] = testHostKey(t)
	}
	var wg sync.WaitGroup
	errs := make([]error, runs)
	for i := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = stores[i].callback("accept-new")(testHostPort, testRemote, keys[i])
		}()
	}
	wg.Wait()
	accepted := 0
	for i, err := range errs {
		switch {
		case err == nil:
			accepted++
		case CategoryOf(err) != CatHostKeyChanged:
			t.Errorf("run %d: %v, want accepted or %s", i, err, CatHostKeyChanged)
		}
	}
	lines := hostLines(t, kh)
	if accepted != 1 || len(lines) != 1 {
		t.Fatalf("%d runs accepted a key, known_hosts holds %d lines, want 1 and 1: %q", accepted, len(lines), lines)
	}
	// The same key seen by a run that loaded the file before is accepted
	// (re-read under the lock), not written twice.
	late := newRunStore(t, kh)
	for i, err := range errs {
		if err == nil {
			stale := stores[(i+1)%runs]
			if err := stale.callback("accept-new")(testHostPort, testRemote, keys[i]); err != nil {
				t.Errorf("the recorded key, seen by a run that loaded the file earlier: %v", err)
			}
			if err := late.callback("strict")(testHostPort, testRemote, keys[i]); err != nil {
				t.Errorf("strict after the runs: %v", err)
			}
		}
	}
	if got := hostLines(t, kh); len(got) != 1 {
		t.Errorf("known_hosts holds %d lines after a known key was seen again: %q", len(got), got)
	}
}

// TestHostKeyAcceptNewFollowsHashedFile: a file whose entries are hashed
// gets hashed lines (HashKnownHosts), which the next run matches.
func TestHostKeyAcceptNewFollowsHashedFile(t *testing.T) {
	kh := filepath.Join(t.TempDir(), "known_hosts")
	other := testHostKey(t)
	hashed := "|1|" + "q3v0bL3oN8kYjXbqM1Xr0m1Xz2A=|" + "tUPqK8w1g0sXJm2c2m8t4cG7Wm8= " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(other)))
	if err := os.WriteFile(kh, []byte(hashed+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	key := testHostKey(t)
	if err := newRunStore(t, kh).callback("accept-new")(testHostPort, testRemote, key); err != nil {
		t.Fatal(err)
	}
	lines := hostLines(t, kh)
	if len(lines) != 2 || !strings.HasPrefix(lines[1], "|1|") || strings.Contains(lines[1], "127.0.0.9") {
		t.Fatalf("known_hosts = %q, want the new line hashed like the file's", lines)
	}
	if err := newRunStore(t, kh).callback("strict")(testHostPort, testRemote, key); err != nil {
		t.Errorf("the hashed line does not match: %v", err)
	}
}
