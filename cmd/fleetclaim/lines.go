package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/fleetclaim/fleetclaim/claim"
)

// linesSyncEvery is how long a finished host's record may wait for its fsync.
const linesSyncEvery = 200 * time.Millisecond

// jsonLines appends one JSON record per finished host to a file (--results,
// the run history). Each record is written as its host finishes, in one
// write, so it survives fleetclaim itself dying; the file is fsynced in the
// background when it has new records, at most every linesSyncEvery, and on
// close. An fsync per host (two files) ran under the engine's result lock:
// ~0.3 ms each on this machine's ext4, more on a laptop's disk, and with
// 10,000 hosts that serialized seconds of the run.
//
// A write or an fsync that fails (a full disk, an I/O error) is kept: the
// first one is told to onError at once, and
// close returns it, so the run ends with an error instead of a results
// file silently missing records.
type jsonLines struct {
	f       *os.File
	onError func(error)
	mu      sync.Mutex
	dirty   bool
	err     error
	stop    chan struct{}
	done    chan struct{}
}

// newJSONLines appends to f; onError (may be nil) hears of the file's
// first write or fsync error.
func newJSONLines(f *os.File, onError func(error)) *jsonLines {
	l := &jsonLines{f: f, onError: onError, stop: make(chan struct{}), done: make(chan struct{})}
	go l.syncLoop()
	return l
}

// encodeLine is a record as one JSON line, as every per-host file and the
// jsonl output hold it: encoded once per host, written to each. What
// encoding/json leaves raw that a terminal would act on is escaped too
// (jsonSafe).
func encodeLine(r claim.Result) ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	return append(jsonSafe(b), '\n'), nil
}

// write appends one line from encodeLine (nil-safe).
func (l *jsonLines) write(line []byte) {
	if l == nil || len(line) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.f.Write(line); err != nil {
		l.failLocked(err)
		return
	}
	l.dirty = true
}

// failLocked keeps the file's first error and reports it; l.mu is held.
func (l *jsonLines) failLocked(err error) {
	if l.err != nil {
		return
	}
	l.err = err
	if l.onError != nil {
		l.onError(err)
	}
}

func (l *jsonLines) syncLoop() {
	defer close(l.done)
	t := time.NewTicker(linesSyncEvery)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.sync()
		}
	}
}

func (l *jsonLines) sync() {
	l.mu.Lock()
	dirty := l.dirty
	l.dirty = false
	l.mu.Unlock()
	if !dirty {
		return
	}
	// A pipe or a terminal (--results /dev/stdout) cannot be synced, and
	// has nothing to lose to a crash of the machine: not an error.
	if err := l.f.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
		l.mu.Lock()
		l.failLocked(fmt.Errorf("sync: %w", err))
		l.mu.Unlock()
	}
}

// close syncs what is left and closes the file (nil-safe, once). It
// returns the file's first error: a write, a sync or the close.
func (l *jsonLines) close() error {
	if l == nil {
		return nil
	}
	select {
	case <-l.stop:
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.err
	default:
	}
	close(l.stop)
	<-l.done
	l.sync()
	err := l.f.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil && err != nil {
		l.err = err
	}
	return l.err
}

// outputWriter is stdout for a run's output: it keeps the first write
// error (a closed pipe, a full disk) and drops what follows it.
type outputWriter struct {
	w   io.Writer
	err error
}

func (o *outputWriter) Write(p []byte) (int, error) {
	if o.err != nil {
		return 0, o.err
	}
	n, err := o.w.Write(p)
	if err != nil {
		o.err = err
	}
	return n, err
}

// write writes p, keeping the error for the end of the run.
func (o *outputWriter) write(p []byte) { _, _ = o.Write(p) }
