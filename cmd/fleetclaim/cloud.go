package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/fleetclaim/fleetclaim/claim"
	"github.com/fleetclaim/fleetclaim/claim/cloud"
	"github.com/fleetclaim/fleetclaim/inventory"
)

// cloudRun is what a run knows of Netdata Cloud through its API: one target
// per distinct (url, Space, API token source), a host's found by its key;
// and the claim tokens --fetch-claim-token fetched, by target.
type cloudRun struct {
	targets map[cloudKey]*cloud.Target
	order   []cloudKey
	fetched map[*cloud.Target]inventory.Secret
}

type cloudKey struct {
	url, space, caFile    string
	insecure, apiInsecure bool
	token                 inventory.SecretRef
}

func keyOf(h *inventory.Host) cloudKey {
	return cloudKey{url: h.Claim.URL, space: h.Claim.Space, caFile: h.Claim.CAFile, insecure: h.Claim.Insecure,
		apiInsecure: h.Claim.APIInsecure, token: h.Claim.APIToken}
}

// apiTokenExplicit reports whether the inventory names the host's API token
// source (rather than the default environment variable).
func apiTokenExplicit(h *inventory.Host) bool {
	_, ok := h.Sources["api_token"]
	return ok
}

// setupCloud opens the Cloud API for the hosts that have an API token, finds
// their Space and its rooms, and turns room names into ids, all before any
// host is contacted. A host gives an API token when its inventory names a
// source, or when the default environment variable is set. Room names
// without a token, an unknown or shared room name, and an API that fails
// when room names or needAPI (--fix-rooms, --fetch-claim-token) need it
// stop the run here; otherwise a failing API only skips the proof.
//
// hosts may be asked for more than once (a claim run resolves them anew
// each time); the room ids are given to the hosts it yields.
func setupCloud(ctx context.Context, inv *inventory.Inventory, hosts iter.Seq[*inventory.Host], needAPI bool, stderr io.Writer) (*cloudRun, error) {
	cr := &cloudRun{targets: map[cloudKey]*cloud.Target{}}
	failed := map[cloudKey]error{}
	for h := range hosts {
		k := keyOf(h)
		if _, ok := cr.targets[k]; ok {
			continue
		}
		if err, ok := failed[k]; ok {
			if err != nil {
				return nil, err
			}
			continue
		}
		named := inventory.NeedsRoomNames([]*inventory.Host{h})
		tok, err := h.Claim.APIToken.Resolve(os.LookupEnv)
		if err != nil {
			switch {
			case apiTokenExplicit(h):
				err = fmt.Errorf("Cloud API token for %s (%s, from %s): %w", h.Name, h.Claim.APIToken, h.Sources["api_token"], err)
			case named:
				err = fmt.Errorf("host %s gives rooms by name (from %s), which needs a Cloud API token: set %s, or api_token_env/api_token_file in the inventory; or write room ids",
					h.Name, h.Sources["rooms"], inventory.DefaultAPITokenEnv)
			default:
				err = nil // no API for this host: claims work without it
			}
			failed[k] = err
			if err != nil {
				return nil, err
			}
			continue
		}
		t, err := openTarget(ctx, h, tok)
		if err != nil {
			if named || needAPI {
				return nil, err
			}
			// Claims do not need the API: go on without the Cloud-side
			// proof for these hosts, and say so.
			fmt.Fprintf(stderr, "warning: %v; the Cloud-side proof is skipped for the hosts of %s\n", err, h.Claim.URL)
			failed[k] = nil
			continue
		}
		cr.targets[k] = t
		cr.order = append(cr.order, k)
	}
	if err := resolveRoomNames(inv, hosts, cr.roomLister); err != nil {
		return nil, err
	}
	return cr, nil
}

// roomNamesBatch is how many hosts with room names one call of
// Inventory.ResolveRoomNames is given.
const roomNamesBatch = 1024

