package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// withProfiles runs f with the profiles that FLEETCLAIM_CPUPROFILE and
// FLEETCLAIM_MEMPROFILE (file paths) ask for: the CPU profile of the whole
// run and the allocation profile at its end. `fleetbench --cpuprofile` and
// `--memprofile` set them; see BENCHMARKS.md.
func withProfiles(f func() int) int {
	cpu, mem := os.Getenv("FLEETCLAIM_CPUPROFILE"), os.Getenv("FLEETCLAIM_MEMPROFILE")
	if cpu != "" {
		out, err := os.Create(cpu)
		if err != nil {
			fmt.Fprintf(os.Stderr, "fleetclaim: FLEETCLAIM_CPUPROFILE: %v\n", err)
			return exitUsage
		}
		defer out.Close()
		if err := pprof.StartCPUProfile(out); err != nil {
			fmt.Fprintf(os.Stderr, "fleetclaim: FLEETCLAIM_CPUPROFILE: %v\n", err)
			return exitUsage
		}
		defer pprof.StopCPUProfile()
	}
	if mem != "" {
		defer func() {
			out, err := os.Create(mem)
			if err != nil {
				fmt.Fprintf(os.Stderr, "fleetclaim: FLEETCLAIM_MEMPROFILE: %v\n", err)
				return
			}
			defer out.Close()
			runtime.GC()
			if err := pprof.Lookup("allocs").WriteTo(out, 0); err != nil {
				fmt.Fprintf(os.Stderr, "fleetclaim: FLEETCLAIM_MEMPROFILE: %v\n", err)
			}
		}()
	}
	return f()
}
