package main

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/fleetclaim/fleetclaim/claim"
)

// renderResults writes the run's machine-readable (or table) output to w.
// jsonl was already streamed host by host.
func renderResults(w io.Writer, format, command string, results []claim.Result, elapsed time.Duration) error {
	switch format {
	case "table":
		renderTable(w, results)
	case "json":
		e := json.NewEncoder(w)
		e.SetIndent("", "  ")
		return e.Encode(results)
	case "junit":
		return writeJUnit(w, command, results, elapsed)
	case "markdown":
		writeMarkdown(w, command, results, elapsed)
	}
	return nil
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

// writeJUnit writes one testsuite per run and one testcase per host, which
// GitLab, GitHub and Jenkins render.
func writeJUnit(w io.Writer, command string, results []claim.Result, elapsed time.Duration) error {
	suite := junitSuite{Name: "fleetclaim " + command, Time: secs(elapsed), Timestamp: time.Now().UTC().Format("2006-01-02T15:04:05")}
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
			tc.Failure = &junitFailure{Message: "[" + r.Category + "] " + oneLine(r.Message, 200), Type: r.Category, Text: text}
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

// writeMarkdown writes a summary for $GITHUB_STEP_SUMMARY and merge requests.
func writeMarkdown(w io.Writer, command string, results []claim.Result, elapsed time.Duration) {
	counts := map[claim.Status]int{}
	byCat := map[string][]claim.Result{}
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
	cats := make([]string, 0, len(byCat))
	for c := range byCat {
		cats = append(cats, c)
	}
	sort.Strings(cats)
	fmt.Fprint(w, "\n### Problems\n\n")
	for _, c := range cats {
		rs := byCat[c]
		fmt.Fprintf(w, "**%s** (%d)", c, len(rs))
		if rem := claim.Remedy(c); rem != "" {
			fmt.Fprintf(w, ": %s", mdEscape(rem))
		}
		fmt.Fprintln(w)
		fmt.Fprintln(w)
		for i, r := range rs {
			if i == 20 {
				fmt.Fprintf(w, "- … and %d more\n", len(rs)-20)
				break
			}
			fmt.Fprintf(w, "- `%s`: %s\n", r.Host, mdEscape(oneLine(r.Message, 200)))
		}
		fmt.Fprintln(w)
	}
}

func mdEscape(s string) string {
	r := strings.NewReplacer("|", "\\|", "<", "&lt;", ">", "&gt;", "`", "'")
	return r.Replace(s)
}

var allStatuses = []claim.Status{claim.StatusClaimed, claim.StatusAlreadyClaimed, claim.StatusReclaimed, claim.StatusPlanned, claim.StatusSkipped, claim.StatusFailed, claim.StatusNotStarted}
