package inventory

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"testing"
)

func names(hs []*Host) string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.Name
	}
	return strings.Join(out, " ")
}

func TestLimitGrammar(t *testing.T) {
	inv, err := Load("testdata/ansible-ini/hosts.ini", testOpts())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ limit, want string }{
		{"db", "db-a.example.com db-b.example.com db-c.example.com 10.0.2.08 10.0.2.09 10.0.2.10"},
		{"prod:&db:!10.0.2.*", "db-a.example.com db-b.example.com db-c.example.com"},
		{"!prod", "bastion.example.com"},
		{"web0[12]*,bastion.example.com", "bastion.example.com web01.example.com web02.example.com"},
		{"~^db-[ab]", "db-a.example.com db-b.example.com"},
		{"ungrouped:web-canary.example.com", "bastion.example.com web-canary.example.com"},
		{"all:!web:!db", "bastion.example.com"},
	} {
		hs, err := inv.Select(tc.limit, "")
		if err != nil {
			t.Errorf("%q: %v", tc.limit, err)
			continue
		}
		if got := names(hs); got != tc.want {
			t.Errorf("%q = %s, want %s", tc.limit, got, tc.want)
		}
	}
}

// TestShardCover: N shards partition the selection, sizes differ by at most
// one, and a shard does not depend on the inventory's order.
func TestShardCover(t *testing.T) {
	var b strings.Builder
	b.WriteString("hosts:\n")
	for i := range 103 {
		fmt.Fprintf(&b, "  h%03d.example.com: {}\n", i)
	}
	inv, err := loadString(t, "inv.yml", b.String(), testOpts())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 2, 7, 103} {
		seen := map[string]int{}
		lo, hi := 1<<30, 0
		for k := 1; k <= n; k++ {
			hs, err := inv.Select("", fmt.Sprintf("%d/%d", k, n))
			if err != nil {
				t.Fatal(err)
			}
			lo, hi = min(lo, len(hs)), max(hi, len(hs))
			for _, h := range hs {
				seen[h.Name]++
			}
		}
		if len(seen) != 103 || hi-lo > 1 {
			t.Errorf("n=%d: covered %d hosts, sizes %d..%d", n, len(seen), lo, hi)
		}
		for name, c := range seen {
			if c != 1 {
				t.Errorf("n=%d: %s in %d shards", n, name, c)
			}
		}
	}
	a, _ := inv.Select("", "2/5")
	rev := &Inventory{Hosts: slices.Clone(inv.Hosts), Groups: inv.Groups}
	slices.Reverse(rev.Hosts)
	r, _ := rev.Select("", "2/5")
	slices.Reverse(r)
	if names(a) != names(r) {
		t.Errorf("shard depends on inventory order:\n%s\n%s", names(a), names(r))
	}
}

func TestExpandRange(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"web[01:03].example.com", "web01.example.com web02.example.com web03.example.com"},
		{"10.0.1.[8:10]", "10.0.1.8 10.0.1.9 10.0.1.10"},
		{"r[a:b]n[1:2]", "ran1 ran2 rbn1 rbn2"},
		{"h[0:6:3]", "h0 h3 h6"},
		{"h[008:010]", "h008 h009 h010"},
		{"[2001:db8::1]:22", "[2001:db8::1]:22"},
		{"plain", "plain"},
	} {
		got, err := ExpandRange(tc.in, 0)
		if err != nil || strings.Join(got, " ") != tc.want {
			t.Errorf("ExpandRange(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"h[1:]", "h[3:1]", "h[1:2", "h]1", "h[a:Z]", "h[1:2:0]", "h[0:99999][0:99999]"} {
		if _, err := ExpandRange(bad, 1000); err == nil {
			t.Errorf("ExpandRange(%q) succeeded", bad)
		}
	}
}

// TestPrecedence: host > child group > parent group > defaults, ssh_config
// beneath the inventory, --set above everything.
func TestPrecedence(t *testing.T) {
	content := `defaults:
  user: d
  proxy: none
  connect_timeout: 1
  rooms: [00000000-0000-4000-8000-000000000001]
groups:
  parent:
    children: [child]
    user: p
    proxy: env
  child:
    user: c
    hosts:
      h1: {user: h}
      h2: {}
  other:
    rooms: [00000000-0000-4000-8000-000000000002]
    hosts: {h2: {}, h3: {}}
  side:
    rooms: [00000000-0000-4000-8000-000000000003]
    proxy: http://p:1
    hosts: {h3: {proxy: none}}
`
	opts := testOpts()
	opts.SSHConfig = writeTemp(t, "Host *\n  User fromssh\n  ConnectTimeout 9\n  Port 2222\n")
	opts.Overrides = []string{"connect_timeout=3s"}
	inv, err := loadString(t, "inv.yml", content, opts)
	if err != nil {
		t.Fatal(err)
	}
	get := func(name string) *Host {
		for _, h := range inv.Hosts {
			if h.Name == name {
				return h
			}
		}
		t.Fatalf("no host %s", name)
		return nil
	}
	h1, h2, h3 := get("h1"), get("h2"), get("h3")
	if h1.User != "h" || h2.User != "c" || h3.User != "d" {
		t.Errorf("users = %s %s %s, want h c d", h1.User, h2.User, h3.User)
	}
	if !h1.Claim.Proxy.IsEnv() || !h3.Claim.Proxy.IsNone() {
		t.Errorf("proxy = %s %s", h1.Claim.Proxy, h3.Claim.Proxy)
	}
	if h1.Port != 2222 || !strings.HasPrefix(h1.Sources["port"], "ssh_config ") {
		t.Errorf("port = %d from %s", h1.Port, h1.Sources["port"])
	}
	if h1.ConnectTimeout.String() != "3s" || h1.Sources["connect_timeout"] != "--set" {
		t.Errorf("connect_timeout = %v from %s", h1.ConnectTimeout, h1.Sources["connect_timeout"])
	}
	// h2 is in child (rooms from defaults) and other: the more specific
	// rooms of "other" win over defaults; h3's unrelated groups add up.
	if got := strings.Join(h2.Claim.Rooms, ","); got != "00000000-0000-4000-8000-000000000002" {
		t.Errorf("h2 rooms = %s", got)
	}
	if got := len(h3.Claim.Rooms); got != 2 {
		t.Errorf("h3 rooms = %v", h3.Claim.Rooms)
	}
	if !slices.Equal(h2.Groups, []string{"child", "other", "parent"}) {
		t.Errorf("h2 groups = %v", h2.Groups)
	}
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	p := t.TempDir() + "/file"
	if err := writeFile(p, content); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestGlobMatcher: the fast glob matcher agrees with path.Match.
func TestGlobMatcher(t *testing.T) {
	pats := []string{"*", "a*b?c*", "?", "h*7.example.com", "web-?", "*.example.*", "a*b*c", "**", "*x", "x*", "", "h?0*", "web[1-3]", "a\\*b", "*/x", "é*"}
	names := []string{"", "a", "a*0b0c", "web-1", "web-12", "h0000017.example.com", "h7.example.com", "abc", "aXbYc", "acb", "x", "xx", "a/x", "éa", "a*b", "web2", "h00", "h10x"}
	for _, p := range pats {
		m := globMatcher(p)
		for _, n := range names {
			want, _ := path.Match(p, n)
			if got := m(n); got != want {
				t.Errorf("globMatcher(%q)(%q) = %v, path.Match %v", p, n, got, want)
			}
		}
	}
}
