package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/fleetclaim/fleetclaim/claim/cloud"
	"github.com/fleetclaim/fleetclaim/inventory"
)

// fleetclaim rooms sync: Cloud's node membership rules follow the
// inventory, so that nodes land in their rooms by rule.

const roomsUsage = `Usage:
  fleetclaim rooms sync -i INVENTORY [--dry-run] [--prune] [--limit PATTERN]
  fleetclaim rooms plan -i INVENTORY                 (sync --dry-run)

With a Cloud API token, make each room's node membership rules follow the
inventory: a group whose hosts are claimed into a room gets one rule in that
room, "INCLUDE nodes whose host label fleetclaim_group equals GROUP", so that
a node with the label lands in the group's rooms by rule, also one claimed
later or elsewhere, without an API call per node. A rule's description,
"fleetclaim: group GROUP", is how sync knows its own rules: it creates the
missing ones, updates those whose clauses changed, and never changes a rule
of the user's own (an identical one of the user's counts as there). A rule
of its own that the inventory no longer wants is reported as stale, and
removed only with --prune. With --limit or --shard, only the groups of the
selected hosts are synced: the others' rules are left alone. A second sync
changes nothing.

Cloud applies the rules from the labels a node reports, so each host must
carry the label fleetclaim_group=GROUP in netdata.conf [host labels].

Examples:
  fleetclaim rooms plan -i inventory.yml
  fleetclaim rooms sync -i inventory.yml
`

// ruleLabel is the host label the rules match; its value is the group.
const ruleLabel = "fleetclaim_group"

// wantedRule is one rule the inventory wants: in a room, for a group.
type wantedRule struct {
	target *cloud.Target
	room   string
	group  string
	hosts  []string
}

func (w wantedRule) rule() cloud.MembershipRule {
	return cloud.MembershipRule{Action: cloud.RuleInclude, Description: cloud.RuleManaged + "group " + w.group,
		Clauses: []cloud.RuleClause{{Label: ruleLabel, Operator: "equals", Value: w.group}}}
}

// wantedRules derives the rules from the hosts: each host's first group,
// in each room it is claimed into ("All nodes" holds every node anyway).
// Hosts of one group claimed into different rooms are reported: the rule
// puts every node of the group in each of them.
func wantedRules(cr *cloudRun, hosts []*inventory.Host, warn func(string)) []wantedRule {
	type key struct {
		t           *cloud.Target
		room, group string
	}
	byKey := map[key]*wantedRule{}
	var order []key
	roomsOf := map[string]string{} // group -> the first host's rooms
	for _, h := range hosts {
		t := cr.target(h)
		if t == nil || len(h.Claim.Rooms) == 0 {
			continue
		}
		if len(h.Groups) == 0 {
			warn(fmt.Sprintf("host %s is in no group: no rule takes it to its rooms", h.Name))
			continue
		}
		g := h.Groups[0]
		rooms := slices.Clone(h.Claim.Rooms)
		sort.Strings(rooms)
		if prev, ok := roomsOf[g]; !ok {
			roomsOf[g] = strings.Join(rooms, ",")
		} else if prev != strings.Join(rooms, ",") {
			warn(fmt.Sprintf("hosts of group %s are claimed into different rooms (%s differs): the rules put every node of the group in each", g, h.Name))
		}
		for _, room := range h.Claim.Rooms {
			if strings.EqualFold(room, t.AllNodes()) {
				continue
			}
			k := key{t, strings.ToLower(room), g}
			w := byKey[k]
			if w == nil {
				w = &wantedRule{target: t, room: k.room, group: g}
				byKey[k] = w
				order = append(order, k)
			}
			w.hosts = append(w.hosts, h.Name)
		}
	}
	out := make([]wantedRule, len(order))
	for i, k := range order {
		out[i] = *byKey[k]
	}
	return out
}

