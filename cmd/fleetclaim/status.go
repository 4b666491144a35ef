package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fleetclaim/fleetclaim/claim"
)

// fleetclaim status: the fleet's state at a glance, from the latest record
// of each host in the run history. It reads files only: no host and no
// Cloud is contacted.

const statusUsage = `Usage:
  fleetclaim status [--history DIR] [--output table|html]

The fleet's state from the latest run of each host in the run history (plan
runs, which change nothing, are left out): counts per status and category,
the hosts of each room, the claimed nodes that are offline and since when,
and the hosts whose state changed since their previous run. No host and no
Cloud is contacted. --output html writes one self-contained page (inline
CSS, no script, nothing loaded from elsewhere).

Examples:
  fleetclaim status
  fleetclaim status --output html > fleet.html
`

// statusHost is one host's latest state.
type statusHost struct {
	Host     string
	Groups   string
	Run      string
	At       time.Time
	Status   string
	Category string
	Message  string
	Online   string // yes, no, or "" when unknown
	NodeID   string
	Rooms    []string
	// OfflineSince: a claimed node that is offline, since when (the
	// agent's own account, else the first run of this offline streak).
	OfflineSince time.Time
	// Before is the host's previous state ("" when this is its first run
	// or nothing changed), PrevRun that run.
	Before, After, PrevRun string
}

type statusCount struct {
	Name  string
	Count int
}

type statusRoom struct {
	Room  string
	Hosts []string
}

// fleetStatus is what the status command shows.
type fleetStatus struct {
	Generated  time.Time
	History    string
	Runs       int
	LastRun    string
	Hosts      []statusHost
	ByStatus   []statusCount
	ByCategory []statusCount
	Rooms      []statusRoom
	Offline    []statusHost
	Changed    []statusHost
}

// stateOf is what counts as a change between two runs: a different claim,
// online state or failure (not claimed turning into already-claimed).
func stateOf(r *claim.Result) string {
	online := "unknown"
	if r.Online != nil {
		online = strconv.FormatBool(*r.Online)
	}
	return r.ClaimedID + "/" + online + "/" + string(r.Category)
}

func describeState(r *claim.Result) string {
	s := string(r.Status)
	if r.Category != "" {
		s += " [" + string(r.Category) + "]"
	}
	if r.Online != nil {
		s += map[bool]string{true: ", online", false: ", offline"}[*r.Online]
	}
	return s
}

func claimedOffline(r *claim.Result) bool {
	return r.ClaimedID != "" && r.Online != nil && !*r.Online
}

// loadStatus builds the fleet's state from the history in dir.
func loadStatus(dir string, now time.Time) (*fleetStatus, error) {
	runs, err := readRuns(dir)
	if err != nil {
		return nil, err
	}
	st := &fleetStatus{Generated: now.UTC(), History: dir}
	hosts := trackHosts(dir, runs, st)
	names := make([]string, 0, len(hosts))
	for n := range hosts {
		names = append(names, n)
	}
	sort.Strings(names)
	latest := make([]*claim.Result, len(names))
	for i, n := range names {
		latest[i] = &hosts[n].latest
	}
	roomNames := roomNamesOf(latest)
	tally := newStatusTally()
	for _, n := range names {
		st.add(statusHostOf(n, hosts[n], roomNames), hosts[n], tally)
	}
	st.finish(tally)
	return st, nil
}

// hostTrack is one host through the history: its latest record, the one
// before, and since when it has been claimed but offline.
type hostTrack struct {
	latest, prev   claim.Result
	run, prevRun   string
	hasPrev        bool
	offlineStarted time.Time
}

// trackHosts follows every host through the runs (plan runs left out),
// counting the runs read into st.
func trackHosts(dir string, runs []runMeta, st *fleetStatus) map[string]*hostTrack {
	hosts := map[string]*hostTrack{}
	for _, m := range runs {
		if m.Command == string(claim.ModePlan) {
			continue
		}
		recs, err := readHostRecords(dir, m.ID)
		if err != nil {
			continue
		}
		st.Runs++
		st.LastRun = m.ID
		for name, r := range recs {
			hosts[name] = hosts[name].next(r, m.ID)
		}
	}
	return hosts
}

