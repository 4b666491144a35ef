package inventory

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestProxyRedacted: a proxy's user:password never shows in any formatting
// of the value, only through Reveal; the rest of the URL stays readable.
func TestProxyRedacted(t *testing.T) {
	const pw = "s3cr3t-Pa55"
	p := NewProxy("http://alice:" + pw + "@proxy.example:3128")
	if !p.IsURL() || !p.HasCredentials() || p.Credentials().Reveal() != "alice:"+pw {
		t.Fatalf("proxy %q: url %v credentials %v %q", p.Reveal(), p.IsURL(), p.HasCredentials(), p.Credentials().Reveal())
	}
	js, _ := json.Marshal(struct{ P Proxy }{p})
	ys, _ := yaml.Marshal(map[string]Proxy{"p": p})
	for _, s := range []string{p.String(), fmt.Sprint(p), fmt.Sprintf("%v %+v %#v %s", p, p, p, p), string(js), string(ys),
		fmt.Sprintf("%+v", Claim{Proxy: p}), p.Redact("curl -x " + p.Reveal() + " failed: alice:" + pw)} {
		if strings.Contains(s, pw) || strings.Contains(s, "alice") {
			t.Errorf("credentials in %q", s)
		}
		if !strings.Contains(s, "proxy.example:3128") && !strings.Contains(s, "REDACTED") {
			t.Errorf("%q says nothing of the proxy", s)
		}
	}
	if got := p.String(); got != "http://[REDACTED]@proxy.example:3128" {
		t.Errorf("String() = %q", got)
	}
	for _, s := range []string{"", "none", "env", "socks5h://10.0.0.1:1080", "http://p.example:3128/"} {
		q := NewProxy(s)
		if q.HasCredentials() || q.String() != s || q.Redact("x "+s) != "x "+s {
			t.Errorf("%q: credentials %v, String %q", s, q.HasCredentials(), q.String())
		}
	}
	// The agent decodes %XX in the user and password: so does Redact.
	enc := NewProxy("http://svc:p%40ss%24word@proxy.example:3128")
	if got := enc.Redact("auth svc:p@ss$word, then p@ss$word and svc:p%40ss%24word"); strings.Contains(got, "ss$word") || strings.Contains(got, "%24word") {
		t.Errorf("decoded credentials kept: %q", got)
	}
	if !NewProxy("none").IsNone() || !NewProxy("env").IsEnv() || !NewProxy("").IsZero() || NewProxy("env").IsURL() {
		t.Error("none/env/unset misread")
	}
}

// TestProxyCredentialsNotInDiagnostics: an inventory error that shows a
// proxy setting (a conflict between two groups, a host given two values)
// shows it redacted.
func TestProxyCredentialsNotInDiagnostics(t *testing.T) {
	for _, content := range []string{
		"groups:\n  a: {proxy: 'http://alice:Pw-a1@p.example:1', hosts: {h1: {}}}\n  b: {proxy: 'http://bob:Pw-b2@p.example:1', hosts: {h1: {}}}\n",
		"hosts:\n  h1: {proxy: 'http://alice:Pw-a1@p.example:1'}\ngroups:\n  g: {hosts: {h1: {proxy: 'http://bob:Pw-b2@p.example:1'}}}\n",
	} {
		_, err := loadString(t, "inv.yml", content, LoadOptions{})
		if err == nil {
			t.Fatalf("no error for\n%s", content)
		}
		if strings.Contains(err.Error(), "Pw-") || !strings.Contains(err.Error(), "[REDACTED]@p.example:1") {
			t.Errorf("%v", err)
		}
	}
}

// TestProxyFmtVerbs: no verb of fmt prints a proxy's password, whatever
// holds the Proxy: a verb that does not use String (%d, %x, %t), and an
// unexported field, which fmt prints without calling any method.
func TestProxyFmtVerbs(t *testing.T) {
	const pw = "s3cr3t-Pa55"
	p := NewProxy("http://alice:" + pw + "@proxy.example:3128")
	type unexported struct{ claim Claim }
	type exported struct{ P Proxy }
	holders := map[string]any{
		"value": p, "pointer": &p, "exported field": exported{P: p}, "unexported field": unexported{claim: Claim{Proxy: p}},
		"pointer to unexported": &unexported{claim: Claim{Proxy: p}}, "map": map[string]Proxy{"p": p}, "slice": []Proxy{p},
		"host": Host{Claim: Claim{Proxy: p}},
	}
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%x", "%X", "%t", "%10.3s", "%-20v"}
	for name, v := range holders {
		for _, verb := range verbs {
			got := fmt.Sprintf(verb, v)
			if strings.Contains(got, pw) || strings.Contains(strings.ToLower(got), fmt.Sprintf("%x", pw)) {
				t.Errorf("%s with %s printed the password: %s", name, verb, got)
			}
		}
	}
	if got := fmt.Sprintf("%d|%v|%q", p, p, p); got != `http://[REDACTED]@proxy.example:3128|http://[REDACTED]@proxy.example:3128|"http://[REDACTED]@proxy.example:3128"` {
		t.Errorf("a lone proxy prints %s", got)
	}
	if p.Reveal() != "http://alice:"+pw+"@proxy.example:3128" {
		t.Errorf("Reveal = %q", p.Reveal())
	}
}
