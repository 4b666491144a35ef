package remote

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestProbeRunningNamesNetdata: the agent runs when its pid file names a
// live process that is netdata; a stale pid file whose pid another
// process, or a thread named netdata of another process (as a real
// agent's unnamed threads are), has taken since (pids are reused), or
// whose agent exited and was not reaped yet, says it does not.
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
	cases := []struct {
		name string
		pid  int
		want string
	}{
		{"a process named netdata", agent.Process.Pid, "yes"},
		{"another process", os.Getpid(), "no"},
	}
	cases = append(cases, struct {
		name string
		pid  int
		want string
	}{"netdata that exited, not reaped (a zombie)", netdataZombie(t, bin), "no"})
	if tid := netdataThread(t); tid != 0 {
		cases = append(cases, struct {
			name string
			pid  int
			want string
		}{"a thread named netdata of another process", tid, "no"})
	}
	for _, c := range cases {
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

// netdataThread starts a process (python3) with a thread named netdata
// and returns that thread's id, stopped at the end of the test; 0 (the
// case is left out) without python3.
func netdataThread(t *testing.T) int {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Log("no python3: the thread case is left out")
		return 0
	}
	const prog = `import ctypes, sys, threading
def named():
    ctypes.CDLL(None).prctl(15, b"netdata", 0, 0, 0)
    print(threading.get_native_id(), flush=True)
    sys.stdin.read()
th = threading.Thread(target=named)
th.start()
th.join()
`
	cmd := exec.Command(py, "-c", prog)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); cmd.Wait() })
	var tid int
	if _, err := fmt.Fscan(out, &tid); err != nil {
		t.Fatalf("python3: no thread id: %v", err)
	}
	return tid
}

// netdataZombie starts bin (named netdata) and lets it exit without
// reaping it until the test ends: a zombie named netdata.
func netdataZombie(t *testing.T, bin string) int {
	t.Helper()
	z := exec.Command(bin)
	in, err := z.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := z.Start(); err != nil {
		t.Fatal(err)
	}
	in.Close()
	t.Cleanup(func() { z.Wait() })
	stat := "/proc/" + strconv.Itoa(z.Process.Pid) + "/stat"
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(stat)
		if err == nil && strings.Contains(string(b), ") Z ") {
			return z.Process.Pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not become a zombie: %s %v", bin, b, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
