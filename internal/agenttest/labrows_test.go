package agenttest

import (
	"strings"
	"sync"
	"testing"

	"github.com/fleetclaim/fleetclaim/lab"
)

// freshOutputs are what the real agents printed in this run of
// TestRealCaptures, by capture path from the repository root
// ("claim/testdata/real/v2.11.0/reload-403.txt").
type freshOutputs struct {
	mu sync.Mutex
	m  map[string]lab.CapturedOutput
}

func newFreshOutputs() *freshOutputs { return &freshOutputs{m: map[string]lab.CapturedOutput{}} }

// put records one output of the agent whose captures are in version's
// directory.
func (f *freshOutputs) put(version, name string, c Capture) {
	var lines []string
	for _, s := range []string{c.Stdout, c.Stderr} {
		if s != "" {
			lines = append(lines, strings.Split(strings.TrimSuffix(s, "\n"), "\n")...)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m["claim/testdata/real/"+version+"/"+name+".txt"] = lab.CapturedOutput{Exit: c.Exit, Lines: lines}
}

func (f *freshOutputs) get(path string) (lab.CapturedOutput, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.m[path]
	return o, ok
}

// checkLabRows checks the lab's message rows that cite a capture against
// what the real agents printed in this run (not the stored captures): the
// lab's agents say what the real ones say now. A capture this run did not
// produce (an agent that is not installed, a short start-up window) is
// named in the log.
func checkLabRows(t *testing.T, f *freshOutputs) {
	t.Helper()
	f.mu.Lock()
	n := len(f.m)
	f.mu.Unlock()
	if n == 0 {
		t.Log("no real agent ran: the lab's message rows are not checked against real agents")
		return
	}
	c := lab.CheckCaptureRows(f.get)
	for _, p := range c.Problems {
		t.Errorf("the lab says what the real agent did not: %s", p)
	}
	for _, p := range c.Absent {
		t.Logf("lab message rows citing %s: not checked, this run did not produce it", p)
	}
	t.Logf("%d lab message rows checked against the real agents' outputs of this run", c.Checked)
	if c.Checked == 0 {
		t.Error("real agents ran, yet no lab message row was checked against them")
	}
}
