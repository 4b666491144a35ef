package cloud

import (
	"context"
	"strings"
	"testing"
)

func rule(id, desc, action string, clauses ...RuleClause) MembershipRule {
	return MembershipRule{ID: id, Description: desc, Action: action, Clauses: clauses}
}

// TestPlanRules: kept when there unchanged (ours or an identical one of
// the user's), updated when our description holds other clauses, created
// when missing, stale (deleted with prune) when ours and unwanted; the
// user's own rules are never changed.
func TestPlanRules(t *testing.T) {
	web := RuleClause{Label: "fleetclaim_group", Operator: "equals", Value: "web"}
	db := RuleClause{Label: "fleetclaim_group", Operator: "equals", Value: "db"}
	other := RuleClause{Label: "env", Operator: "contains", Value: "prod"}
	want := []MembershipRule{rule("", RuleManaged+"group web", RuleInclude, web), rule("", RuleManaged+"group db", RuleInclude, db),
		rule("", RuleManaged+"group x", RuleInclude, other)}
	existing := []MembershipRule{
		rule("1", RuleManaged+"group web", RuleInclude, web),  // kept
		rule("2", RuleManaged+"group db", RuleInclude, other), // updated
		rule("3", "the user's", RuleInclude, other),           // the user's identical rule: kept
		rule("4", RuleManaged+"group gone", RuleInclude, web), // stale
		rule("5", "the user's exclude", RuleExclude, db),      // never touched
	}
	for _, prune := range []bool{false, true} {
		got := PlanRules("r", existing, want, prune)
		var acts []string
		for _, c := range got {
			acts = append(acts, c.Action+":"+c.Rule.ID)
		}
		last := "stale:4"
		if prune {
			last = "delete:4"
		}
		if s, w := strings.Join(acts, " "), "keep:1 update:2 keep:3 "+last; s != w {
			t.Errorf("prune %v: %s, want %s", prune, s, w)
		}
		if got[1].Was.ClauseText() != `env contains "prod"` || got[1].Rule.ClauseText() != `fleetclaim_group equals "db"` {
			t.Errorf("update: %+v", got[1])
		}
	}
}

// TestMembershipRuleCalls: the provider's methods, paths and bodies; a rule
// Cloud would refuse is not sent.
func TestMembershipRuleCalls(t *testing.T) {
	f, srv := newFakeCloud(t)
	base := "/api/v3/spaces/S/rooms/R/node-membership-rules"
	f.set("GET "+base, fakeAnswer{status: 200, body: `[{"id":"1","spaceID":"S","roomID":"R","clauses":[{"label":"role","operator":"equals","value":"parent","negate":false}],"action":"INCLUDE","description":"d"}]`})
	f.set("POST "+base, fakeAnswer{status: 200, body: `{"id":"2","action":"INCLUDE","clauses":[]}`})
	f.set("PUT "+base+"/2", fakeAnswer{status: 200, body: `{"id":"2","action":"EXCLUDE","clauses":[]}`})
	f.set("DELETE "+base+"/2", fakeAnswer{status: 200, body: `{}`})
	api := testAPI(t, srv.URL, nil)
	ctx := context.Background()
	rules, err := api.MembershipRules(ctx, "S", "R")
	if err != nil || len(rules) != 1 || rules[0].Clauses[0].Value != "parent" {
		t.Fatalf("list: %+v %v", rules, err)
	}
	r := rule("", "fleetclaim: group web", RuleInclude, RuleClause{Label: "fleetclaim_group", Operator: "equals", Value: "web"})
	if got, err := api.CreateMembershipRule(ctx, "S", "R", r); err != nil || got.ID != "2" {
		t.Fatalf("create: %+v %v", got, err)
	}
	r.ID = "2"
	if _, err := api.UpdateMembershipRule(ctx, "S", "R", r); err != nil {
		t.Fatal(err)
	}
	if err := api.DeleteMembershipRule(ctx, "S", "R", "2"); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	body := f.bodies["POST "+base][0]
	f.mu.Unlock()
	if body != `{"action":"INCLUDE","clauses":[{"label":"fleetclaim_group","operator":"equals","value":"web","negate":false}],"description":"fleetclaim: group web"}` {
		t.Errorf("create body %s", body)
	}
	for _, bad := range []MembershipRule{rule("", "x", "ADD", r.Clauses...), rule("", "x", RuleInclude),
		rule("", "x", RuleInclude, RuleClause{Label: "a", Operator: "regex", Value: "."})} {
		if _, err := api.CreateMembershipRule(ctx, "S", "R", bad); err == nil {
			t.Errorf("sent %+v", bad)
		}
	}
	if n := f.count("POST " + base); n != 1 {
		t.Errorf("%d creates sent", n)
	}
}
