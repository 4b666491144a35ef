package agenttest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// A loaded host starts its agent slowly: the agent forks early (after its
// listening sockets, v1.37.1 daemon/main.c:1461, 1483) and makes its
// command pipe and answers its API only at the end of its initialization
// (commands_init and netdata_ready, main.c:1564-1566; /api/v1/info answers
// 503 until then, web/api/web_api_v1.c:1352). A host with StartCPU gives
// its init script, and so the agent it starts, that share of one CPU
// through a cgroup: the real agent, initializing as slowly as on a host
// whose CPU others use.

// cpuCgroup is a cgroup with a CPU limit that processes join by writing
// their pid to procs.
type cpuCgroup struct {
	dir, procs string
}

// cgroupPeriod is the CPU limit's period, in microseconds.
const cgroupPeriod = 100000

// newCPUCgroup makes a cgroup limited to percent of one CPU (the cpu
// controller of cgroup v2, else v1's), removed in t.Cleanup once empty.
// It skips t when neither can be made.
func newCPUCgroup(t TB, name string, percent int) *cpuCgroup {
	t.Helper()
	quota := cgroupPeriod * percent / 100
	var g *cpuCgroup
	var err error
	switch {
	case hasController("/sys/fs/cgroup/cgroup.controllers", "cpu"):
		g, err = makeCgroup("/sys/fs/cgroup", name, "cpu.max", fmt.Sprintf("%d %d", quota, cgroupPeriod))
	case fileExists("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"):
		g, err = makeCgroup("/sys/fs/cgroup/cpu", name, "cpu.cfs_quota_us", strconv.Itoa(quota))
	default:
		t.Skip("no cpu cgroup controller here: cannot give an agent a share of a CPU")
	}
	if err != nil {
		t.Skipf("cannot make a cpu cgroup: %v", err)
	}
	t.Cleanup(func() { os.Remove(g.dir) })
	return g
}

func makeCgroup(root, name, file, limit string) (*cpuCgroup, error) {
	dir, err := os.MkdirTemp(root, "fleetclaim-agenttest-"+name+"-")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, file), []byte(limit+"\n"), 0o644); err != nil {
		os.Remove(dir)
		return nil, err
	}
	return &cpuCgroup{dir: dir, procs: filepath.Join(dir, "cgroup.procs")}, nil
}

func hasController(file, c string) bool {
	b, err := os.ReadFile(file)
	return err == nil && strings.Contains(" "+strings.TrimSpace(string(b))+" ", " "+c+" ")
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// slowInitMounts puts a wrapper over the host's /etc/init.d/netdata that
// joins g, then runs Debian's init script (a copy in the host's /run, so
// that its "$0 stop; $0 start" restart runs the copy, in g too).
func slowInitMounts(t TB, dir string, g *cpuCgroup) []mount {
	t.Helper()
	orig, err := os.ReadFile("/etc/init.d/netdata")
	if err != nil {
		t.Skipf("no /etc/init.d/netdata to slow down: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "run", "netdata.init"), orig, 0o755); err != nil {
		t.Fatal(err)
	}
	wrapper := "#!/bin/sh\n# agenttest: Debian's init script with a share of one CPU (slowstart.go)\n" +
		"echo $$ > '" + g.procs + "' || exit 1\nexec /run/netdata.init \"$@\"\n"
	w := filepath.Join(dir, "init.d-netdata")
	if err := os.WriteFile(w, []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	return []mount{{w, "/etc/init.d/netdata"}}
}