func runRooms(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "sync" && args[0] != "plan") {
		fmt.Fprint(stderr, roomsUsage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return exitOK
		}
		return exitUsage
	}
	sub := args[0]
	fs := flag.NewFlagSet("fleetclaim rooms "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, roomsUsage+"\nFlags:\n"); fs.PrintDefaults() }
	var f selectFlags
	f.register(fs)
	dry := fs.Bool("dry-run", sub == "plan", "show what sync would change, change nothing")
	prune := fs.Bool("prune", false, "remove the rules of fleetclaim's own that the inventory no longer wants")
	rest, err := parseInterleaved(fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "fleetclaim rooms %s: unexpected arguments %q\n", sub, rest)
		return exitUsage
	}
	inv, hosts, ok := f.load(ctx, "rooms "+sub, stderr)
	if !ok {
		return exitUsage
	}
	cr, err := setupCloud(ctx, inv, slices.Values(hosts), true, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "fleetclaim rooms %s: %v\n", sub, err)
		return exitUsage
	}
	if len(cr.targets) == 0 {
		fmt.Fprintf(stderr, "fleetclaim rooms %s: no host has a Cloud API token (set %s, or api_token_env/api_token_file in the inventory)\n", sub, inventory.DefaultAPITokenEnv)
		return exitUsage
	}
	warn := func(s string) { fmt.Fprintln(stderr, "warning:", s) }
	// With a selection, the rules of the groups outside it are left alone:
	// they are neither wanted nor stale.
	var only map[string]bool
	if f.limit != "" || f.shard != "" {
		only = map[string]bool{}
		for _, h := range hosts {
			for _, g := range h.Groups {
				only[g] = true
			}
		}
	}
	changes, err := syncRooms(ctx, cr, wantedRules(cr, hosts, warn), only, *dry, *prune)
	printRuleChanges(stdout, cr, changes, *dry)
	if err != nil {
		fmt.Fprintf(stderr, "fleetclaim rooms %s: %v\n", sub, err)
		return exitFailed
	}
	return exitOK
}

// ruleStep is a planned change, in the Space of target.
type ruleStep struct {
	target *cloud.Target
	cloud.RuleChange
	err error
}

// syncRooms lists the rules of every room of each Space, plans the changes
// and, unless dry, makes them. It stops at the first API failure: the
// changes made so far are in the steps returned.
func syncRooms(ctx context.Context, cr *cloudRun, want []wantedRule, only map[string]bool, dry, prune bool) ([]ruleStep, error) {
	var steps []ruleStep
	for _, k := range cr.order {
		t := cr.targets[k]
		for _, room := range t.Rooms {
			var rules []cloud.MembershipRule
			for _, w := range want {
				if w.target == t && strings.EqualFold(w.room, room.ID) {
					rules = append(rules, w.rule())
				}
			}
			existing, err := t.API.MembershipRules(ctx, t.Space.ID, room.ID)
			if err != nil {
				return steps, fmt.Errorf("rules of room %s: %w", orQuoted(room.Name, room.ID), err)
			}
			if only != nil {
				existing = slices.DeleteFunc(existing, func(r cloud.MembershipRule) bool {
					g, ok := strings.CutPrefix(r.Description, cloud.RuleManaged+"group ")
					return ok && !only[g]
				})
			}
			for _, c := range cloud.PlanRules(room.ID, existing, rules, prune) {
				s := ruleStep{target: t, RuleChange: c}
				if !dry {
					s.err = applyRule(ctx, t, c)
				}
				steps = append(steps, s)
				if s.err != nil {
					return steps, fmt.Errorf("%s rule %q in room %s: %w", c.Action, c.Rule.Description, orQuoted(room.Name, room.ID), s.err)
				}
			}
		}
	}
	return steps, nil
}

func applyRule(ctx context.Context, t *cloud.Target, c cloud.RuleChange) error {
	var err error
	switch c.Action {
	case "create":
		_, err = t.API.CreateMembershipRule(ctx, t.Space.ID, c.Room, c.Rule)
	case "update":
		_, err = t.API.UpdateMembershipRule(ctx, t.Space.ID, c.Room, c.Rule)
	case "delete":
		err = t.API.DeleteMembershipRule(ctx, t.Space.ID, c.Room, c.Rule.ID)
	}
	return err
}

func printRuleChanges(w io.Writer, cr *cloudRun, steps []ruleStep, dry bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SPACE\tROOM\tACTION\tRULE\tDESCRIPTION")
	counts := map[string]int{}
	for _, s := range steps {
		action := s.Action
		if dry && action != "keep" && action != "stale" {
			action = "would " + action
		}
		counts[s.Action]++
		rule := s.Rule.Action + " " + s.Rule.ClauseText()
		if s.Action == "update" {
			rule = s.Was.Action + " " + s.Was.ClauseText() + " -> " + rule
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", termText(orQuoted(s.target.Space.Name, s.target.Space.ID)), termText(roomLabel(s.target, s.Room)),
			action, termText(rule), termText(s.Rule.Description))
	}
	_ = tw.Flush()
	format := "%d created, %d updated, %d deleted, %d kept, %d stale\n"
	if dry {
		format = "dry run, nothing changed: %d to create, %d to update, %d to delete, %d kept, %d stale\n"
	}
	fmt.Fprintf(w, format, counts["create"], counts["update"], counts["delete"], counts["keep"], counts["stale"])
	if counts["stale"] > 0 {
		fmt.Fprintln(w, "stale: rules of fleetclaim's own the inventory no longer wants; --prune removes them")
	}
}

func roomLabel(t *cloud.Target, id string) string {
	for _, r := range t.Rooms {
		if strings.EqualFold(r.ID, id) {
			return r.Name
		}
	}
	return id
}
