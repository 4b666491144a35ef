package remote

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"
)

func testHostKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// A large known_hosts file is looked up through shards; every answer (and
// every error message, with the original file and line) is the one the
// whole file gives.
func TestHostKeyShardsAnswerLikeTheWholeFile(t *testing.T) {
	const n = 700
	keys := make([]ssh.PublicKey, n)
	var b strings.Builder
	b.WriteString("# fleet\n\n")
	for i := range keys {
		keys[i] = testHostKey(t)
		line := xknownhosts.Line([]string{fmt.Sprintf("[10.0.%d.%d]:%d", i/250, i%250, 2000+i)}, keys[i])
		if i%100 == 7 { // some lines name two hosts, one on port 22
			line = xknownhosts.Line([]string{fmt.Sprintf("[10.0.%d.%d]:%d", i/250, i%250, 2000+i), fmt.Sprintf("alias%d.example.net", i)}, keys[i])
		}
		b.WriteString(line + "\n")
	}
	wild, hashed, revoked, other := testHostKey(t), testHostKey(t), testHostKey(t), testHostKey(t)
	b.WriteString(xknownhosts.Line([]string{"*.wild.example.com"}, wild) + "\n")
	b.WriteString(xknownhosts.Line([]string{xknownhosts.HashHostname("secret.example.org")}, hashed) + "\n")
	b.WriteString("@revoked * " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(revoked))) + "\n")
	b.WriteString("db1.example.com:2222 " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(keys[3]))) + "\n")
	file := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	d := &Dialer{hostKeys: map[string]*hostKeyStore{}}
	sharded, err := d.hostKeyStore([]string{file})
	if err != nil {
		t.Fatal(err)
	}
	if len(sharded.shards) < 2 {
		t.Fatalf("%d shards for %d lines", len(sharded.shards), n)
	}
	whole := &hostKeyStore{files: sharded.files, db: sharded.db, added: map[string]ssh.PublicKey{}}
	remote := &net.TCPAddr{IP: net.IPv4(10, 9, 9, 9), Port: 22}
	cases := []struct {
		name, addr string
		key        ssh.PublicKey
		wantCat    Category
	}{
		{"first host", "10.0.0.0:2000", keys[0], ""},
		{"last host", fmt.Sprintf("10.0.2.%d:%d", (n-1)%250, 2000+n-1), keys[n-1], ""},
		{"alias on port 22", "alias107.example.net:22", keys[107], ""},
		{"second name of a line", "10.0.0.107:2107", keys[107], ""},
		{"host:port pattern", "db1.example.com:2222", keys[3], ""},
		{"wildcard", "a.wild.example.com:22", wild, ""},
		{"hashed", "secret.example.org:22", hashed, ""},
		{"changed key", "10.0.0.5:2005", other, CatHostKeyChanged},
		{"changed key on a wildcard", "b.wild.example.com:22", other, CatHostKeyChanged},
		{"revoked", "10.0.0.5:2005", revoked, CatHostKeyRevoked},
		{"unknown host", "10.200.0.1:22", other, CatHostKeyUnknown},
		{"known address, other port", "10.0.0.0:2001", keys[0], CatHostKeyUnknown},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := sharded.callback("strict")(c.addr, remote, c.key)
			want := whole.callback("strict")(c.addr, remote, c.key)
			if CategoryOf(got) != c.wantCat || (c.wantCat == "") != (got == nil) {
				t.Fatalf("sharded: %v (category %q), want category %q", got, CategoryOf(got), c.wantCat)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("sharded: %v\nwhole:   %v", got, want)
			}
			if a, w := sharded.algorithms(c.addr), whole.algorithms(c.addr); !slices.Equal(a, w) {
				t.Errorf("algorithms: sharded %v, whole %v", a, w)
			}
		})
	}
}

// Small files are not split.
func TestHostKeyNoShardsForSmallFiles(t *testing.T) {
	file := filepath.Join(t.TempDir(), "known_hosts")
	line := xknownhosts.Line([]string{"[127.0.0.1]:2222"}, testHostKey(t))
	if err := os.WriteFile(file, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := (&Dialer{hostKeys: map[string]*hostKeyStore{}}).hostKeyStore([]string{file})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.shards) != 0 {
		t.Errorf("%d shards for one line", len(s.shards))
	}
}
