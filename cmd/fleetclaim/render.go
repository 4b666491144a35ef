package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

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

// tableHeader is the first line of the per-host table.
var tableHeader = [5]string{"HOST", "GROUP", "STATUS", "METHOD", "DETAIL"}

// tableRow is a record's cells in the per-host table.
func tableRow(r *claim.Result) [5]string {
	detail := r.Message
	if r.Category != "" {
		detail = "[" + r.Category + "] " + detail
	}
	return [5]string{r.Host, strings.Join(r.Groups, ","), string(r.Status), r.Method, oneLine(detail, 120)}
}

// tabwriterSpecial reports whether s holds a byte text/tabwriter gives a
// meaning to (a cell or line end, its escape byte).
func tabwriterSpecial(s string) bool {
	return strings.ContainsAny(s, "\t\n\v\f") || strings.IndexByte(s, tabwriter.Escape) >= 0
}

// renderTable prints the per-host table, one record in memory at a time.
// The first four columns are padded with spaces to their widest cell (in
// runes) plus two, as text/tabwriter does with padding 2; but tabwriter
// holds every line until Flush, so the widths come from a first pass over
// the records instead. A cell with a tab, a line end or tabwriter's escape
// byte (a results file can hold anything) changes tabwriter's columns: then
// the table goes through tabwriter as it always did.
func renderTable(w io.Writer, recs hostRecords) error {
	var widths [4]int
	for j := range widths {
		widths[j] = utf8.RuneCountInString(tableHeader[j])
	}
	irregular := false
	err := recs.each(func(r *claim.Result) error {
		row := tableRow(r)
		for j, c := range row {
			if j < len(widths) {
				widths[j] = max(widths[j], utf8.RuneCountInString(c))
			}
			if tabwriterSpecial(c) {
				irregular = true
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if irregular {
		return renderTableTabwriter(w, recs)
	}
	bw := bufio.NewWriter(w)
	writeRow := func(row [5]string) {
		for j, c := range row {
			bw.WriteString(c)
			if j < len(widths) {
				for n := widths[j] + 2 - utf8.RuneCountInString(c); n > 0; n-- {
					bw.WriteByte(' ')
				}
			}
		}
		bw.WriteByte('\n')
	}
	writeRow(tableHeader)
	err = recs.each(func(r *claim.Result) error {
		writeRow(tableRow(r))
		return nil
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}

// renderTableTabwriter is the table through text/tabwriter, which keeps
// every line until the end.
func renderTableTabwriter(w io.Writer, recs hostRecords) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(tableHeader[:], "\t"))
	err := recs.each(func(r *claim.Result) error {
		row := tableRow(r)
		fmt.Fprintln(tw, strings.Join(row[:], "\t"))
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Flush()
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// summaryHosts is how many hosts the summary names per category.
const summaryHosts = 10

// recordTally is what the summaries keep of a run: counts per status and,
// per failure category, the number of hosts and the first few lines about
// them, never the records.
type recordTally struct {
	total  int
	counts map[claim.Status]int
	cats   []string // failure categories, sorted
	byCat  map[string]*catItems
}

type catItems struct {
	n     int
	items []string
}

// tallyRecords reads the records once; item renders a failed host's line,
// kept for the first keep hosts of each category.
func tallyRecords(recs hostRecords, keep int, item func(r *claim.Result) string) (recordTally, error) {
	t := recordTally{counts: map[claim.Status]int{}, byCat: map[string]*catItems{}}
	err := recs.each(func(r *claim.Result) error {
		t.total++
		t.counts[r.Status]++
		if r.Category != "" {
			c := t.byCat[r.Category]
			if c == nil {
				c = &catItems{}
				t.byCat[r.Category] = c
				t.cats = append(t.cats, r.Category)
			}
			c.n++
			if len(c.items) < keep {
				c.items = append(c.items, item(r))
			}
		}
		return nil
	})
	sort.Strings(t.cats)
	return t, err
}

// printSummary prints the counts per status and, per failure category, the
// hosts (the first few) and the remedy once.
func printSummary(w io.Writer, recs hostRecords) error {
	t, err := tallyRecords(recs, summaryHosts, func(r *claim.Result) string { return r.Host })
	if err != nil {
		return err
	}
	total, counts := t.total, t.counts
	var parts []string
	for _, s := range allStatuses {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	fmt.Fprintf(w, "%d hosts: %s\n", total, strings.Join(parts, ", "))
	for _, c := range t.cats {
		h := t.byCat[c]
		list := strings.Join(h.items, ", ")
		if h.n > len(h.items) {
			list += fmt.Sprintf(" and %d more", h.n-len(h.items))
		}
		fmt.Fprintf(w, "  %s (%d): %s\n", c, h.n, list)
		if rem := claim.Remedy(c); rem != "" {
			fmt.Fprintf(w, "    remedy: %s\n", rem)
		}
	}
	return nil
}
