package main

import (
	"bufio"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fleetclaim/fleetclaim/claim"
)

// retryRefreshEvery is how often, at most, the retry file is rewritten
// while a run goes on.
const retryRefreshEvery = time.Second

// retryFileMode is the retry file's mode: host names, as the inventory.
const retryFileMode = 0o644

// retryFile is --retry-file: the hosts of this run that have not ended
// well, for --limit @FILE. Like Ansible's .retry file it describes the last
// run only, and at every moment: when the run starts it is replaced by
// every selected host (none has ended well yet); while the run goes on, at
// most every retryRefreshEvery, by those that have not ended well so far
// (failed or not finished); at the end by the final list. Each version
// replaces the last atomically (a temporary file renamed over it), so a run
// killed with -9 leaves a whole file of its own, never an earlier run's,
// and --limit @FILE then finishes its work.
type retryFile struct {
	path  string
	hosts []string

	mu    sync.Mutex
	ok    []bool
	dirty bool
	stop  chan struct{}
	done  chan struct{}
}

// startRetryFile writes the run's first retry file (nil when path is "").
// names are the run's hosts, in order.
func startRetryFile(path string, names []string) (*retryFile, error) {
	if path == "" {
		return nil, nil
	}
	rf := &retryFile{path: path, hosts: names, ok: make([]bool, len(names)),
		stop: make(chan struct{}), done: make(chan struct{})}
	if err := rf.write(); err != nil {
		return nil, err
	}
	go rf.refreshLoop()
	return rf, nil
}

// ended records that host i ended, well or not (nil-safe).
func (rf *retryFile) ended(i int, ok bool) {
	if rf == nil || i < 0 || i >= len(rf.ok) {
		return
	}
	rf.mu.Lock()
	rf.ok[i] = ok
	rf.dirty = rf.dirty || ok
	rf.mu.Unlock()
}

func (rf *retryFile) refreshLoop() {
	defer close(rf.done)
	t := time.NewTicker(retryRefreshEvery)
	defer t.Stop()
	for {
		select {
		case <-rf.stop:
			return
		case <-t.C:
			rf.mu.Lock()
			dirty := rf.dirty
			rf.dirty = false
			rf.mu.Unlock()
			if dirty {
				_ = rf.write() // the final write reports errors
			}
		}
	}
}

// write replaces the file with the hosts not ended well so far.
func (rf *retryFile) write() error {
	rf.mu.Lock()
	var names []string
	for i, ok := range rf.ok {
		if !ok {
			names = append(names, rf.hosts[i])
		}
	}
	rf.mu.Unlock()
	return replaceFile(rf.path, retryFileMode, func(w *bufio.Writer) error {
		for _, n := range names {
			w.WriteString(n)
			w.WriteByte('\n')
		}
		return nil
	})
}

// finish stops the refreshes and writes the final list from the run's
// records, in output order (nil-safe).
func (rf *retryFile) finish(recs hostRecords) error {
	if rf == nil {
		return nil
	}
	close(rf.stop)
	<-rf.done
	return writeRetryFile(rf.path, recs)
}

// writeRetryFile replaces path with the hosts of recs that did not end
// well, one per line, for --limit @FILE.
func writeRetryFile(path string, recs hostRecords) error {
	return replaceFile(path, retryFileMode, func(w *bufio.Writer) error {
		return recs.each(func(r *claim.Result) error {
			if !r.Status.OK() {
				w.WriteString(r.Host)
				w.WriteByte('\n')
			}
			return nil
		})
	})
}

// replaceFile atomically replaces path with what fill writes: a temporary
// file in the same directory, synced and renamed over it (a symbolic link
// at path is replaced, never followed).
func replaceFile(path string, mode os.FileMode, fill func(w *bufio.Writer) error) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, there is nothing left to remove
	bw := bufio.NewWriter(tmp)
	err = fill(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	return err
}
