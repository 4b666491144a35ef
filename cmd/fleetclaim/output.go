package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/fleetclaim/fleetclaim/claim"
)

// hostRecords is a run's host records in output order, handed out one at a
// time so that rendering a run of any size keeps one record in memory: the
// run's spool, or a slice (a results file read back, tests).
type hostRecords interface {
	// each calls fn with every record in order; fn must not keep r.
	each(fn func(r *claim.Result) error) error
	// eachJSON calls fn with every record's json.Marshal encoding, valid
	// during the call.
	eachJSON(fn func(b []byte) error) error
}

// resultList is records held in memory.
type resultList []claim.Result

func (l resultList) each(fn func(r *claim.Result) error) error {
	for i := range l {
		if err := fn(&l[i]); err != nil {
			return err
		}
	}
	return nil
}

func (l resultList) eachJSON(fn func(b []byte) error) error {
	for i := range l {
		b, err := json.Marshal(&l[i])
		if err != nil {
			return err
		}
		if err := fn(jsonSafe(b)); err != nil {
			return err
		}
	}
	return nil
}

// renderResults writes the run's machine-readable (or table) output to w.
// jsonl was already streamed host by host.
func renderResults(w io.Writer, format, command string, recs hostRecords, elapsed time.Duration) error {
	switch format {
	case "table":
		return renderTable(w, recs)
	case "json":
		return writeJSON(w, recs)
	case "junit":
		return writeJUnit(w, command, recs, elapsed)
	case "markdown":
		return writeMarkdown(w, command, recs, elapsed)
	}
	return nil
}

