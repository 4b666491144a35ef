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
	if !NewProxy("none").IsNone() || !NewProxy("env").IsEnv() || !NewProxy("").IsZero() || NewProxy("env").IsURL() {
		t.Error("none/env/unset misread")
	}
}
