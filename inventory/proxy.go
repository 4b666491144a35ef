package inventory

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Proxy values that are not URLs.
const (
	// ProxyNone makes the agent connect directly.
	ProxyNone = "none"
	// ProxyEnv makes the agent read http_proxy/https_proxy.
	ProxyEnv = "env"
)

// Proxy is the proxy a host's agent reaches Cloud through: unset (the
// agent's own setting), "none", "env" or a proxy URL. The user:password@ of
// a URL is a secret: String, GoString, Format, JSON and text encodings show
// it as [REDACTED] (http://[REDACTED]@proxy:3128); only Reveal gives the
// value, for the one place that sends it to the host. The value holds the
// credentials in a Secret and only the redacted URL as text, so that even
// fmt printing a Proxy through an unexported field, which calls no method,
// shows no password. A Proxy made by the inventory has passed ParseProxy.
type Proxy struct {
	// shown is the proxy as every output shows it (credentials redacted).
	shown string
	// cred is the URL's user:password, zero when it has none.
	cred Secret
}

// NewProxy wraps s as it is, unchecked (tests and callers that built the
// value themselves); the inventory uses ParseProxy.
func NewProxy(s string) Proxy {
	scheme, cred, ok := splitCredentials(s)
	if !ok {
		return Proxy{shown: s}
	}
	return Proxy{shown: scheme + redacted + "@" + s[len(scheme)+len(cred)+1:], cred: NewSecret(cred)}
}

// IsZero reports whether no proxy is set (the agent keeps its own setting).
func (p Proxy) IsZero() bool { return p.shown == "" }

// IsNone reports whether the proxy is "none".
func (p Proxy) IsNone() bool { return p.shown == ProxyNone }

// IsEnv reports whether the proxy is "env".
func (p Proxy) IsEnv() bool { return p.shown == ProxyEnv }

// IsURL reports whether the proxy is a proxy URL.
func (p Proxy) IsURL() bool { return p.shown != "" && !p.IsNone() && !p.IsEnv() }

// HasCredentials reports whether the proxy URL carries user:password@.
func (p Proxy) HasCredentials() bool { return !p.cred.IsZero() }

// Credentials returns the user:password of the proxy URL (as written,
// percent-encoded), empty when there is none.
func (p Proxy) Credentials() Secret { return p.cred }

// Reveal returns the proxy with its credentials, for the one place that
// sends it to the host.
func (p Proxy) Reveal() string {
	if p.cred.IsZero() {
		return p.shown
	}
	i := strings.Index(p.shown, "://") + 3
	return p.shown[:i] + p.cred.Reveal() + p.shown[i+len(redacted):]
}

// String is the proxy with its credentials, if any, redacted.
func (p Proxy) String() string { return p.shown }

// Format prints String for every verb of fmt: without it, verbs that do
// not use String (%d, %t) print the fields.
func (p Proxy) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprint(f, strconv.Quote(p.shown))
		return
	}
	fmt.Fprint(f, p.shown)
}

// GoString is String: %#v shows no credentials either.
func (p Proxy) GoString() string { return p.String() }

// MarshalJSON writes the redacted proxy.
func (p Proxy) MarshalJSON() ([]byte, error) { return json.Marshal(p.String()) }

// MarshalText writes the redacted proxy.
func (p Proxy) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// Redact replaces the proxy's credentials in s, wherever a message, a
// plan line or a host's answer repeats them: user:password as written and
// percent-decoded, and the password alone (from 4 bytes on).
func (p Proxy) Redact(s string) string {
	for _, v := range p.secrets() {
		s = strings.ReplaceAll(s, v, "[REDACTED]")
	}
	return s
}

// secrets returns the texts Redact removes, longest first.
func (p Proxy) secrets() []string {
	_, cred, ok := p.split()
	if !ok {
		return nil
	}
	out := []string{cred}
	add := func(v string) {
		if len(v) >= 4 && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	user, pass, _ := strings.Cut(cred, ":")
	du, err1 := url.PathUnescape(user)
	dp, err2 := url.PathUnescape(pass)
	if err1 == nil && err2 == nil && pass != "" {
		add(du + ":" + dp)
		add(dp)
	}
	add(pass)
	return out
}

// split returns "scheme://" and the user:password of a proxy URL with
// credentials; ok is false when there are none.
func (p Proxy) split() (scheme, cred string, ok bool) {
	if p.cred.IsZero() {
		return "", "", false
	}
	return p.shown[:strings.Index(p.shown, "://")+3], p.cred.Reveal(), true
}

// splitCredentials returns "scheme://" and the user:password of the proxy
// URL s; ok is false when it has none.
func splitCredentials(s string) (scheme, cred string, ok bool) {
	i := strings.Index(s, "://")
	if i < 0 {
		return "", "", false
	}
	rest := s[i+3:]
	at := strings.LastIndexByte(rest, '@')
	if at <= 0 {
		return "", "", false
	}
	if slash := strings.IndexByte(rest, '/'); slash >= 0 && slash < at {
		return "", "", false
	}
	return s[:i+3], rest[:at], true
}
