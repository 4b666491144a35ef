package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/fleetclaim/fleetclaim/claim"
)

// The outputs of a run as fleetclaim rendered them while it kept every
// record in memory (a slice, text/tabwriter, one xml.Encoder.Encode and
// json.Encoder.Encode of the whole run). The streaming renderers must give
// the same bytes for the same records.

func legacyTable(w io.Writer, results []claim.Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tGROUP\tSTATUS\tMETHOD\tDETAIL")
	for _, r := range results {
		detail := r.Message
		if r.Category != "" {
			detail = "[" + string(r.Category) + "] " + detail
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", termText(r.Host), termText(strings.Join(r.Groups, ",")), termText(string(r.Status)), termText(r.Method), termLine(detail, 120))
	}
	tw.Flush()
}

func legacyJSON(w io.Writer, results []claim.Result) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(results)
}

func legacySummary(w io.Writer, results []claim.Result) {
	counts := map[claim.Status]int{}
	byCat := map[claim.Category][]string{}
	for _, r := range results {
		counts[r.Status]++
		if r.Category != "" {
			byCat[r.Category] = append(byCat[r.Category], termText(r.Host))
		}
	}
	var parts []string
	for _, s := range allStatuses {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	fmt.Fprintf(w, "%d hosts: %s\n", len(results), strings.Join(parts, ", "))
	cats := make([]claim.Category, 0, len(byCat))
	for c := range byCat {
		cats = append(cats, c)
	}
	slices.Sort(cats)
	for _, c := range cats {
		hosts := byCat[c]
		list := strings.Join(hosts, ", ")
		if len(hosts) > 10 {
			list = strings.Join(hosts[:10], ", ") + fmt.Sprintf(" and %d more", len(hosts)-10)
		}
		fmt.Fprintf(w, "  %s (%d): %s\n", termText(string(c)), len(hosts), list)
		if rem := claim.Remedy(c); rem != "" {
			fmt.Fprintf(w, "    remedy: %s\n", rem)
		}
	}
}

func legacyCloudSummary(w io.Writer, results []claim.Result) {
	confirmed, missing := 0, 0
	for _, r := range results {
		switch {
		case r.Cloud != nil && r.Cloud.Confirmed:
			confirmed++
		case r.Category == claim.CatCloudMissing:
			missing++
		}
	}
	line := fmt.Sprintf("%d/%d nodes confirmed by Cloud", confirmed, len(results))
	if missing > 0 {
		line += fmt.Sprintf(" (%d claimed but missing in Cloud: see category %s)", missing, claim.CatCloudMissing)
	}
	fmt.Fprintln(w, strings.TrimSpace(line))
}

func legacyRetry(results []claim.Result) string {
	var b strings.Builder
	for _, r := range results {
		if !r.Status.OK() {
			b.WriteString(r.Host)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func legacyJUnit(w io.Writer, command string, results []claim.Result, elapsed time.Duration, now time.Time) error {
	suite := junitSuite{Name: "fleetclaim " + command, Time: secs(elapsed), Timestamp: now.UTC().Format("2006-01-02T15:04:05")}
	for _, r := range results {
		class := "fleetclaim"
		if len(r.Groups) > 0 {
			class += "." + r.Groups[0]
		}
		tc := junitCase{Name: r.Host, Classname: class, Time: secs(r.End.Sub(r.Start)),
			SystemOut: fmt.Sprintf("status: %s\nmethod: %s\nmessage: %s\nattempts: %d", r.Status, r.Method, r.Message, r.Attempts)}
		switch {
		case r.Status == claim.StatusNotStarted:
			tc.Skipped = &junitSkipped{Message: r.Message}
			suite.Skipped++
		case !r.Status.OK():
			text := r.Message
			if r.Remedy != "" {
				text += "\nremedy: " + r.Remedy
			}
			tc.Failure = &junitFailure{Message: "[" + string(r.Category) + "] " + oneLine(r.Message, 200), Type: string(r.Category), Text: text}
			suite.Failures++
		}
		suite.Cases = append(suite.Cases, tc)
		suite.Tests++
	}
	doc := junitSuites{Name: "fleetclaim", Tests: suite.Tests, Failures: suite.Failures, Skipped: suite.Skipped, Time: suite.Time, Suites: []junitSuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	e := xml.NewEncoder(w)
	e.Indent("", "  ")
	if err := e.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func legacyMarkdown(w io.Writer, command string, results []claim.Result, elapsed time.Duration) {
	counts := map[claim.Status]int{}
	byCat := map[claim.Category][]claim.Result{}
	for _, r := range results {
		counts[r.Status]++
		if r.Category != "" {
			byCat[r.Category] = append(byCat[r.Category], r)
		}
	}
	fmt.Fprintf(w, "## fleetclaim %s: %d hosts in %s\n\n", command, len(results), elapsed.Round(time.Second))
	fmt.Fprintln(w, "| status | hosts |")
	fmt.Fprintln(w, "|---|---:|")
	for _, s := range allStatuses {
		if counts[s] > 0 {
			fmt.Fprintf(w, "| %s | %d |\n", s, counts[s])
		}
	}
	if len(byCat) == 0 {
		return
	}
	cats := make([]claim.Category, 0, len(byCat))
	for c := range byCat {
		cats = append(cats, c)
	}
	slices.Sort(cats)
	fmt.Fprint(w, "\n### Problems\n\n")
	for _, c := range cats {
		rs := byCat[c]
		fmt.Fprintf(w, "**%s** (%d)", mdText(string(c)), len(rs))
		if rem := claim.Remedy(c); rem != "" {
			fmt.Fprintf(w, ": %s", mdText(rem))
		}
		fmt.Fprintln(w)
		fmt.Fprintln(w)
		for i, r := range rs {
			if i == 20 {
				fmt.Fprintf(w, "- … and %d more\n", len(rs)-20)
				break
			}
			fmt.Fprintf(w, "- %s: %s\n", mdCode(r.Host), mdText(oneLine(r.Message, 200)))
		}
		fmt.Fprintln(w)
	}
}

// fixtureRecords is a run of n hosts with every status, categories past the
// summary's 10 and the markdown's 20 names, non-ASCII names and groups, no
// groups, messages to cut (a multi-byte rune at the cut), white space and
// markup in messages, Cloud checks, times in two zones.
func fixtureRecords(n int) []claim.Result {
	names := []string{"web01", "bücher-ß", "数据库-東京", "🚀rocket", "a", "very-long-host-name-for-the-table.example.org", "ñ"}
	groups := [][]string{{"web"}, nil, {"dbs", "eu"}, {"ünïcode"}, {}}
	statuses := []claim.Status{claim.StatusClaimed, claim.StatusFailed, claim.StatusAlreadyClaimed, claim.StatusFailed, claim.StatusNotStarted, claim.StatusReclaimed, claim.StatusPlanned, claim.StatusSkipped}
	cats := []claim.Category{claim.CatTokenRejected, claim.CatTimeout, "a-category-of-a-file", claim.CatCloudMissing}
	start := time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.UTC)
	cet := time.FixedZone("", 3600)
	out := make([]claim.Result, n)
	for i := range out {
		st := statuses[i%len(statuses)]
		r := claim.Result{
			Host:     fmt.Sprintf("%s-%d", names[i%len(names)], i),
			Address:  fmt.Sprintf("10.0.%d.%d", i/250, i%250),
			Groups:   groups[i%len(groups)],
			Status:   st,
			Method:   []string{"claim.conf", "kickstart", "", "netdatacli"}[i%4],
			Attempts: 1 + i%3,
			Start:    start.Add(time.Duration(i) * time.Second),
			End:      start.Add(time.Duration(i)*time.Second + time.Duration(i*7919)*time.Microsecond),
			Steps:    []claim.Step{{Name: "connect", Millis: int64(i)}, {Name: "probe", Millis: 3}},
			Plan:     []string{"write claim.conf", "restart <agent> & wait"},
		}
		if i%5 == 0 {
			r.Start, r.End = r.Start.In(cet), r.End.In(cet)
		}
		if !st.OK() {
			r.Category = cats[i%len(cats)]
			r.Remedy = claim.Remedy(r.Category)
			r.Message = strings.Repeat("x", 110+i%15) + "é ü\ttab\nnewline <b>|`</b> & done " + strings.Repeat("日本", i%7)
		} else if i%3 == 0 {
			r.Message = "claimed   and\tonline"
			on := true
			r.Online = &on
			r.Cloud = &claim.CloudCheck{Confirmed: i%2 == 0}
		}
		out[i] = r
	}
	return out
}

// spoolOf puts records in a spool in a scrambled completion order.
func spoolOf(t *testing.T, results []claim.Result) *spool {
	t.Helper()
	s, err := newSpool(len(results))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.close() })
	for k := range results {
		i := (k*7 + 3) % len(results) // 7 and the sizes used are coprime
		line, err := encodeLine(results[i])
		if err != nil {
			t.Fatal(err)
		}
		s.add(i, line)
	}
	return s
}

func TestStreamingRenderersMatchTheWholeRunOnes(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	elapsed := 83*time.Second + 400*time.Millisecond
	formats := []struct {
		name   string
		legacy func(w io.Writer, rs []claim.Result) error
		now    func(w io.Writer, recs hostRecords) error
	}{
		{"table", func(w io.Writer, rs []claim.Result) error { legacyTable(w, rs); return nil }, func(w io.Writer, recs hostRecords) error { return renderTable(w, recs) }},
		{"json", legacyJSON, writeJSON},
		{"junit", func(w io.Writer, rs []claim.Result) error { return legacyJUnit(w, "claim", rs, elapsed, now) },
			func(w io.Writer, recs hostRecords) error { return writeJUnitAt(w, "claim", recs, elapsed, now) }},
		{"markdown", func(w io.Writer, rs []claim.Result) error { legacyMarkdown(w, "reconcile", rs, elapsed); return nil },
			func(w io.Writer, recs hostRecords) error { return writeMarkdown(w, "reconcile", recs, elapsed) }},
		{"summary", func(w io.Writer, rs []claim.Result) error { legacySummary(w, rs); return nil }, printSummary},
		{"cloud", func(w io.Writer, rs []claim.Result) error { legacyCloudSummary(w, rs); return nil }, printCloudSummary},
		{"retry", func(w io.Writer, rs []claim.Result) error { _, err := io.WriteString(w, legacyRetry(rs)); return err },
			func(w io.Writer, recs hostRecords) error {
				path := filepath.Join(t.TempDir(), "retry.txt")
				if err := writeRetryFile(path, recs); err != nil {
					return err
				}
				b, err := os.ReadFile(path)
				w.Write(b)
				return err
			}},
	}
	tabbed := fixtureRecords(9)
	tabbed[4].Host = "tab\there" // escaped: tabwriter's columns stay as they are
	runs := []struct {
		name    string
		records []claim.Result
	}{
		{"one host", fixtureRecords(1)},
		{"all kinds", fixtureRecords(61)},
		{"many of a category", fixtureRecords(230)},
		{"tab in a name", tabbed},
		{"empty", []claim.Result{}},
	}
	for _, run := range runs {
		for _, f := range formats {
			t.Run(run.name+"/"+f.name, func(t *testing.T) {
				var want bytes.Buffer
				if err := f.legacy(&want, run.records); err != nil {
					t.Fatal(err)
				}
				sources := []struct {
					name string
					recs hostRecords
				}{{"slice", resultList(run.records)}}
				if len(run.records) > 0 {
					sources = append(sources, struct {
						name string
						recs hostRecords
					}{"spool", spoolOf(t, run.records)})
				}
				for _, src := range sources {
					var got bytes.Buffer
					if err := f.now(&got, src.recs); err != nil {
						t.Fatalf("%s: %v", src.name, err)
					}
					if !bytes.Equal(got.Bytes(), want.Bytes()) {
						t.Errorf("%s: output differs from the whole-run renderer\n got:\n%s\nwant:\n%s", src.name, got.Bytes(), want.Bytes())
					}
				}
			})
		}
	}
	// A results file with no record: "null", as json.Encoder says of a nil slice.
	var got, want bytes.Buffer
	writeJSON(&got, resultList(nil))
	legacyJSON(&want, nil)
	if got.String() != want.String() {
		t.Errorf("nil records: %q, want %q", got.String(), want.String())
	}
}

func TestSpoolReadsBackInHostOrder(t *testing.T) {
	cases := []struct {
		name  string
		hosts int
		skip  map[int]bool // positions that never get a record
	}{
		{"one", 1, nil},
		{"many", 97, nil},
		{"holes", 10, map[int]bool{0: true, 4: true, 9: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			recs := fixtureRecords(c.hosts)
			s, err := newSpool(c.hosts)
			if err != nil {
				t.Fatal(err)
			}
			// The file is private and already unlinked: nothing to leave behind.
			st, err := s.f.(*os.File).Stat()
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("spool mode %v, want 0600", st.Mode().Perm())
			}
			if _, err := os.Stat(s.f.Name()); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("spool file %s still has a name: %v", s.f.Name(), err)
			}
			for k := c.hosts - 1; k >= 0; k-- { // completion order: last host first
				if c.skip[k] {
					continue
				}
				line, _ := encodeLine(recs[k])
				s.add(k, line)
			}
			var got []string
			err = s.each(func(r *claim.Result) error {
				got = append(got, r.Host)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for i, r := range recs {
				if !c.skip[i] {
					want = append(want, r.Host)
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("order %v, want %v", got, want)
			}
			var raws [][]byte
			s.eachJSON(func(b []byte) error { raws = append(raws, append([]byte(nil), b...)); return nil })
			for k, b := range raws {
				var r claim.Result
				if err := json.Unmarshal(b, &r); err != nil || r.Host != want[k] {
					t.Fatalf("raw record %d: %v %q", k, err, b)
				}
			}
			if err := s.close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// failingFile takes ok bytes, then writes half of the next line and fails.
type failingFile struct {
	*os.File
	ok int64
}

func (f *failingFile) WriteAt(b []byte, off int64) (int, error) {
	if off+int64(len(b)) > f.ok {
		n, _ := f.File.WriteAt(b[:len(b)/2], off)
		return n, errors.New("no space left on device")
	}
	return f.File.WriteAt(b, off)
}

// A spool whose file fails (a full disk) or that has no file at all keeps
// the records in memory: every host still has its record, in order.
func TestSpoolKeepsRecordsTheFileCannotTake(t *testing.T) {
	recs := fixtureRecords(12)
	cases := []struct {
		name  string
		setup func(t *testing.T) *spool
		err   bool
	}{
		{"disk full after 3 records", func(t *testing.T) *spool {
			s, err := newSpool(len(recs))
			if err != nil {
				t.Fatal(err)
			}
			var ok int64
			for _, r := range recs[:3] {
				line, _ := encodeLine(r)
				ok += int64(len(line))
			}
			s.f = &failingFile{File: s.f.(*os.File), ok: ok}
			return s
		}, true},
		{"no temporary directory", func(t *testing.T) *spool {
			t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing"))
			s, err := newSpool(len(recs))
			if err == nil || s == nil || s.f != nil {
				t.Fatalf("newSpool without a temporary directory: %v", err)
			}
			return s
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := c.setup(t)
			for i, r := range recs {
				line, _ := encodeLine(r)
				s.add(i, line)
			}
			var got bytes.Buffer
			if err := writeJSON(&got, s); err != nil {
				t.Fatal(err)
			}
			var want bytes.Buffer
			legacyJSON(&want, recs)
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Fatalf("records differ after the file failed:\n%s", got.Bytes())
			}
			if err := s.close(); (err != nil) != c.err {
				t.Fatalf("close: %v, want an error: %v", err, c.err)
			}
		})
	}
}

// `fleetclaim report` renders a results file through a spool: the same
// bytes as the whole-file renderers, whatever the file's spelling, a torn
// last line skipped, the exit code from the statuses.
func TestReportStreamsTheResultsFile(t *testing.T) {
	recs := fixtureRecords(45)
	var file bytes.Buffer
	for i, r := range recs {
		line, _ := encodeLine(r)
		if i%2 == 0 { // another writer's spelling: indented, a field fleetclaim does not know
			var ind bytes.Buffer
			json.Indent(&ind, line[:len(line)-1], "", " ")
			line = append(bytes.ReplaceAll(ind.Bytes(), []byte("\n"), nil), []byte("\n")...)
			line = append([]byte(`{"extra":1,`), line[1:]...)
		}
		file.Write(line)
		if i == 7 {
			file.WriteString("\n")
		}
	}
	file.WriteString(`{"host":"torn","sta`)
	path := filepath.Join(t.TempDir(), "results.jsonl")
	if err := os.WriteFile(path, file.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	okOnly := filepath.Join(t.TempDir(), "ok.jsonl")
	line, _ := encodeLine(recs[0])
	os.WriteFile(okOnly, line, 0o600)
	empty := filepath.Join(t.TempDir(), "empty.jsonl")
	os.WriteFile(empty, nil, 0o600)

	cases := []struct {
		path   string
		format string
		recs   []claim.Result
		code   int
		legacy func(w io.Writer, rs []claim.Result)
	}{
		{path, "table", recs, exitFailed, legacyTable},
		{path, "json", recs, exitFailed, func(w io.Writer, rs []claim.Result) { legacyJSON(w, rs) }},
		{path, "markdown", recs, exitFailed, nil},
		{okOnly, "json", recs[:1], exitOK, func(w io.Writer, rs []claim.Result) { legacyJSON(w, rs) }},
		{empty, "json", nil, exitOK, func(w io.Writer, rs []claim.Result) { legacyJSON(w, rs) }},
		{empty, "table", nil, exitOK, legacyTable},
	}
	for _, c := range cases {
		t.Run(filepath.Base(c.path)+"/"+c.format, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := runReport([]string{"--results", c.path, "--output", c.format, "--command", "verify"}, &stdout, &stderr)
			if code != c.code {
				t.Fatalf("exit %d, want %d\n%s", code, c.code, stderr.String())
			}
			var want bytes.Buffer
			if c.legacy != nil {
				c.legacy(&want, c.recs)
			} else {
				first, last := c.recs[0].Start, c.recs[0].End
				for _, r := range c.recs {
					if r.Start.Before(first) {
						first = r.Start
					}
					if r.End.After(last) {
						last = r.End
					}
				}
				legacyMarkdown(&want, "verify", c.recs, last.Sub(first))
			}
			if !bytes.Equal(stdout.Bytes(), want.Bytes()) {
				t.Errorf("report output differs\n got:\n%s\nwant:\n%s", stdout.Bytes(), want.Bytes())
			}
		})
	}
}

// TestTallyInFinishingOrder: a run counts its summaries as hosts finish, in
// any order; the summary and the Cloud line are those of the records read
// back in host order.
func TestTallyInFinishingOrder(t *testing.T) {
	results := fixtureRecords(300)
	var want bytes.Buffer
	legacySummary(&want, results)
	legacyCloudSummary(&want, results)
	for _, seed := range []uint64{1, 2, 3} {
		tally := newTally(summaryHosts, summaryItem)
		for _, i := range rand.New(rand.NewPCG(seed, 0)).Perm(len(results)) {
			tally.add(i, &results[i])
		}
		var got bytes.Buffer
		printTally(&got, tally)
		printCloudTally(&got, tally)
		if got.String() != want.String() {
			t.Fatalf("seed %d: finishing order gave\n%s\nhost order gives\n%s", seed, got.String(), want.String())
		}
	}
}
