package main

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzReadResults: a results file or a run history file is read back by
// `fleetclaim report` and `fleetclaim history` whatever it holds (it may be
// torn by a crash, edited, or not ours): a clear error or records, never a
// panic, and every record renders in every format; JUnit stays valid XML.
func FuzzReadResults(f *testing.F) {
	f.Add([]byte(`{"host":"web01","status":"claimed","attempts":1}` + "\n"))
	f.Add([]byte(`{"host":"a<&\"]]>","status":"failed","category":"x","message":"\u0000\u001b[31m"}` + "\n{\"host\":"))
	f.Add([]byte("\n\n{}\n"))
	f.Add([]byte(`{"host":"h","steps":[{"name":"claim","ms":-1}],"online":true,"start":"2026-01-01T00:00:00Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "run.jsonl")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		recs, err := readResultsFile(path)
		if _, herr := readHostRecords(dir, "run"); herr != nil && err == nil && len(b) < 4<<20 {
			t.Fatalf("history rejects what report reads: %v", herr)
		}
		if err != nil {
			return
		}
		for _, format := range []string{"table", "json", "jsonl", "junit", "markdown"} {
			var out bytes.Buffer
			if err := renderResults(&out, format, "claim", resultList(recs), time.Second); err != nil {
				t.Fatalf("%s: %v", format, err)
			}
			if format == "junit" {
				var doc struct{}
				if err := xml.Unmarshal(out.Bytes(), &doc); err != nil {
					t.Fatalf("junit output is not XML: %v\n%s", err, out.Bytes())
				}
			}
		}
	})
}
