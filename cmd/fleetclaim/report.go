package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/fleetclaim/fleetclaim/claim"
)

// runReport renders a results file (JSON lines, from --results or --output
// jsonl) again in another format: a JUnit file or a step summary after the
// fact, or a table to read.
func runReport(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fleetclaim report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	results := fs.String("results", "", "results file (JSON lines) to render")
	output := fs.String("output", "table", "table, json, junit or markdown")
	command := fs.String("command", "claim", "the command named in JUnit and markdown titles")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: fleetclaim report --results FILE [--output table|json|junit|markdown]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if *results == "" || *output == "jsonl" || !validOutput(*output) {
		fs.Usage()
		return exitUsage
	}
	recs, err := readResultsFile(*results)
	if err != nil {
		fmt.Fprintln(stderr, "fleetclaim report:", err)
		return exitUsage
	}
	var first, last time.Time
	for _, r := range recs {
		if first.IsZero() || r.Start.Before(first) {
			first = r.Start
		}
		if r.End.After(last) {
			last = r.End
		}
	}
	if err := renderResults(stdout, *output, *command, resultList(recs), last.Sub(first)); err != nil {
		fmt.Fprintln(stderr, "fleetclaim report:", err)
		return exitFailed
	}
	for _, r := range recs {
		if !r.Status.OK() {
			return exitFailed
		}
	}
	return exitOK
}

// readResultsFile reads JSON lines; a torn last line (a run killed while
// writing) is skipped, any other bad line is an error naming it.
func readResultsFile(path string) ([]claim.Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []claim.Result
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	line := 0
	var pending error
	for sc.Scan() {
		line++
		if pending != nil {
			return nil, pending
		}
		if len(sc.Bytes()) == 0 {
			continue
		}
		var r claim.Result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			pending = fmt.Errorf("%s:%d: %v", path, line, err)
			continue
		}
		out = append(out, r)
	}
	return out, sc.Err()
}
