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
	// The records wait in a spool, as in a run: a results file of any
	// size is rendered with one record in memory.
	recs, err := newSpool(0)
	if err != nil {
		fmt.Fprintf(stderr, "warning: %v\n", err)
	}
	defer recs.close()
	var first, last time.Time
	notOK := 0
	err = scanResultsFile(*results, func(r *claim.Result) error {
		if first.IsZero() || r.Start.Before(first) {
			first = r.Start
		}
		if r.End.After(last) {
			last = r.End
		}
		if !r.Status.OK() {
			notOK++
		}
		// Encoded again, as the run did: the file may be spelled otherwise.
		line, err := encodeLine(*r)
		if err != nil {
			return err
		}
		recs.push(line)
		return nil
	})
	if err != nil {
		fmt.Fprintln(stderr, "fleetclaim report:", err)
		return exitUsage
	}
	var out hostRecords = recs
	if recs.len() == 0 {
		out = resultList(nil) // no record: JSON null, as always
	}
	if err := renderResults(stdout, *output, *command, out, last.Sub(first)); err != nil {
		fmt.Fprintln(stderr, "fleetclaim report:", err)
		return exitFailed
	}
	if notOK > 0 {
		return exitFailed
	}
	return exitOK
}

// readResultsFile reads JSON lines; a torn last line (a run killed while
// writing) is skipped, any other bad line is an error naming it.
func readResultsFile(path string) ([]claim.Result, error) {
	var out []claim.Result
	err := scanResultsFile(path, func(r *claim.Result) error {
		out = append(out, *r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// scanResultsFile calls fn with each record of a results file, as
// readResultsFile reads them; fn must not keep r.
func scanResultsFile(path string, fn func(r *claim.Result) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	line := 0
	var pending error
	for sc.Scan() {
		line++
		if pending != nil {
			return pending
		}
		if len(sc.Bytes()) == 0 {
			continue
		}
		var r claim.Result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			pending = fmt.Errorf("%s:%d: %v", path, line, err)
			continue
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	return sc.Err()
}