// next is the track after the record r of run: a nil track starts one.
func (t *hostTrack) next(r claim.Result, run string) *hostTrack {
	if t == nil {
		t = &hostTrack{}
	} else {
		t.prev, t.prevRun, t.hasPrev = t.latest, t.run, true
	}
	t.latest, t.run = r, run
	switch {
	case !claimedOffline(&r):
		t.offlineStarted = time.Time{}
	case t.offlineStarted.IsZero():
		t.offlineStarted = r.Start
	}
	return t
}

// statusHostOf is the status page's row of host n.
func statusHostOf(n string, t *hostTrack, roomNames map[string]string) statusHost {
	r := &t.latest
	h := statusHost{Host: n, Groups: strings.Join(r.Groups, ","), Run: t.run, At: r.End, Status: string(r.Status),
		Category: string(r.Category), Message: r.Message, NodeID: r.NodeID, Rooms: roomsOf(r, roomNames)}
	if r.Online != nil {
		h.Online = map[bool]string{true: "yes", false: "no"}[*r.Online]
	}
	if claimedOffline(r) {
		h.OfflineSince = t.offlineStarted
		if r.OfflineSince != nil && !r.OfflineSince.IsZero() {
			h.OfflineSince = *r.OfflineSince
		}
	}
	if t.hasPrev && stateOf(&t.prev) != stateOf(r) {
		h.Before, h.After, h.PrevRun = describeState(&t.prev), describeState(r), t.prevRun
	}
	return h
}

// statusTally counts the hosts by status, category and room.
type statusTally struct {
	byStatus, byCat map[string]int
	rooms           map[string][]string
}

func newStatusTally() *statusTally {
	return &statusTally{byStatus: map[string]int{}, byCat: map[string]int{}, rooms: map[string][]string{}}
}

// add puts host h (tracked by t) on the page and in the tally.
func (st *fleetStatus) add(h statusHost, t *hostTrack, tally *statusTally) {
	if claimedOffline(&t.latest) {
		st.Offline = append(st.Offline, h)
	}
	if h.PrevRun != "" {
		st.Changed = append(st.Changed, h)
	}
	tally.byStatus[h.Status]++
	if h.Category != "" {
		tally.byCat[h.Category]++
	}
	for _, room := range h.Rooms {
		tally.rooms[room] = append(tally.rooms[room], h.Host)
	}
	st.Hosts = append(st.Hosts, h)
}

// finish orders what the page lists: counts, rooms by name, offline hosts
// longest offline first.
func (st *fleetStatus) finish(tally *statusTally) {
	st.ByStatus, st.ByCategory = sortedCounts(tally.byStatus), sortedCounts(tally.byCat)
	for room, hs := range tally.rooms {
		st.Rooms = append(st.Rooms, statusRoom{Room: room, Hosts: hs})
	}
	sort.Slice(st.Rooms, func(i, j int) bool { return st.Rooms[i].Room < st.Rooms[j].Room })
	sort.SliceStable(st.Offline, func(i, j int) bool { return st.Offline[i].OfflineSince.Before(st.Offline[j].OfflineSince) })
}

// roomsOf names a record's rooms: as Cloud listed them (names) when it was
// asked, else as claimed, with the names other records give the ids.
func roomsOf(r *claim.Result, names map[string]string) []string {
	if r.Cloud != nil && len(r.Cloud.Rooms)+len(r.Cloud.Missing) > 0 {
		return append(append([]string(nil), r.Cloud.Rooms...), r.Cloud.Missing...)
	}
	out := make([]string, len(r.Rooms))
	for i, id := range r.Rooms {
		out[i] = id
		if n, ok := names[strings.ToLower(id)]; ok {
			out[i] = n
		}
	}
	return out
}

// roomNamesOf learns room names from the records Cloud confirmed in every
// room they were claimed into: their Cloud rooms are their claimed rooms,
// in order.
func roomNamesOf(recs []*claim.Result) map[string]string {
	names := map[string]string{}
	for _, r := range recs {
		c := r.Cloud
		if c == nil || len(c.Missing) > 0 || len(c.Added) > 0 || len(c.Rooms) != len(r.Rooms) {
			continue
		}
		for i, id := range r.Rooms {
			names[strings.ToLower(id)] = c.Rooms[i]
		}
	}
	return names
}

