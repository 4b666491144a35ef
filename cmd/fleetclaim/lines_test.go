package main

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestJSONLinesReportsWriteErrors: a record that cannot be written (a full
// disk) is an error of the file, which close returns; the first one is
// reported at once.
func TestJSONLinesReportsWriteErrors(t *testing.T) {
	f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/full:", err)
	}
	var reported []error
	l := newJSONLines(f, func(err error) { reported = append(reported, err) })
	l.write([]byte("{\"host\":\"a\"}\n"))
	l.write([]byte("{\"host\":\"b\"}\n"))
	err = l.close()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("close: %v, want the write's ENOSPC", err)
	}
	if len(reported) != 1 || !errors.Is(reported[0], syscall.ENOSPC) {
		t.Fatalf("reported %v, want the first ENOSPC once", reported)
	}
}

// TestJSONLinesSyncsAndCloses: records written to a regular file are all
// there after close, which reports no error; a file that cannot be synced
// (a pipe, a terminal: --results /dev/stdout) is not an error.
func TestJSONLinesSyncsAndCloses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	l := newJSONLines(f, nil)
	l.write([]byte("{\"host\":\"a\"}\n"))
	l.write([]byte("{\"host\":\"b\"}\n"))
	if err := l.close(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "{\"host\":\"a\"}\n{\"host\":\"b\"}\n" {
		t.Fatalf("file holds %q", b)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go func() {
		buf := make([]byte, 512)
		for {
			if _, err := r.Read(buf); err != nil {
				return
			}
		}
	}()
	l = newJSONLines(w, nil)
	l.write([]byte("{\"host\":\"a\"}\n"))
	l.sync()
	if err := l.close(); err != nil {
		t.Fatalf("a pipe: %v", err)
	}
}
