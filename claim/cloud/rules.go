package cloud

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/fleetclaim/fleetclaim/claim"
)

// Node membership rules: a room's rules put nodes in it by their host
// labels, so that a node claimed later lands in its rooms without one API
// call per node. The endpoints, bodies and fields are those of
// netdata/terraform-provider-netdata (internal/client/node_room_member.go:
// ListNodeMembershipRules, CreateNodeMembershipRule,
// UpdateNodeMembershipRule, DeleteNodeMembershipRule; the models in
// internal/client/models.go:91-104).

// Rule actions (internal/provider/node_room_member.go:102-107: "EXCLUDE
// action always takes precedence against INCLUDE").
const (
	RuleInclude = "INCLUDE"
	RuleExclude = "EXCLUDE"
)

// RuleOperators are the clause operators Cloud knows
// (internal/provider/node_room_member.go:123-127).
var RuleOperators = []string{"equals", "starts_with", "ends_with", "contains"}

// RuleClause is one condition on a host label; a rule's clauses all hold
// (AND), and a room's rules are alternatives (OR).
type RuleClause struct {
	Label    string `json:"label"`
	Operator string `json:"operator"`
	Value    string `json:"value"`
	Negate   bool   `json:"negate"`
}

// MembershipRule is a node membership rule of a room.
type MembershipRule struct {
	ID          string       `json:"id,omitempty"`
	SpaceID     string       `json:"spaceID,omitempty"`
	RoomID      string       `json:"roomID,omitempty"`
	Clauses     []RuleClause `json:"clauses"`
	Action      string       `json:"action"`
	Description string       `json:"description"`
}

// ErrBadRule is the sentinel of a rule Cloud would refuse.
var ErrBadRule = errors.New("invalid node membership rule")

// Check reports what Cloud would refuse in a rule: an unknown action or
// operator, no clause, a clause without a label.
func (r MembershipRule) Check() error {
	bad := func(msg string) error { return &claim.Error{Category: claim.CatCloudAPI, Msg: msg, Err: ErrBadRule} }
	if r.Action != RuleInclude && r.Action != RuleExclude {
		return bad("rule action " + strconv.Quote(r.Action) + ": want INCLUDE or EXCLUDE")
	}
	if len(r.Clauses) == 0 {
		return bad("a rule needs at least one clause")
	}
	for _, c := range r.Clauses {
		if strings.TrimSpace(c.Label) == "" {
			return bad("a rule clause needs a label")
		}
		if !slices.Contains(RuleOperators, c.Operator) {
			return bad("rule operator " + strconv.Quote(c.Operator) + ": want one of " + strings.Join(RuleOperators, ", "))
		}
	}
	return nil
}

// SameAs reports whether two rules do the same: one action, the same
// clauses in any order (descriptions and ids aside).
func (r MembershipRule) SameAs(o MembershipRule) bool {
	return r.Action == o.Action && clauseKey(r.Clauses) == clauseKey(o.Clauses)
}

// ClauseText is a rule's clauses as one line, for plans and messages.
func (r MembershipRule) ClauseText() string {
	parts := make([]string, len(r.Clauses))
	for i, c := range r.Clauses {
		not := ""
		if c.Negate {
			not = "not "
		}
		parts[i] = c.Label + " " + not + c.Operator + " " + strconv.Quote(c.Value)
	}
	sort.Strings(parts)
	return strings.Join(parts, " and ")
}

func clauseKey(cs []RuleClause) string {
	return MembershipRule{Clauses: cs}.ClauseText()
}

func rulesPath(space, room string) string {
	return "/api/v3/spaces/" + url.PathEscape(space) + "/rooms/" + url.PathEscape(room) + "/node-membership-rules"
}

// MembershipRules lists a room's node membership rules.
func (c *API) MembershipRules(ctx context.Context, space, room string) ([]MembershipRule, error) {
	p := rulesPath(space, room)
	body, err := c.do(ctx, http.MethodGet, p, nil)
	if err != nil {
		return nil, err
	}
	var out []MembershipRule
	if err := decodeList(body, &out); err != nil {
		return nil, c.parseErr(p, err)
	}
	return out, nil
}