// resolveRoomNames is Inventory.ResolveRoomNames over hosts, a batch at a
// time: the same errors, each once, in the same order.
func resolveRoomNames(inv *inventory.Inventory, hosts iter.Seq[*inventory.Host], list inventory.RoomLister) error {
	var errs inventory.Errors
	seen := map[inventory.Diagnostic]bool{}
	batch := make([]*inventory.Host, 0, roomNamesBatch)
	flush := func() error {
		err := inv.ResolveRoomNames(batch, list)
		clear(batch)
		batch = batch[:0]
		var es inventory.Errors
		if err != nil && !errors.As(err, &es) {
			return err
		}
		for _, d := range es {
			if !seen[d] {
				seen[d] = true
				errs = append(errs, d)
			}
		}
		return nil
	}
	for h := range hosts {
		if !inventory.NeedsRoomNames([]*inventory.Host{h}) {
			continue
		}
		if batch = append(batch, h); len(batch) == roomNamesBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// roomLister lists the rooms of a host's Space, for room names.
func (cr *cloudRun) roomLister(h *inventory.Host) (string, []inventory.CloudRoom, error) {
	t := cr.target(h)
	if t == nil {
		return "", nil, errors.New("no Cloud API token")
	}
	out := make([]inventory.CloudRoom, len(t.Rooms))
	for i, r := range t.Rooms {
		out[i] = inventory.CloudRoom{ID: r.ID, Name: r.Name}
	}
	return orQuoted(t.Space.Name, t.Space.ID), out, nil
}

// openTarget opens the API for a host's Space and lists its rooms.
func openTarget(ctx context.Context, h *inventory.Host, tok inventory.Secret) (*cloud.Target, error) {
	api, err := cloud.NewAPI(h.Claim.URL, tok, cloud.APIOptions{CAFile: h.Claim.CAFile, Insecure: h.Claim.Insecure, AllowInsecure: h.Claim.APIInsecure})
	if err != nil {
		return nil, err
	}
	space, err := api.ResolveSpace(ctx, h.Claim.Space)
	if err != nil {
		return nil, fmt.Errorf("Space for %s (space %s): %w", h.Name, orQuoted(h.Claim.Space, "not set"), err)
	}
	rooms, err := api.Rooms(ctx, space.ID)
	if err != nil {
		return nil, fmt.Errorf("rooms of Space %s: %w", orQuoted(space.Name, space.ID), err)
	}
	return &cloud.Target{API: api, Space: space, Rooms: rooms}, nil
}

func orQuoted(s, d string) string {
	if s == "" {
		return d
	}
	return strconv.Quote(s)
}

// target is a host's Cloud API target, nil without one.
func (cr *cloudRun) target(h *inventory.Host) *cloud.Target {
	if cr == nil {
		return nil
	}
	return cr.targets[keyOf(h)]
}

// rooms is target as claim's unclaim asks for it: nil (no interface
// holding a nil target) when the host has no Cloud API token.
func (cr *cloudRun) rooms(h *inventory.Host) claim.CloudRooms {
	if t := cr.target(h); t != nil {
		return t
	}
	return nil
}

// proof returns the Cloud-side check of the run, nil when no host has a
// Cloud API token.
func (cr *cloudRun) proof(wait time.Duration, fixRooms bool) *cloud.Proof {
	if cr == nil || len(cr.targets) == 0 {
		return nil
	}
	return &cloud.Proof{
		Target:   cr.target,
		Wait:     wait,
		FixRooms: fixRooms,
	}
}

// willFetchClaimTokens checks that --fetch-claim-token can work; nothing is
// rotated yet. The hosts that will get a fetched token then have their
// token source cleared (clearFetchedToken), so that the run's checks do not
// ask for one.
func (cr *cloudRun) willFetchClaimTokens() error {
	if cr == nil || len(cr.targets) == 0 {
		return errors.New("--fetch-claim-token needs a Cloud API token (NETDATA_CLOUD_API_TOKEN, api_token_env or api_token_file)")
	}
	return nil
}

// clearFetchedToken clears the token source of a host that gets a fetched
// token.
func (cr *cloudRun) clearFetchedToken(h *inventory.Host) {
	if cr.target(h) != nil {
		h.Claim.Token = inventory.SecretRef{}
	}
}

// fetchClaimTokens rotates the claim token of every Space of the run; the
// hosts of that Space then use the new one (useFetchedToken), returned per
// Space. The old token stops working for every other user of it: the
// caller asked for this explicitly, and calls this once every check of the
// run has passed.
func (cr *cloudRun) fetchClaimTokens(ctx context.Context, stderr io.Writer) (map[*cloud.Target]inventory.Secret, error) {
	cr.fetched = map[*cloud.Target]inventory.Secret{}
	for _, k := range cr.order {
		t := cr.targets[k]
		fmt.Fprintf(stderr, "WARNING: --fetch-claim-token rotates the claim token of Space %s: the old token stops working NOW for every other\n"+
			"WARNING: automation, script, Docker/Helm deployment and teammate that uses it. Update them with the new token.\n", orQuoted(t.Space.Name, t.Space.ID))
		tok, err := t.API.RotateClaimToken(ctx, t.Space.ID)
		if err != nil {
			return nil, fmt.Errorf("rotating the claim token of Space %s: %w", orQuoted(t.Space.Name, t.Space.ID), err)
		}
		cr.fetched[t] = tok
	}
	return cr.fetched, nil
}

// useFetchedToken gives a host of a Space whose token was fetched that
// token, and returns it.
func (cr *cloudRun) useFetchedToken(h *inventory.Host) (inventory.Secret, bool) {
	t := cr.target(h)
	if t == nil || cr.fetched == nil {
		return inventory.Secret{}, false
	}
	s := cr.fetched[t]
	h.Claim.Token = inventory.SecretRef{Inline: s.Reveal()}
	return s, true
}

// printCloudSummary prints how many hosts Cloud confirmed: listed in every
// room they belong to, and reachable.
func printCloudSummary(w io.Writer, recs hostRecords) error {
	t, err := tallyRecords(recs, 0, nil)
	if err != nil {
		return err
	}
	printCloudTally(w, t)
	return nil
}

// printCloudTally prints a tally's Cloud-side line (see printCloudSummary).
func printCloudTally(w io.Writer, t *recordTally) {
	line := fmt.Sprintf("%d/%d nodes confirmed by Cloud", t.confirmed, t.total)
	if t.cloudMissing > 0 {
		line += fmt.Sprintf(" (%d claimed but missing in Cloud: see category %s)", t.cloudMissing, claim.CatCloudMissing)
	}
	fmt.Fprintln(w, strings.TrimSpace(line))
}
