package sshconfig

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzResolve: any file parses or is refused with a LineError, and
// resolves for any host without panicking. Match exec never runs here.
func FuzzResolve(f *testing.F) {
	paths, _ := filepath.Glob("testdata/corpus/*.conf")
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b, "web1.example.com")
		}
	}
	f.Add([]byte("Host a\n  HostName %h.x\nMatch final host *.x\n  User u\n"), "a")
	f.Fuzz(func(t *testing.T, data []byte, host string) {
		cfg, err := OpenBytes("fuzz.conf", "/nonexistent-home", data)
		if err != nil {
			return
		}
		r, err := cfg.Resolve(Query{Host: host, LocalUser: "me", LocalHost: "here.example", Exec: func(string) (bool, error) { return true, nil }})
		if err != nil {
			return
		}
		_ = r.Hostname()
		_ = r.User()
		_ = r.Port()
		for _, v := range r.List("identityfile") {
			ExpandPath(v.Args[0], "/h", r.Tokens(), func(string) (string, bool) { return "", false })
		}
	})
}
