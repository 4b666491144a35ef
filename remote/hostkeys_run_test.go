package remote

import (
	"net"
	"path/filepath"
	"testing"
)

// TestHostKeyAcceptedEarlierInTheRun: under accept-new a host's key is
// recorded once; the same key later in the run is accepted, another key
// for that host is refused as changed, whatever the policy asking, and
// without root or sshd.
func TestHostKeyAcceptedEarlierInTheRun(t *testing.T) {
	kh := filepath.Join(t.TempDir(), "known_hosts")
	store, err := NewDialer(DialerOptions{}).hostKeyStore([]string{kh})
	if err != nil {
		t.Fatal(err)
	}
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 7), Port: 2200}
	const host = "127.0.0.7:2200"
	first, other := testHostKey(t), testHostKey(t)
	if err := store.callback("accept-new")(host, addr, first); err != nil {
		t.Fatalf("accept-new refused an unknown host: %v", err)
	}
	if err := store.callback("accept-new")(host, addr, first); err != nil {
		t.Fatalf("the key accepted earlier in the run was refused: %v", err)
	}
	for _, policy := range []string{"accept-new", "strict"} {
		err := store.callback(policy)(host, addr, other)
		if CategoryOf(err) != CatHostKeyChanged {
			t.Errorf("%s, another key for a host accepted earlier in the run: %v (category %q), want %s", policy, err, CategoryOf(err), CatHostKeyChanged)
		}
	}
}