// writeJSON writes the records as one indented JSON array, the bytes
// json.Encoder with SetIndent("", "  ") gives for the whole slice, one
// record at a time: each element is indented on its own (json.Indent, one
// level deeper).
func writeJSON(w io.Writer, recs hostRecords) error {
	if l, ok := recs.(resultList); ok && l == nil {
		_, err := io.WriteString(w, "null\n")
		return err
	}
	bw := bufio.NewWriter(w)
	var elem bytes.Buffer
	n := 0
	err := recs.eachJSON(func(b []byte) error {
		if n == 0 {
			bw.WriteString("[\n  ")
		} else {
			bw.WriteString(",\n  ")
		}
		n++
		elem.Reset()
		if err := json.Indent(&elem, b, "  ", "  "); err != nil {
			return err
		}
		_, err := bw.Write(elem.Bytes())
		return err
	})
	if err != nil {
		return err
	}
	if n == 0 {
		bw.WriteString("[]\n")
	} else {
		bw.WriteString("\n]\n")
	}
	return bw.Flush()
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

func secs(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// junitCaseOf is a record's testcase.
func junitCaseOf(r *claim.Result) junitCase {
	class := "fleetclaim"
	if len(r.Groups) > 0 {
		class += "." + r.Groups[0]
	}
	tc := junitCase{Name: r.Host, Classname: class, Time: secs(r.End.Sub(r.Start)),
		SystemOut: fmt.Sprintf("status: %s\nmethod: %s\nmessage: %s\nattempts: %d", r.Status, r.Method, r.Message, r.Attempts)}
	switch {
	case r.Status == claim.StatusNotStarted:
		tc.Skipped = &junitSkipped{Message: r.Message}
	case !r.Status.OK():
		text := r.Message
		if r.Remedy != "" {
			text += "\nremedy: " + r.Remedy
		}
		tc.Failure = &junitFailure{Message: "[" + string(r.Category) + "] " + oneLine(r.Message, 200), Type: string(r.Category), Text: text}
	}
	return tc
}

// writeJUnit writes one testsuite per run and one testcase per host, which
// GitLab, GitHub and Jenkins render.
func writeJUnit(w io.Writer, command string, recs hostRecords, elapsed time.Duration) error {
	return writeJUnitAt(w, command, recs, elapsed, time.Now())
}

// writeJUnitAt is writeJUnit with the suite's timestamp given. The counts
// of the opening tags come from a first pass; the testcases are then
// encoded one at a time by the same encoder (so the document is the one
// xml.Encoder gives for the whole tree at once).
func writeJUnitAt(w io.Writer, command string, recs hostRecords, elapsed time.Duration, now time.Time) error {
	var tests, failures, skipped int
	err := recs.each(func(r *claim.Result) error {
		tests++
		switch {
		case r.Status == claim.StatusNotStarted:
			skipped++
		case !r.Status.OK():
			failures++
		}
		return nil
	})
	if err != nil {
		return err
	}
	attrs := func(kv ...string) []xml.Attr {
		out := make([]xml.Attr, 0, len(kv)/2)
		for i := 0; i < len(kv); i += 2 {
			out = append(out, xml.Attr{Name: xml.Name{Local: kv[i]}, Value: kv[i+1]})
		}
		return out
	}
	count := strconv.Itoa
	total := xml.StartElement{Name: xml.Name{Local: "testsuites"}, Attr: attrs(
		"name", "fleetclaim", "tests", count(tests), "failures", count(failures), "skipped", count(skipped), "time", secs(elapsed))}
	suite := xml.StartElement{Name: xml.Name{Local: "testsuite"}, Attr: attrs(
		"name", "fleetclaim "+command, "tests", count(tests), "failures", count(failures), "skipped", count(skipped), "time", secs(elapsed),
		"timestamp", now.UTC().Format("2006-01-02T15:04:05"))}
	// encoding/xml leaves C1 controls and bidirectional formatting raw
	// (XML allows them): they go out as character references.
	safe := &xmlSafeWriter{w: w}
	w = safe
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	e := xml.NewEncoder(w)
	e.Indent("", "  ")
	if err := e.EncodeToken(total); err != nil {
		return err
	}
	if err := e.EncodeToken(suite); err != nil {
		return err
	}
	testcase := xml.StartElement{Name: xml.Name{Local: "testcase"}}
	err = recs.each(func(r *claim.Result) error {
		return e.EncodeElement(junitCaseOf(r), testcase)
	})
	if err != nil {
		return err
	}
	if err := e.EncodeToken(suite.End()); err != nil {
		return err
	}
	if err := e.EncodeToken(total.End()); err != nil {
		return err
	}
	if err := e.Close(); err != nil {
		return err
	}
	if _, err = io.WriteString(w, "\n"); err != nil {
		return err
	}
	return safe.flush()
}

// markdownHosts is how many hosts the markdown lists per category.
const markdownHosts = 20

// writeMarkdown writes a summary for $GITHUB_STEP_SUMMARY and merge
// requests. It keeps counts and the lines it prints, never the records.
func writeMarkdown(w io.Writer, command string, recs hostRecords, elapsed time.Duration) error {
	t, err := tallyRecords(recs, markdownHosts, func(r *claim.Result) string {
		return fmt.Sprintf("- %s: %s\n", mdCode(r.Host), mdText(oneLine(r.Message, 200)))
	})
	if err != nil {
		return err
	}
	total, counts := t.total, t.counts
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "## fleetclaim %s: %d hosts in %s\n\n", command, total, elapsed.Round(time.Second))
	fmt.Fprintln(bw, "| status | hosts |")
	fmt.Fprintln(bw, "|---|---:|")
	for _, s := range allStatuses {
		if counts[s] > 0 {
			fmt.Fprintf(bw, "| %s | %d |\n", s, counts[s])
		}
	}
	if len(t.byCat) == 0 {
		return bw.Flush()
	}
	fmt.Fprint(bw, "\n### Problems\n\n")
	for _, c := range t.cats() {
		cl := t.byCat[c]
		fmt.Fprintf(bw, "**%s** (%d)", mdText(string(c)), cl.n)
		if rem := claim.Remedy(c); rem != "" {
			fmt.Fprintf(bw, ": %s", mdText(rem))
		}
		fmt.Fprintln(bw)
		fmt.Fprintln(bw)
		for _, l := range cl.items {
			bw.WriteString(l.text)
		}
		if cl.n > len(cl.items) {
			fmt.Fprintf(bw, "- … and %d more\n", cl.n-len(cl.items))
		}
		fmt.Fprintln(bw)
	}
	return bw.Flush()
}

var allStatuses = []claim.Status{claim.StatusClaimed, claim.StatusAlreadyClaimed, claim.StatusReclaimed, claim.StatusPlanned, claim.StatusSkipped, claim.StatusFailed, claim.StatusNotStarted,
	claim.StatusUnclaimed, claim.StatusAlreadyUnclaimed}
