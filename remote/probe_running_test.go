package remote

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// TestProbeRunningNamesNetdata: the agent runs when its pid file names a
// live process that is netdata; a stale pid file whose pid another
// process has taken since (pids are reused) says it does not.
func TestProbeRunningNamesNetdata(t *testing.T) {
	root := fixtureRoot(t, "")
	pidFile := filepath.Join(root, "opt/netdata/var/run/netdata/netdata.pid")
	if err := os.MkdirAll(filepath.Dir(pidFile), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/bin/cat")
	if err != nil {
		t.Skip(err)
	}
	bin := filepath.Join(t.TempDir(), "netdata")
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	agent := exec.Command(bin)
	in, err := agent.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { in.Close(); agent.Wait() }()
	for _, c := range []struct {
		name string
		pid  int
		want string
	}{
		{"a process named netdata", agent.Process.Pid, "yes"},
		{"another process", os.Getpid(), "no"},
	} {
		if err := os.WriteFile(pidFile, []byte(strconv.Itoa(c.pid)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := ProbeWith(context.Background(), Local{}, ProbeOptions{Root: root})
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Installs) == 0 || f.Installs[0].Running != c.want {
			t.Errorf("%s: installs %+v, want running %s", c.name, f.Installs, c.want)
		}
	}
}
