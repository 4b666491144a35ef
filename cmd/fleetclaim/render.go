package main

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
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
		line := fmt.Sprintf("%s %s %s", termText(r.Host), termText(string(r.Status)), termText(r.Method))
		if r.Category != "" {
			line += " [" + termText(string(r.Category)) + "]"
		}
		if r.Message != "" {
			line += ": " + termLine(r.Message, 0)
		}
		if r.Status == claim.StatusPlanned {
			for i, s := range r.Plan {
				line += fmt.Sprintf("\n    %d. %s", i+1, termLine(s, 0))
			}
		}
		fmt.Fprintln(p.w, line)
		return
	}
	if !r.Status.OK() {
		p.bar.Clear()
		fmt.Fprintf(p.w, "FAILED %s [%s] %s\n", termText(r.Host), termText(string(r.Category)), termLine(r.Message, 0))
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
		detail = "[" + string(r.Category) + "] " + detail
	}
	return [5]string{termText(r.Host), termText(strings.Join(r.Groups, ",")), termText(string(r.Status)), termText(r.Method), termLine(detail, 120)}
}

// renderTable prints the per-host table, one record in memory at a time.
// The first four columns are padded with spaces to their widest cell (in
// runes) plus two, as text/tabwriter does with padding 2; but tabwriter
// holds every line until Flush, so the widths come from a first pass over
// the records instead. No cell holds a tab or a line end (termText escapes
// them, whatever a results file holds).
func renderTable(w io.Writer, recs hostRecords) error {
	var widths [4]int
	for j := range widths {
		widths[j] = utf8.RuneCountInString(tableHeader[j])
	}
	err := recs.each(func(r *claim.Result) error {
		row := tableRow(r)
		for j := range widths {
			widths[j] = max(widths[j], utf8.RuneCountInString(row[j]))
		}
		return nil
	})
	if err != nil {
		return err
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

// oneLine is s on one line (its runs of white space, line breaks included,
// become one space), cut after n bytes on a rune boundary.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		return s[:n] + "…"
	}
	return s
}

// summaryHosts is how many hosts the summary names per category.
const summaryHosts = 10

// recordTally is what the summaries keep of a run: counts per status and,
// per failure category, the number of hosts and the lines about the first
// few in host order, and the Cloud-side counts; never the records. A run
// fills it as hosts finish, in any order; a results file, in its order.
type recordTally struct {
	keep int
	item func(r *claim.Result) string

	total  int
	counts map[claim.Status]int
	byCat  map[claim.Category]*catItems
	// confirmed: Cloud lists the node in its rooms, reachable;
	// cloudMissing: the host failed with cloud-missing.
	confirmed, cloudMissing int
}

type catItems struct {
	n     int
	items []posItem // the first keep hosts by position, in order
}

type posItem struct {
	pos  int
	text string
}

// newTally returns an empty tally; item renders a failed host's line, kept
// for the first keep hosts of each category.
func newTally(keep int, item func(r *claim.Result) string) *recordTally {
	return &recordTally{keep: keep, item: item, counts: map[claim.Status]int{}, byCat: map[claim.Category]*catItems{}}
}

// add counts host pos's record.
func (t *recordTally) add(pos int, r *claim.Result) {
	t.total++
	t.counts[r.Status]++
	switch {
	case r.Cloud != nil && r.Cloud.Confirmed:
		t.confirmed++
	case r.Category == claim.CatCloudMissing:
		t.cloudMissing++
	}
	if r.Category == "" {
		return
	}
	c := t.byCat[r.Category]
	if c == nil {
		c = &catItems{}
		t.byCat[r.Category] = c
	}
	c.n++
	if t.keep == 0 || len(c.items) == t.keep && pos > c.items[len(c.items)-1].pos {
		return
	}
	at := sort.Search(len(c.items), func(j int) bool { return c.items[j].pos > pos })
	c.items = slices.Insert(c.items, at, posItem{pos, t.item(r)})
	if len(c.items) > t.keep {
		c.items = c.items[:t.keep]
	}
}

// cats returns the failure categories, sorted.
func (t *recordTally) cats() []claim.Category {
	return slices.Sorted(maps.Keys(t.byCat))
}

// texts returns a category's kept lines.
func (c *catItems) texts() []string {
	out := make([]string, len(c.items))
	for i, it := range c.items {
		out[i] = it.text
	}
	return out
}

// tallyRecords reads the records once, in host order.
func tallyRecords(recs hostRecords, keep int, item func(r *claim.Result) string) (*recordTally, error) {
	t := newTally(keep, item)
	pos := 0
	err := recs.each(func(r *claim.Result) error {
		t.add(pos, r)
		pos++
		return nil
	})
	return t, err
}

// summaryItem is a failed host's entry in the summary: its name.
func summaryItem(r *claim.Result) string { return termText(r.Host) }

// printSummary prints the counts per status and, per failure category, the
// hosts (the first few) and the remedy once.
func printSummary(w io.Writer, recs hostRecords) error {
	t, err := tallyRecords(recs, summaryHosts, summaryItem)
	if err != nil {
		return err
	}
	printTally(w, t)
	return nil
}

// printTally prints a summary tally (see printSummary).
func printTally(w io.Writer, t *recordTally) {
	var parts []string
	for _, s := range allStatuses {
		if t.counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", t.counts[s], s))
		}
	}
	fmt.Fprintf(w, "%d hosts: %s\n", t.total, strings.Join(parts, ", "))
	for _, c := range t.cats() {
		h := t.byCat[c]
		list := strings.Join(h.texts(), ", ")
		if h.n > len(h.items) {
			list += fmt.Sprintf(" and %d more", h.n-len(h.items))
		}
		fmt.Fprintf(w, "  %s (%d): %s\n", termText(string(c)), h.n, list)
		if rem := claim.Remedy(c); rem != "" {
			fmt.Fprintf(w, "    remedy: %s\n", rem)
		}
	}
}
