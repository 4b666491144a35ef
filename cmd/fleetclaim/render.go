package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/fleetclaim/fleetclaim/claim"
)

// progress shows a run's advance on stderr: a bar on a terminal, one plain
// line per finished host otherwise.
type progress struct {
	w      io.Writer
	bar    *progressbar.ProgressBar
	counts map[claim.Status]int
	start  time.Time
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func newProgress(w io.Writer, total int, allowBar bool) *progress {
	p := &progress{w: w, counts: map[claim.Status]int{}, start: time.Now()}
	if allowBar && isTerminal(w) {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("claiming"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("hosts"),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	return p
}

// done is called once per finished host, never concurrently.
func (p *progress) done(r claim.Result) {
	p.counts[r.Status]++
	if p.bar == nil {
		line := fmt.Sprintf("%s %s %s", r.Host, r.Status, r.Method)
		if r.Category != "" {
			line += " [" + r.Category + "]"
		}
		if r.Message != "" {
			line += ": " + r.Message
		}
		if r.Status == claim.StatusPlanned {
			for i, s := range r.Plan {
				line += fmt.Sprintf("\n    %d. %s", i+1, s)
			}
		}
		fmt.Fprintln(p.w, line)
		return
	}
	if !r.Status.OK() {
		p.bar.Clear()
		fmt.Fprintf(p.w, "FAILED %s [%s] %s\n", r.Host, r.Category, r.Message)
	}
	p.bar.Describe(p.describe())
	p.bar.Add(1)
}

func (p *progress) describe() string {
	keys := make([]string, 0, len(p.counts))
	for s := range p.counts {
		keys = append(keys, string(s))
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, p.counts[claim.Status(k)])
	}
	return strings.Join(parts, ", ")
}

func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}

// renderTable prints the per-host table.
func renderTable(w io.Writer, results []claim.Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tGROUP\tSTATUS\tMETHOD\tDETAIL")
	for _, r := range results {
		detail := r.Message
		if r.Category != "" {
			detail = "[" + r.Category + "] " + detail
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Host, strings.Join(r.Groups, ","), r.Status, r.Method, oneLine(detail, 120))
	}
	tw.Flush()
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// printSummary prints the counts per status and, per failure category, the
// hosts and the remedy once.
func printSummary(w io.Writer, results []claim.Result) {
	counts := map[claim.Status]int{}
	byCat := map[string][]string{}
	for _, r := range results {
		counts[r.Status]++
		if r.Category != "" {
			byCat[r.Category] = append(byCat[r.Category], r.Host)
		}
	}
	var parts []string
	for _, s := range allStatuses {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	fmt.Fprintf(w, "%d hosts: %s\n", len(results), strings.Join(parts, ", "))
	cats := make([]string, 0, len(byCat))
	for c := range byCat {
		cats = append(cats, c)
	}
	sort.Strings(cats)
	for _, c := range cats {
		hosts := byCat[c]
		list := strings.Join(hosts, ", ")
		if len(hosts) > 10 {
			list = strings.Join(hosts[:10], ", ") + fmt.Sprintf(" and %d more", len(hosts)-10)
		}
		fmt.Fprintf(w, "  %s (%d): %s\n", c, len(hosts), list)
		if rem := claim.Remedy(c); rem != "" {
			fmt.Fprintf(w, "    remedy: %s\n", rem)
		}
	}
}
