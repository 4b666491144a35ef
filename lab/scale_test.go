package lab

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// procCPU returns a process's own CPU time and that of its reaped children
// (the shells and helpers its SSH hosts ran), from /proc/PID/stat.
func procCPU(t *testing.T, pid int) (self, children time.Duration) {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	tick := func(i int) time.Duration {
		v, _ := strconv.ParseInt(f[i], 10, 64)
		return time.Duration(v) * 10 * time.Millisecond // USER_HZ = 100
	}
	// Fields after the command name: state is f[0], so utime is f[11].
	return tick(11) + tick(12), tick(13) + tick(14)
}

// TestScaleClaim is a measurement, not a check: with FLEETCLAIM_LAB_SCALE=N
// it starts a detached lab of N hosts, claims every host the way a v2 client
// does (one SSH connection, one exec that writes claim.conf and reloads), and
// logs the lab process's CPU per claim.
func TestScaleClaim(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("FLEETCLAIM_LAB_SCALE"))
	if n == 0 {
		t.Skip("set FLEETCLAIM_LAB_SCALE=N to measure a lab of N hosts")
	}
	dir := shortTempDir(t)
	exe := testExe(t)
	began := time.Now()
	args := []string{"up", "--hosts", strconv.Itoa(n), "--dir", dir}
	if p := os.Getenv("FLEETCLAIM_LAB_CPUPROFILE"); p != "" {
		args = append(args, "--cpuprofile", p)
	}
	out, err := exec.Command(exe, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("up: %v\n%s", err, out)
	}
	t.Logf("lab up: %d hosts in %s", n, time.Since(began).Round(time.Millisecond))
	defer exec.Command(exe, "down", "--dir", dir).Run()
	info, err := ReadInfo(dir)
	if err != nil {
		t.Fatal(err)
	}
	token, _ := info.Token()
	ca, _ := os.ReadFile(info.CAFile())
	self0, child0 := procCPU(t, info.PID)
	began = time.Now()
	work := make(chan HostInfo)
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := 0
	for range 50 {
		wg.Go(func() {
			for h := range work {
				c, err := dialErr(info, h.Name)
				if err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
					continue
				}
				s, _ := c.NewSession()
				s.Stdin = strings.NewReader(string(ca))
				script := fmt.Sprintf(`set -e; d=opt/netdata/var/lib/netdata/cloud.d; mkdir -p $d; cat > $d/cloud_fullchain.pem
umask 077; printf '[global]\n    url = %s\n    token = %s\n    rooms = %s\n' > opt/netdata/etc/netdata/claim.conf.tmp
mv opt/netdata/etc/netdata/claim.conf.tmp opt/netdata/etc/netdata/claim.conf
opt/netdata/bin/netdatacli reload-claiming-state`, info.CloudURL, token, info.RoomID("staging"))
				o, err := s.Output(script)
				s.Close()
				c.Close()
				if err != nil || !strings.Contains(string(o), "currently online") {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			}
		})
	}
	for _, h := range info.Hosts {
		work <- h
	}
	close(work)
	wg.Wait()
	wall := time.Since(began)
	self1, child1 := procCPU(t, info.PID)
	claims, err := info.Claims(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("claimed %d/%d hosts in %s (%d failed); lab process CPU %.2f ms/claim, host-side commands (sh + netdatacli helper) %.2f ms/claim",
		len(claims), n, wall.Round(time.Millisecond), failed,
		float64(self1-self0)/float64(time.Millisecond)/float64(n), float64(child1-child0)/float64(time.Millisecond)/float64(n))
	if len(claims) != n {
		t.Errorf("lab Cloud has %d claims, want %d", len(claims), n)
	}
}