// CreateMembershipRule adds a rule to a room and returns it as Cloud
// stored it (with its id).
func (c *API) CreateMembershipRule(ctx context.Context, space, room string, r MembershipRule) (MembershipRule, error) {
	return c.sendRule(ctx, http.MethodPost, rulesPath(space, room), r)
}

// UpdateMembershipRule replaces the action, description and clauses of
// the rule with r.ID.
func (c *API) UpdateMembershipRule(ctx context.Context, space, room string, r MembershipRule) (MembershipRule, error) {
	if r.ID == "" {
		return MembershipRule{}, &claim.Error{Category: claim.CatCloudAPI, Msg: "updating a rule needs its id", Err: ErrBadRule}
	}
	return c.sendRule(ctx, http.MethodPut, rulesPath(space, room)+"/"+url.PathEscape(r.ID), r)
}

// DeleteMembershipRule removes a rule from a room.
func (c *API) DeleteMembershipRule(ctx context.Context, space, room, id string) error {
	_, err := c.do(ctx, http.MethodDelete, rulesPath(space, room)+"/"+url.PathEscape(id), nil)
	return err
}

// sendRule sends the provider's body, {action, description, clauses}.
func (c *API) sendRule(ctx context.Context, method, p string, r MembershipRule) (MembershipRule, error) {
	if err := r.Check(); err != nil {
		return MembershipRule{}, err
	}
	body, err := json.Marshal(map[string]any{"action": r.Action, "description": r.Description, "clauses": r.Clauses})
	if err != nil {
		return MembershipRule{}, err
	}
	data, err := c.do(ctx, method, p, body)
	if err != nil {
		return MembershipRule{}, err
	}
	var out MembershipRule
	if err := json.Unmarshal(data, &out); err != nil || out.ID == "" {
		if err == nil {
			err = errors.New("the answer holds no rule id")
		}
		return MembershipRule{}, c.parseErr(p, err)
	}
	return out, nil
}

// RuleManaged starts the description of every rule fleetclaim manages:
// rooms sync changes only those, and never a rule of the user's own.
const RuleManaged = "fleetclaim: "

// RuleChange is one step of a rooms sync.
type RuleChange struct {
	// Action: create, update, keep (nothing to do), stale (a managed rule
	// no longer wanted, left alone) or delete (the same, removed).
	Action string
	Room   string // room id
	Rule   MembershipRule
	// Was is the rule before an update.
	Was MembershipRule
}

// PlanRules compares a room's rules with the rules wanted in it, keyed by
// description: a wanted rule that is there unchanged is kept (also when
// the user made an identical one); one with the same description but
// other clauses is updated; a missing one is created. A managed rule no
// longer wanted is stale (delete with prune). A rule of the user's own is
// never changed.
func PlanRules(room string, existing, want []MembershipRule, prune bool) []RuleChange {
	var out []RuleChange
	used := make([]bool, len(existing))
	for _, w := range want {
		change := RuleChange{Action: "create", Room: room, Rule: w}
		for i, e := range existing {
			if used[i] {
				continue
			}
			if e.Description == w.Description || (!strings.HasPrefix(e.Description, RuleManaged) && e.SameAs(w)) {
				used[i] = true
				change.Rule.ID = e.ID
				if e.SameAs(w) {
					change.Action, change.Rule = "keep", e
				} else {
					change.Action, change.Was = "update", e
				}
				break
			}
		}
		out = append(out, change)
	}
	for i, e := range existing {
		if used[i] || !strings.HasPrefix(e.Description, RuleManaged) {
			continue
		}
		action := "stale"
		if prune {
			action = "delete"
		}
		out = append(out, RuleChange{Action: action, Room: room, Rule: e})
	}
	return out
}
