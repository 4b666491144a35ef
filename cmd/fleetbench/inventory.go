package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fleetclaim/fleetclaim/inventory/invgen"
)

// inventoryMain is `fleetbench inventory`: it writes the same fleet at each
// size in each format (package invgen) and times `fleetclaim inventory check
// --limit` on it, as a child process whose wait4 rusage gives CPU and peak
// RSS.
func inventoryMain(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("fleetbench inventory", flag.ContinueOnError)
	bin := fs.String("fleetclaim", "bin/fleetclaim", "the fleetclaim binary")
	sizes := fs.String("hosts", "1000,10000,100000,1000000", "fleet sizes, comma-separated")
	formats := fs.String("formats", strings.Join(invgen.Formats(), ","), "inventory formats: native, ini, json")
	runs := fs.Int("runs", 5, "runs of each size and format, interleaved")
	limit := fs.String("limit", invgen.Limit, "--limit for every run ('' selects every host)")
	dir := fs.String("dir", "", "work directory (default: a new temporary one, removed at the end)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var ns []int
	for s := range strings.SplitSeq(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < invgen.Groups {
			return fatalf("--hosts: want sizes of at least %d, got %q", invgen.Groups, s)
		}
		ns = append(ns, n)
	}
	fmts := strings.Split(*formats, ",")
	work := *dir
	if work == "" {
		d, err := os.MkdirTemp("", "fleetbench-inv-")
		if err != nil {
			return fatalf("%v", err)
		}
		defer os.RemoveAll(d)
		work = d
	}
	for p, content := range invgen.Files(work) {
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			return fatalf("%v", err)
		}
	}
	fmt.Printf("%-7s %9s %5s %9s %9s %10s %9s  (median [min–max] of %d runs)\n", "format", "hosts", "size", "wall", "cpu", "peak RSS", "per host", *runs)
	for _, n := range ns {
		for _, f := range fmts {
			path := filepath.Join(work, invgen.Name(f, n))
			if err := writeInventory(path, f, n, work); err != nil {
				return fatalf("%v", err)
			}
		}
		res := map[string][]invRun{}
		for r := range *runs {
			for k := range fmts {
				f := fmts[(k+r)%len(fmts)]
				ir, err := checkOnce(ctx, *bin, filepath.Join(work, invgen.Name(f, n)), *limit, work)
				if err != nil {
					return fatalf("%s %d hosts: %v", f, n, err)
				}
				res[f] = append(res[f], ir)
			}
		}
		for _, f := range fmts {
			printInvRuns(f, n, filepath.Join(work, invgen.Name(f, n)), res[f])
		}
		for _, f := range fmts {
			os.Remove(filepath.Join(work, invgen.Name(f, n)))
		}
	}
	return 0
}

func writeInventory(path, format string, n int, dir string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := invgen.Write(f, format, n, dir); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

type invRun struct {
	wall, cpu time.Duration
	maxRSS    int64 // KiB
}

func checkOnce(ctx context.Context, bin, path, limit, home string) (invRun, error) {
	args := []string{"inventory", "check", "-i", path, "-F", "none"}
	if limit != "" {
		args = append(args, "--limit", limit)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "USER=fleet"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	began := time.Now()
	err := cmd.Run()
	r := invRun{wall: time.Since(began)}
	if err != nil {
		return r, fmt.Errorf("%v: %s", err, strings.TrimSpace(out.String()))
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		r.maxRSS = ru.Maxrss
	}
	return r, nil
}

func printInvRuns(format string, n int, path string, runs []invRun) {
	var wall, cpu, rss []float64
	for _, r := range runs {
		wall = append(wall, r.wall.Seconds())
		cpu = append(cpu, r.cpu.Seconds())
		rss = append(rss, float64(r.maxRSS)/1024)
	}
	size := ""
	if st, err := os.Stat(path); err == nil {
		size = fmt.Sprintf("%.0fM", float64(st.Size())/1e6)
	}
	wm, wl, wh := median(wall)
	cm, cl, ch := median(cpu)
	rm, rl, rh := median(rss)
	fmt.Printf("%-7s %9d %5s %7.3f s [%.3f–%.3f] %7.3f s [%.3f–%.3f] %8.1f MB [%.1f–%.1f] %7.0f B/host\n",
		format, n, size, wm, wl, wh, cm, cl, ch, rm, rl, rh, rm*1024*1024/float64(n))
}
