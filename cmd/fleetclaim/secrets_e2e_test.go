package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestE2ETokenFilesNeverReadable watches, in a tight loop for the whole
// claim, the directories where the token lands on v2 hosts (claim.conf and
// its temporary file) and v1 hosts (cloud.d/token): no file there is ever
// seen readable by others, and a token file never by its group either.
func TestE2ETokenFilesNeverReadable(t *testing.T) {
	info := startLab(t, 4, "--personalities", "v1=2")
	type watched struct{ dir, host string }
	var dirs []watched
	for _, h := range info.Hosts {
		nd := filepath.Join(h.Prefix, "opt", "netdata")
		dirs = append(dirs, watched{filepath.Join(nd, "etc", "netdata"), h.Name},
			watched{filepath.Join(nd, "var", "lib", "netdata", "cloud.d"), h.Name})
	}
	var (
		stop     atomic.Bool
		seen     sync.Map // path -> struct{}
		badMu    sync.Mutex
		bad      []string
		wg       sync.WaitGroup
		observed atomic.Int64
	)
	wg.Go(func() {
		for !stop.Load() {
			for _, w := range dirs {
				ents, _ := os.ReadDir(w.dir)
				for _, e := range ents {
					name := e.Name()
					isToken := w.dir[len(w.dir)-len("cloud.d"):] == "cloud.d" && (name == "token" || strings.Contains(name, "token"))
					if !strings.Contains(name, "claim.conf") && !isToken {
						continue
					}
					st, err := os.Lstat(filepath.Join(w.dir, name))
					if err != nil {
						continue // gone between the listing and the stat
					}
					observed.Add(1)
					seen.Store(filepath.Join(w.dir, name), struct{}{})
					mode := st.Mode().Perm()
					if mode&0o007 != 0 || isToken && mode&0o077 != 0 {
						badMu.Lock()
						bad = append(bad, w.host+": "+name+" seen with mode "+fs.FileMode(mode).String())
						badMu.Unlock()
					}
				}
			}
		}
	})
	r := fleetclaim(t, nil, "claim", "-i", info.Inventory(), "--forks", "4", "--wait", "5s", "--no-history")
	stop.Store(true)
	wg.Wait()
	if r.code != 0 {
		t.Fatalf("claim: exit %d\n%s", r.code, r.stderr)
	}
	for _, b := range bad {
		t.Error(b)
	}
	n := 0
	seen.Range(func(k, _ any) bool { n++; return true })
	if n < 2 || observed.Load() == 0 {
		t.Fatalf("the watcher saw %d token files: it watched nothing", n)
	}
	t.Logf("watched %d token files in %d observations", n, observed.Load())
}

// TestE2EDebugTraceRedacted: the --debug trace on stderr and in
// --debug-file names each host's connection, commands and timings, and
// holds neither the claim token nor the contents of the client key.
func TestE2EDebugTraceRedacted(t *testing.T) {
	info := startLab(t, 2)
	token, err := info.Token()
	if err != nil {
		t.Fatal(err)
	}
	key := mustRead(t, filepath.Join(info.Dir, "id_ed25519"))
	file := filepath.Join(t.TempDir(), "debug.log")
	r := fleetclaim(t, nil, "claim", "-i", info.Inventory(), "--debug", "--wait", "5s", "--no-history")
	f := fleetclaim(t, nil, "reclaim", "-i", info.Inventory(), "--debug-file", file, "--wait", "5s", "--no-history")
	if r.code != 0 || f.code != 0 {
		t.Fatalf("claim exit %d, reclaim exit %d\n%s\n%s", r.code, f.code, r.stderr, f.stderr)
	}
	traced := mustRead(t, file)
	if strings.Contains(f.stderr, "debug +") {
		t.Error("--debug-file also traced on stderr")
	}
	for what, text := range map[string]string{"--debug": r.stderr, "--debug-file": traced} {
		for _, h := range info.Hosts {
			for _, want := range []string{h.Name + ": connect ", h.Name + ": connected in ", h.Name + ": script of ", "in the connection's shell", "exit 0 in "} {
				if !strings.Contains(text, want) {
					t.Errorf("%s trace lacks %q:\n%s", what, want, text)
				}
			}
		}
		if strings.Contains(text, token) {
			t.Errorf("the claim token appears in the %s trace", what)
		}
		for _, line := range strings.Split(key, "\n") {
			if len(line) > 20 && !strings.HasPrefix(line, "-----") && strings.Contains(text, line) {
				t.Errorf("the private key appears in the %s trace", what)
			}
		}
	}
	if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("debug file mode: %v %v", st.Mode(), err)
	}
}
