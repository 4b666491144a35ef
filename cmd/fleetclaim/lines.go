package main

import (
	"encoding/json"
	"os"
	"sync"
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
type jsonLines struct {
	f     *os.File
	mu    sync.Mutex
	dirty bool
	stop  chan struct{}
	done  chan struct{}
}

func newJSONLines(f *os.File) *jsonLines {
	l := &jsonLines{f: f, stop: make(chan struct{}), done: make(chan struct{})}
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
	_, _ = l.f.Write(line)
	l.dirty = true
	l.mu.Unlock()
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
	if dirty {
		_ = l.f.Sync()
	}
}

// close syncs what is left and closes the file (nil-safe, once).
func (l *jsonLines) close() error {
	if l == nil {
		return nil
	}
	select {
	case <-l.stop:
		return nil
	default:
	}
	close(l.stop)
	<-l.done
	l.sync()
	return l.f.Close()
}
