package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/fleetclaim/fleetclaim/claim"
)

// spool keeps a run's host records out of memory until the end of the run:
// each record is appended, as its host finishes, to a private temporary file
// as one JSON line, and the spool remembers only where the line is, by the
// host's position in the run. The final outputs read the records back one
// at a time in that order (the inventory order, as a run always printed
// them), so what a run holds per host is 12 bytes of index instead of its
// ~1.5 KB record.
//
// It is a file of its own rather than the --results file: that one is
// optional, may be a pipe or a device, and anyone may read, move or truncate
// it during the run; the spool is unlinked as soon as it is made, so no copy
// outlives fleetclaim, even killed.
//
// A record the file cannot take (a full disk) is kept in memory instead, so
// every host still ends with one record in every output.
type spool struct {
	f    spoolFile // nil when no temporary file could be made
	end  int64
	off  []int64  // by host position: where the record starts
	size []uint32 // its length without the newline; 0: no record
	mem  map[int][]byte
	// err is the first error of the file, reported once by close.
	err error
	buf []byte
}

// spoolFile is what the spool needs of its file (*os.File; tests give one
// that fails).
type spoolFile interface {
	io.WriterAt
	io.ReaderAt
	io.Closer
	Name() string
}

// newSpool makes the spool of a run of n hosts in the system's temporary
// directory, mode 0600. When that fails, the spool keeps the records in
// memory and says why in err (the run goes on).
func newSpool(n int) (s *spool, err error) {
	s = &spool{off: make([]int64, n), size: make([]uint32, n), mem: map[int][]byte{}}
	f, err := os.CreateTemp("", "fleetclaim-spool-*.jsonl")
	if err != nil {
		return s, fmt.Errorf("spool of the run's records: %w; they are kept in memory", err)
	}
	// CreateTemp makes the file 0600 (a umask only takes bits away): the
	// records carry no secret, but they are nobody else's business. Where
	// an open file cannot be unlinked, close removes it.
	_ = os.Remove(f.Name())
	s.f = f
	return s, nil
}

// add stores host i's record, line being its JSON encoding followed by a
// newline. It is not safe for concurrent use: the fleet calls OnResult one
// host at a time.
func (s *spool) add(i int, line []byte) {
	if i < 0 || i >= len(s.off) || len(line) == 0 {
		return
	}
	rec := line[:len(line)-1]
	if s.f != nil && s.err == nil && int64(len(rec)) < 1<<32-1 {
		n, err := s.f.WriteAt(line, s.end)
		if err == nil {
			s.off[i], s.size[i] = s.end, uint32(len(rec))
			s.end += int64(n)
			delete(s.mem, i)
			return
		}
		// A short write leaves a partial line past s.end, which no offset
		// points at. The file is not tried again.
		s.err = err
	}
	s.mem[i] = append([]byte(nil), rec...)
	s.size[i] = 0
}

// push stores a record at the next position (a results file read back).
func (s *spool) push(line []byte) {
	s.off = append(s.off, 0)
	s.size = append(s.size, 0)
	s.add(len(s.off)-1, line)
}

// len is the number of positions (hosts) of the run.
func (s *spool) len() int { return len(s.off) }

// raw returns host i's record as JSON (valid until the next call), or nil
// when the host has none.
func (s *spool) raw(i int) ([]byte, error) {
	if b, ok := s.mem[i]; ok {
		return b, nil
	}
	n := int(s.size[i])
	if n == 0 {
		return nil, nil
	}
	if cap(s.buf) < n {
		s.buf = make([]byte, n)
	}
	b := s.buf[:n]
	if _, err := s.f.ReadAt(b, s.off[i]); err != nil {
		return nil, fmt.Errorf("spool of the run's records: reading host %d: %w", i+1, err)
	}
	return b, nil
}

// each calls fn with every record in host order, decoded afresh (fn may
// not keep r past the call; nothing else keeps it).
func (s *spool) each(fn func(r *claim.Result) error) error {
	return s.eachJSON(func(b []byte) error {
		var r claim.Result
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("spool of the run's records: %w", err)
		}
		return fn(&r)
	})
}

// eachJSON calls fn with every record's JSON encoding in host order.
func (s *spool) eachJSON(fn func(b []byte) error) error {
	for i := range s.off {
		b, err := s.raw(i)
		if err != nil {
			return err
		}
		if b == nil {
			continue
		}
		if err := fn(b); err != nil {
			return err
		}
	}
	return nil
}

// close removes the file (nil-safe) and returns the first error the file
// had, if any: those records were kept in memory instead.
func (s *spool) close() error {
	if s == nil || s.f == nil {
		return nil
	}
	name := s.f.Name()
	s.f.Close()
	os.Remove(name) // already gone when the unlink at creation worked
	s.f = nil
	return s.err
}