func sortedCounts(m map[string]int) []statusCount {
	out := make([]statusCount, 0, len(m))
	for k, v := range m {
		out = append(out, statusCount{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Name < out[j].Name
	})
	return out
}

func runStatus(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fleetclaim status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("history", "", "run history directory (default: $XDG_STATE_HOME/fleetclaim/history)")
	output := fs.String("output", "table", "table or html")
	fs.Usage = func() { fmt.Fprint(stderr, statusUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 || (*output != "table" && *output != "html") {
		fmt.Fprintf(stderr, "fleetclaim status: want --output table or html, and no arguments\n")
		return exitUsage
	}
	if *dir == "" {
		d, err := defaultHistoryDir()
		if err != nil {
			fmt.Fprintln(stderr, "fleetclaim status:", err)
			return exitUsage
		}
		*dir = d
	}
	st, err := loadStatus(*dir, time.Now())
	if err != nil {
		fmt.Fprintln(stderr, "fleetclaim status:", err)
		return exitUsage
	}
	if st.Runs == 0 {
		fmt.Fprintf(stderr, "fleetclaim status: no runs in the history %s\n", termText(*dir))
		return exitUsage
	}
	if *output == "html" {
		err = writeStatusHTML(stdout, st)
	} else {
		err = writeStatusTable(stdout, st)
	}
	if err != nil {
		fmt.Fprintln(stderr, "fleetclaim status:", err)
		return exitFailed
	}
	return exitOK
}

// writeStatusTable prints the state as text; every string from a record
// is made safe for a terminal.
func writeStatusTable(w io.Writer, st *fleetStatus) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%d hosts, from %d runs (latest %s)\n\n", len(st.Hosts), st.Runs, st.LastRun)
	fmt.Fprintln(tw, "STATUS\tHOSTS")
	for _, c := range st.ByStatus {
		fmt.Fprintf(tw, "%s\t%d\n", termText(c.Name), c.Count)
	}
	if len(st.ByCategory) > 0 {
		fmt.Fprintln(tw, "\nCATEGORY\tHOSTS")
		for _, c := range st.ByCategory {
			fmt.Fprintf(tw, "%s\t%d\n", termText(c.Name), c.Count)
		}
	}
	if len(st.Rooms) > 0 {
		fmt.Fprintln(tw, "\nROOM\tHOSTS\tNAMES")
		for _, r := range st.Rooms {
			fmt.Fprintf(tw, "%s\t%d\t%s\n", termText(r.Room), len(r.Hosts), termText(oneLine(strings.Join(r.Hosts, ", "), 100)))
		}
	}
	if len(st.Offline) > 0 {
		fmt.Fprintln(tw, "\nOFFLINE\tSINCE\tFOR")
		for _, h := range st.Offline {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", termText(h.Host), timeText(h.OfflineSince), sinceText(st.Generated, h.OfflineSince))
		}
	}
	if len(st.Changed) > 0 {
		fmt.Fprintln(tw, "\nCHANGED\tBEFORE\tNOW\tPREVIOUS RUN\tRUN")
		for _, h := range st.Changed {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", termText(h.Host), termText(h.Before), termText(h.After), termText(h.PrevRun), termText(h.Run))
		}
	}
	fmt.Fprintln(tw, "\nHOST\tGROUPS\tSTATUS\tONLINE\tRUN\tDETAIL")
	for _, h := range st.Hosts {
		detail := h.Message
		if h.Category != "" {
			detail = "[" + h.Category + "] " + detail
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", termText(h.Host), termText(h.Groups), termText(h.Status), orDash(h.Online),
			termText(h.Run), termText(oneLine(detail, 100)))
	}
	return tw.Flush()
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func sinceText(now, t time.Time) string {
	if t.IsZero() || now.Before(t) {
		return "-"
	}
	return now.Sub(t).Round(time.Minute).String()
}
