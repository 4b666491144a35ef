package sshconfig

import "testing"

// TestResultKey: resolutions from the same lines with the same Hostname
// have one Key; other lines, another HostName, or a %-token outside
// HostName make them differ or have none.
func TestResultKey(t *testing.T) {
	c, err := OpenBytes("cfg", "/home/u", []byte("Host a* b*\n  User x\nHost b*\n  Port 2222\nHost n*\n  HostName %h.in\nHost t*\n  IdentityFile ~/.ssh/%h\nHost *\n  ConnectTimeout 5\n  User y\n"))
	if err != nil {
		t.Fatal(err)
	}
	key := func(host, user string) string {
		r, err := c.Resolve(Query{Host: host, User: user, LocalUser: "me"})
		if err != nil {
			t.Fatal(err)
		}
		return r.Key()
	}
	if key("a1", "") != key("a2", "") || key("a1", "") == "" {
		t.Errorf("a1 and a2 resolve alike, keys %q %q", key("a1", ""), key("a2", ""))
	}
	for _, other := range [][2]string{{"b1", ""}, {"c1", ""}, {"a1", "cli"}, {"n1", ""}} {
		if key(other[0], other[1]) == key("a1", "") {
			t.Errorf("%s (user %q) has a1's key %q", other[0], other[1], key("a1", ""))
		}
	}
	if key("n1", "") == key("n2", "") {
		t.Errorf("n1 and n2 have different HostNames but one key %q", key("n1", ""))
	}
	if k := key("t1", ""); k != "" {
		t.Errorf("t1's IdentityFile has a %%-token, key %q, want none", k)
	}
}

// TestSignature: queries matching the same Host lines (and giving a user
// and port alike) have one Signature; Match, Include and canonicalization
// have none.
func TestSignature(t *testing.T) {
	c, err := OpenBytes("cfg", "/home/u", []byte("Host a* !ab\n  User x\nHost *.example.com\n  Port 2\nHost *\n  ConnectTimeout 5\n"))
	if err != nil {
		t.Fatal(err)
	}
	sig := func(q Query) uint64 {
		s, ok := c.Signature(q)
		if !ok {
			t.Fatalf("%+v: no signature", q)
		}
		return s
	}
	if sig(Query{Host: "a1"}) != sig(Query{Host: "a2"}) {
		t.Error("a1 and a2 match the same lines, signatures differ")
	}
	for _, q := range []Query{{Host: "ab"}, {Host: "a1.example.com"}, {Host: "b"}, {Host: "a1", User: "u"}, {Host: "a1", Port: 22}} {
		if sig(q) == sig(Query{Host: "a1"}) {
			t.Errorf("%+v has a1's signature", q)
		}
	}
	for _, text := range []string{"Match host a\n  User x\n", "Include other\n", "CanonicalizeHostname yes\n"} {
		c, err := OpenBytes("cfg", "/home/u", []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := c.Signature(Query{Host: "a"}); ok {
			t.Errorf("%q: a signature", text)
		}
	}
}
