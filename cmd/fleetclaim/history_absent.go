package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/fleetclaim/fleetclaim/claim"
	"github.com/fleetclaim/fleetclaim/inventory"
)

// absentHost is a host the history last saw claimed that the inventory no
// longer lists: a candidate for unclaim.
type absentHost struct {
	Host      string    `json:"host"`
	Address   string    `json:"address,omitempty"`
	ClaimedID string    `json:"claimed_id,omitempty"`
	Rooms     []string  `json:"rooms,omitempty"`
	Status    string    `json:"status"`
	Run       string    `json:"run"`
	Inventory string    `json:"inventory,omitempty"`
	Seen      time.Time `json:"seen"`
}

// lastClaim follows each host through the runs, oldest first: a record
// that shows a claim (a claimed id, and not unclaimed) makes the host a
// candidate, an unclaim record removes it. Records that know nothing of
// the host's claim (planned, not-started) change nothing.
func lastClaim(dir string, runs []runMeta) map[string]absentHost {
	out := map[string]absentHost{}
	for _, m := range runs {
		recs, err := readHostRecords(dir, m.ID)
		if err != nil {
			continue // a run being written, or removed
		}
		for name, r := range recs {
			switch r.Status {
			case claim.StatusPlanned, claim.StatusNotStarted:
				continue
			case claim.StatusUnclaimed, claim.StatusAlreadyUnclaimed:
				delete(out, name)
				continue
			}
			if r.ClaimedID == "" {
				if r.Status != claim.StatusFailed {
					delete(out, name)
				}
				continue
			}
			out[name] = absentHost{Host: name, Address: r.Address, ClaimedID: r.ClaimedID, Rooms: r.Rooms,
				Status: string(r.Status), Run: m.ID, Inventory: m.Inventory, Seen: r.End}
		}
	}
	return out
}

// absentQuery is `history --absent-from`: the current inventory, the
// previous one (optional) and the output format.
type absentQuery struct{ from, listedIn, output string }

// hostNames loads an inventory and returns its host names.
func hostNames(path string) (map[string]bool, error) {
	inv, err := inventory.LoadSources(context.Background(), []string{path}, inventory.LoadOptions{SSHConfig: "none"})
	if err != nil {
		return nil, err
	}
	names := make(map[string]bool, len(inv.Hosts))
	for _, h := range inv.Hosts {
		names[h.Name] = true
	}
	return names, nil
}

// printAbsent prints the hosts the history last saw claimed that the
// current inventory does not list, sorted by name: one name per line (a
// file for --limit @FILE) or one JSON record per line. With listedIn, only
// the hosts that inventory lists are printed; the others are named on
// stderr (no inventory says how to reach them).
func printAbsent(dir string, runs []runMeta, q absentQuery, stdout, stderr io.Writer) int {
	if q.output != "names" && q.output != "json" {
		fmt.Fprintf(stderr, "fleetclaim history: --output must be names or json with --absent-from, not %q\n", q.output)
		return exitUsage
	}
	listed, err := hostNames(q.from)
	if err != nil {
		printInventoryError(stderr, err)
		return exitUsage
	}
	var prev map[string]bool
	if q.listedIn != "" {
		if prev, err = hostNames(q.listedIn); err != nil {
			printInventoryError(stderr, err)
			return exitUsage
		}
	}
	var gone []absentHost
	var unreachable []string
	for name, a := range lastClaim(dir, runs) {
		switch {
		case listed[name]:
		case prev != nil && !prev[name]:
			unreachable = append(unreachable, name)
		default:
			gone = append(gone, a)
		}
	}
	sort.Slice(gone, func(i, j int) bool { return gone[i].Host < gone[j].Host })
	enc := json.NewEncoder(stdout)
	for _, a := range gone {
		if q.output == "json" {
			enc.Encode(a)
			continue
		}
		fmt.Fprintln(stdout, a.Host)
	}
	if len(unreachable) > 0 {
		sort.Strings(unreachable)
		fmt.Fprintf(stderr, "fleetclaim history: %d host(s) last seen claimed are in neither inventory, so unclaim cannot reach them: %s\n"+
			"(Cloud removes nodes offline for 7 days on its own: see fleetclaim unclaim -h)\n", len(unreachable), strings.Join(unreachable, ", "))
	}
	return exitOK
}
