package main

import (
	"errors"
	"fmt"
	"os"
	"sync"
)

// harness is what the real-agent harness (internal/agenttest and
// internal/sshdtest) needs of its caller, outside a test: Fatal and Skip
// end the current step (a panic that try recovers), Cleanup's functions
// run at close, last first.
type harness struct {
	dir      string
	mu       sync.Mutex
	cleanups []func()
	failed   bool
}

// errHarness is the category of a step the harness ended.
var errHarness = errors.New("real-agent harness")

// harnessStop is the panic value of Fatal and Skip.
type harnessStop struct{ msg string }

func (h *harness) Helper() {}

func (h *harness) Cleanup(f func()) {
	h.mu.Lock()
	h.cleanups = append(h.cleanups, f)
	h.mu.Unlock()
}

func (h *harness) Errorf(format string, args ...any) {
	h.mu.Lock()
	h.failed = true
	h.mu.Unlock()
	fmt.Fprintf(os.Stderr, "fleetbench: "+format+"\n", args...)
}

func (h *harness) Fatal(args ...any) { panic(harnessStop{fmt.Sprint(args...)}) }

func (h *harness) Fatalf(format string, args ...any) {
	panic(harnessStop{fmt.Sprintf(format, args...)})
}

func (h *harness) Failed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.failed
}

func (h *harness) Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "fleetbench: "+format+"\n", args...)
}

// Skip: what a test would skip cannot run here either.
func (h *harness) Skip(args ...any) { h.Fatal(args...) }

func (h *harness) Skipf(format string, args ...any) { h.Fatalf(format, args...) }

func (h *harness) TempDir() string {
	d, err := os.MkdirTemp(h.dir, "tmp-")
	if err != nil {
		h.Fatal(err)
	}
	return d
}

// try runs f and returns what ended it early: a Fatal or Skip of the
// harness, as an error.
func (h *harness) try(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s, ok := r.(harnessStop)
			if !ok {
				panic(r)
			}
			h.mu.Lock()
			h.failed = true
			h.mu.Unlock()
			err = fmt.Errorf("%w: %s", errHarness, s.msg)
		}
	}()
	f()
	return nil
}

// close runs the cleanups, last registered first.
func (h *harness) close() {
	h.mu.Lock()
	cs := h.cleanups
	h.cleanups = nil
	h.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		if err := h.try(cs[i]); err != nil {
			fmt.Fprintf(os.Stderr, "fleetbench: cleanup: %v\n", err)
		}
	}
}
