package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/fleetclaim/fleetclaim/claim"
)

// The run history: every run appends its host records to DIR/RUN.jsonl and
// describes itself in DIR/RUN.json. `fleetclaim history` reads them back.

// runMeta describes one run in the history.
type runMeta struct {
	ID        string         `json:"id"`
	Command   string         `json:"command"`
	Inventory string         `json:"inventory"`
	Hosts     int            `json:"hosts"`
	Start     time.Time      `json:"start"`
	End       *time.Time     `json:"end,omitempty"`
	ExitCode  *int           `json:"exit_code,omitempty"`
	Counts    map[string]int `json:"counts,omitempty"`
}

type historyRun struct {
	dir   string
	keep  int // runs the history keeps (pruneHistory)
	meta  runMeta
	mu    sync.Mutex
	lines *jsonLines
}

// defaultHistoryDir is $XDG_STATE_HOME/fleetclaim/history, else
// ~/.local/state/fleetclaim/history.
func defaultHistoryDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "fleetclaim", "history"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".local", "state", "fleetclaim", "history"), nil
}

func startHistory(dir string, keep int, command, inv string, hosts int) (*historyRun, error) {
	if dir == "" {
		var err error
		if dir, err = defaultHistoryDir(); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var rb [3]byte
	rand.Read(rb[:])
	now := time.Now().UTC()
	id := now.Format("20060102T150405Z") + "-" + hex.EncodeToString(rb[:])
	abs, _ := filepath.Abs(inv)
	h := &historyRun{dir: dir, keep: keep, meta: runMeta{ID: id, Command: command, Inventory: abs, Hosts: hosts, Start: now, Counts: map[string]int{}}}
	f, err := os.OpenFile(filepath.Join(dir, id+".jsonl"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	h.lines = newJSONLines(f, nil)
	if err := h.writeMeta(); err != nil {
		h.lines.close()
		return nil, err
	}
	return h, nil
}

func (h *historyRun) writeMeta() error {
	b, err := json.MarshalIndent(h.meta, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(h.dir, "."+h.meta.ID+".json.tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(h.dir, h.meta.ID+".json"))
}

// add appends one host record, line from encodeLine (nil-safe: a run
// without history).
func (h *historyRun) add(status claim.Status, line []byte) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.meta.Counts[string(status)]++
	h.lines.write(line)
}

// finish records the run's end, then prunes the history to the runs it
// keeps (a prune that fails is left for the next run).
func (h *historyRun) finish(code int) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now().UTC()
	h.meta.End, h.meta.ExitCode = &now, &code
	h.writeMeta()
	h.lines.close()
	_ = pruneHistory(h.dir, h.keep, h.meta.ID)
}

// defaultHistoryKeep is how many runs the history keeps by default: enough
// for a scheduled job's weeks of runs, bounded so that every run's reading
// of it (the clone check, status) stays bounded too.
const defaultHistoryKeep = 100

// pruneHistory removes the oldest runs of dir beyond keep (0: none), the
// run current always kept: RUN.json and RUN.jsonl, nothing else.
func pruneHistory(dir string, keep int, current string) error {
	if keep <= 0 {
		return nil
	}
	runs, err := readRuns(dir)
	if err != nil {
		return err
	}
	kept := 1 // current
	var errs []error
	for i := len(runs) - 1; i >= 0; i-- {
		id := runs[i].ID
		if id == current {
			continue
		}
		if kept < keep {
			kept++
			continue
		}
		for _, ext := range []string{".jsonl", ".json"} {
			if err := os.Remove(filepath.Join(dir, filepath.Base(id)+ext)); err != nil && !os.IsNotExist(err) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func readRuns(dir string) ([]runMeta, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var runs []runMeta
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var m runMeta
		if json.Unmarshal(b, &m) == nil && m.ID != "" {
			runs = append(runs, m)
		}
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].Start.Before(runs[j].Start) })
	return runs, nil
}

// readHostRecords returns the records of one run, by host name.
func readHostRecords(dir, id string) (map[string]claim.Result, error) {
	f, err := os.Open(filepath.Join(dir, id+".jsonl"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]claim.Result{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var r claim.Result
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Host != "" {
			out[r.Host] = r
		}
	}
	return out, sc.Err()
}

const historyUsage = `Usage:
  fleetclaim history [--history DIR]            list runs, oldest first
  fleetclaim history [--history DIR] HOST...    how each host's state changed from run to run
  fleetclaim history [--history DIR] --run ID   the records of one run (JSON lines)
  fleetclaim history [--history DIR] --absent-from INVENTORY [--listed-in PREVIOUS] [--output names|json]
                                                hosts the history last saw claimed that INVENTORY no
                                                longer lists (for: fleetclaim unclaim -i PREVIOUS --limit @FILE)
`

func runHistory(args []string, stdout, stderr io.Writer) int {
	q, code := parseHistoryFlags(args, stderr)
	if q == nil {
		return code
	}
	if q.run != "" {
		return printRunRecords(q.dir, q.run, stdout, stderr)
	}
	runs, err := readRuns(q.dir)
	if err != nil {
		fmt.Fprintln(stderr, "fleetclaim history:", err)
		return exitUsage
	}
	if q.absent.from != "" {
		return printAbsent(q.dir, runs, q.absent, stdout, stderr)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	defer tw.Flush()
	if len(q.hosts) == 0 {
		printRuns(tw, runs)
	} else {
		printHostChanges(tw, q.dir, runs, q.hosts)
	}
	return exitOK
}

// historyQuery is what `fleetclaim history` was asked.
type historyQuery struct {
	dir, run string
	absent   absentQuery
	hosts    []string
}

// parseHistoryFlags reads history's flags; a nil query ends the command
// with the exit code given (help, a usage error).
func parseHistoryFlags(args []string, stderr io.Writer) (*historyQuery, int) {
	fs := flag.NewFlagSet("fleetclaim history", flag.ContinueOnError)
	fs.SetOutput(stderr)
	q := &historyQuery{}
	fs.StringVar(&q.dir, "history", "", "run history directory (default: $XDG_STATE_HOME/fleetclaim/history)")
	fs.StringVar(&q.run, "run", "", "print the records of this run")
	fs.StringVar(&q.absent.from, "absent-from", "", "list the hosts last seen claimed that this inventory no longer lists")
	fs.StringVar(&q.absent.output, "output", "names", "with --absent-from: names (one per line) or json (one record per line)")
	fs.StringVar(&q.absent.listedIn, "listed-in", "", "with --absent-from: only hosts this (previous) inventory lists, so that unclaim -i it can reach them")
	fs.Usage = func() { fmt.Fprint(stderr, historyUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, exitOK
		}
		return nil, exitUsage
	}
	if q.dir == "" {
		d, err := defaultHistoryDir()
		if err != nil {
			fmt.Fprintln(stderr, "fleetclaim history:", err)
			return nil, exitUsage
		}
		q.dir = d
	}
	q.hosts = fs.Args()
	return q, exitOK
}

// printRunRecords prints one run's records as they are stored.
func printRunRecords(dir, run string, stdout, stderr io.Writer) int {
	b, err := os.ReadFile(filepath.Join(dir, filepath.Base(run)+".jsonl"))
	if err != nil {
		fmt.Fprintln(stderr, "fleetclaim history:", err)
		return exitUsage
	}
	stdout.Write(b)
	return exitOK
}

// printRuns lists the runs, oldest first.
func printRuns(tw io.Writer, runs []runMeta) {
	fmt.Fprintln(tw, "RUN\tCOMMAND\tHOSTS\tEXIT\tRESULTS\tINVENTORY")
	for _, m := range runs {
		exit := "running?"
		if m.ExitCode != nil {
			exit = fmt.Sprint(*m.ExitCode)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", termText(m.ID), termText(m.Command), m.Hosts, exit, termText(countsString(m.Counts)), termText(m.Inventory))
	}
}

// printHostChanges prints each host's record in every run that has one,
// with whether its state changed since the run before. Each run's records
// are read once for all the hosts asked.
func printHostChanges(tw io.Writer, dir string, runs []runMeta, asked []string) {
	var hosts []string // each host once, in the order asked
	for _, h := range asked {
		if !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	rows := make(map[string][]string, len(hosts))
	prev := make(map[string]string, len(hosts))
	for _, m := range runs {
		recs, err := readHostRecords(dir, m.ID)
		if err != nil {
			continue
		}
		for _, host := range hosts {
			r, ok := recs[host]
			if !ok {
				continue
			}
			state, change := hostState(r), ""
			switch p, seen := prev[host]; {
			case !seen:
				change = "first seen"
			case p != state:
				change = "changed"
			}
			prev[host] = state
			rows[host] = append(rows[host], fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s\n", termText(host), termText(m.ID), termText(m.Command),
				termText(string(r.Status)), termText(string(r.Category)), termText(r.ClaimedID), change))
		}
	}
	fmt.Fprintln(tw, "HOST\tRUN\tCOMMAND\tSTATUS\tCATEGORY\tCLAIMED ID\tCHANGE")
	for _, host := range hosts {
		for _, row := range rows[host] {
			fmt.Fprint(tw, row)
		}
	}
}

// hostState is what counts as a host's state from run to run: a different
// claim, online state or failure is a change, claimed turning into
// already-claimed on the next run is not.
func hostState(r claim.Result) string {
	online := "unknown"
	if r.Online != nil {
		online = fmt.Sprint(*r.Online)
	}
	return r.ClaimedID + "/" + online + "/" + string(r.Category)
}

func countsString(c map[string]int) string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, c[k])
	}
	return strings.Join(parts, " ")
}
