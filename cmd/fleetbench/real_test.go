package main

import (
	"os"
	"strings"
	"testing"
)

// TestDebugTimings reads a --debug trace captured from a --real v2 run
// (`fleetbench --real v2 --hosts 3 --runs 1 --forks 3 --keep-debug FILE`,
// fleetclaim dev, 2026-12-01):
// each "exit N in D" line belongs to the command its host ran last.
func TestDebugTimings(t *testing.T) {
	b, err := os.ReadFile("testdata/debug-real-v2.log")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(debugTimings(string(b), 3), "\n")
	for _, want := range []string{
		"1.00/host  median     42.0 ms  max     43.0 ms  connected",
		"1.00/host  median    259.0 ms  max    265.0 ms  script of 296 lines in the connection's shell",
		"1.00/host  median  10248.0 ms  max  10366.0 ms  script of 278 lines in the connection's shell",
		"2.00/host  median      0.0 ms  max      0.0 ms  forward to N opened",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}
