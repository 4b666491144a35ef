package inventory

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
)

// Values that reach a host are checked here strictly, not only quoted:
// Netdata's own scripts do not quote what they are given. The v1
// netdata-claim.sh builds its curl/wget command line from -url= and
// -proxy= and evals it (netdata v1.37.1 claim/netdata-claim.sh.in:292-333:
// `eval "${URLCOMMAND} \"${TARGET_URL}\""`, the proxy inside double quotes
// for curl and unquoted in `export http_proxy=${PROXY}` for wget), and
// kickstart.sh word-splits its --install-prefix (v2.11.0
// packaging/installer/kickstart.sh:1370, 2144). So every such value is
// limited to characters no shell interprets in any of those places.

// ErrShellUnsafe is the sentinel of a value refused because a host's shell
// would interpret some of its characters.
var ErrShellUnsafe = errors.New("holds characters a shell would interpret")

// Proxy schemes the agent supports (netdata v2.11.0
// src/aclk/aclk_proxy.c:9-14, the same in v1.37.1 aclk/aclk_proxy.c:11-16),
// compared case-sensitively there: fleetclaim writes them in lower case.
var proxySchemes = []string{"http", "socks5", "socks5h"}

// ParseCloudURL checks a Cloud url: http or https, a host name or IP
// address, an optional port and an optional path of letters, digits,
// '-', '.', '_', '/' and %XX escapes; no user:password, query or fragment.
// It returns the url with a lower-case scheme and no trailing '/'.
func ParseCloudURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	// A user:password written into the url is not repeated either.
	shown := strconv.Quote(truncate(NewProxy(s).String(), 80))
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return "", fmt.Errorf("%s is not a url: want https://host[:port][/path]", shown)
	}
	scheme = strings.ToLower(scheme)
	if scheme != "https" && scheme != "http" {
		return "", fmt.Errorf("%s: scheme must be https or http", shown)
	}
	hostport, path := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		hostport, path = rest[:i], rest[i:]
	}
	if strings.IndexByte(hostport, '@') >= 0 {
		return "", fmt.Errorf("%s: a Cloud url carries no user:password", shown)
	}
	if err := checkHostPort(hostport); err != nil {
		return "", fmt.Errorf("%s: %w", shown, err)
	}
	if err := checkURLPath(path); err != nil {
		return "", fmt.Errorf("%s: %w", shown, err)
	}
	return strings.TrimRight(scheme+"://"+hostport+path, "/"), nil
}

// ParseProxy checks a proxy setting: none, env, or
// http|socks5|socks5h://[user[:password]@]host[:port]. https:// proxies
// are refused: the agent does not support them (aclk_proxy.c). The user
// and password may hold letters, digits, '-', '.', '_' and %XX escapes
// (the agent url-decodes them: v2.11.0 src/aclk/aclk_util.c:438-444).
// Errors never repeat the user or password.
func ParseProxy(s string) (Proxy, error) {
	s = strings.TrimSpace(s)
	if ls := strings.ToLower(s); ls == ProxyNone || ls == ProxyEnv {
		return NewProxy(ls), nil
	}
	shown := strconv.Quote(truncate(NewProxy(s).String(), 80))
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return Proxy{}, fmt.Errorf("%s: want none, env or a proxy URL, http://, socks5:// or socks5h://[user:password@]host[:port]", shown)
	}
	scheme = strings.ToLower(scheme)
	switch {
	case scheme == "https":
		return Proxy{}, fmt.Errorf("%s: the agent does not support https:// proxies (it knows http, socks5 and socks5h; netdata src/aclk/aclk_proxy.c): use http://", shown)
	case !slices.Contains(proxySchemes, scheme):
		return Proxy{}, fmt.Errorf("%s: scheme must be http, socks5 or socks5h", shown)
	}
	rest = strings.TrimSuffix(rest, "/")
	hostport := rest
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		if err := checkProxyCredentials(rest[:at]); err != nil {
			return Proxy{}, fmt.Errorf("%s: %w", shown, err)
		}
		hostport = rest[at+1:]
	}
	if strings.IndexByte(hostport, '/') >= 0 {
		return Proxy{}, fmt.Errorf("%s: a proxy URL has no path", shown)
	}
	if err := checkHostPort(hostport); err != nil {
		return Proxy{}, fmt.Errorf("%s: %w", shown, err)
	}
	return NewProxy(scheme + "://" + rest), nil
}

// checkHostPort checks "host", "host:port", "[v6]" or "[v6]:port" of a url.
func checkHostPort(hp string) error {
	if hp == "" {
		return errors.New("no host")
	}
	host, port := hp, ""
	if strings.HasPrefix(hp, "[") {
		end := strings.IndexByte(hp, ']')
		if end < 0 {
			return errors.New("missing ']'")
		}
		host = hp[1:end]
		if r := hp[end+1:]; r != "" {
			p, ok := strings.CutPrefix(r, ":")
			if !ok {
				return errors.New("unexpected text after ']'")
			}
			port = p
		}
		if strings.Trim(host, "0123456789abcdefABCDEF:.") != "" || net.ParseIP(host) == nil {
			return fmt.Errorf("[%s] is not an IPv6 address", truncate(host, 60))
		}
	} else {
		if i := strings.LastIndexByte(hp, ':'); i >= 0 {
			host, port = hp[:i], hp[i+1:]
		}
		if err := checkDNSName(host); err != nil {
			return err
		}
	}
	if port != "" || strings.HasSuffix(hp, ":") {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || strings.Trim(port, "0123456789") != "" {
			return fmt.Errorf("bad port %q", truncate(port, 20))
		}
	}
	return nil
}

// checkDNSName accepts host names and IPv4 addresses: letters, digits,
// '-', '_' and '.', not starting with '-' or '.'.
func checkDNSName(h string) error {
	switch {
	case h == "":
		return errors.New("no host")
	case len(h) > 253:
		return errors.New("host name too long")
	case h[0] == '-' || h[0] == '.':
		return fmt.Errorf("host %q must start with a letter or digit", truncate(h, 60))
	}
	for i := 0; i < len(h); i++ {
		if !isNameByte(h[i]) {
			return fmt.Errorf("host %q: a host name holds only letters, digits, '-', '_' and '.'", truncate(h, 60))
		}
	}
	return nil
}

func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.'
}

// checkURLPath accepts "" or a path of letters, digits, '-', '.', '_', '/'
// and %XX escapes.
func checkURLPath(p string) error {
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '/' || isNameByte(c):
		case c == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]):
			i += 2
		case c == '?' || c == '#':
			return errors.New("a Cloud url has no query or fragment")
		default:
			return fmt.Errorf("the path %w (it may hold letters, digits, '-', '.', '_', '/' and %%XX escapes)", ErrShellUnsafe)
		}
	}
	return nil
}

// checkProxyCredentials checks user[:password] without ever repeating it.
func checkProxyCredentials(cred string) error {
	user, pass, _ := strings.Cut(cred, ":")
	if user == "" {
		return errors.New("the proxy's user is empty")
	}
	for _, part := range []string{user, pass} {
		for i := 0; i < len(part); i++ {
			c := part[i]
			switch {
			case isNameByte(c):
			case c == '%' && i+2 < len(part) && isHex(part[i+1]) && isHex(part[i+2]):
				i += 2
			default:
				return fmt.Errorf("the proxy's user:password %w: it may hold letters, digits, '-', '.', '_' and %%XX escapes (percent-encode any other character; the agent decodes them)", ErrShellUnsafe)
			}
		}
	}
	return nil
}

// checkNodeName checks a hostname override: the v1 netdata-claim.sh puts it
// into its JSON request unescaped (v1.37.1 claim/netdata-claim.sh.in:272-283).
func checkNodeName(s string) error {
	if len(s) > 253 {
		return errors.New("too long (at most 253 bytes)")
	}
	if s[0] == '-' || s[0] == '.' {
		return fmt.Errorf("%q must start with a letter or digit", truncate(s, 60))
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return fmt.Errorf("%q %w: a node name holds only letters, digits, '-', '_' and '.'", truncate(s, 60), ErrShellUnsafe)
		}
	}
	return nil
}

// checkContainerName checks a Docker container name or id: Docker's own
// rule, [a-zA-Z0-9][a-zA-Z0-9_.-]* (a name starting with '-' would be an
// option of docker exec).
func checkContainerName(s string) error {
	if len(s) > 255 {
		return errors.New("too long")
	}
	c := s[0]
	if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
		return fmt.Errorf("%q must start with a letter or digit", truncate(s, 60))
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return fmt.Errorf("%q: a container name holds only letters, digits, '_', '.' and '-'", truncate(s, 60))
		}
	}
	return nil
}

// checkPrefixPath checks netdata_prefix: an absolute path of characters no
// shell splits or expands (kickstart.sh passes it on unquoted).
func checkPrefixPath(s string) error {
	if !strings.HasPrefix(s, "/") {
		return fmt.Errorf("must be an absolute path on the host, got %q", truncate(s, 80))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isNameByte(c) && c != '/' && c != '+' && c != '@' && c != ',' && c != '=' {
			return fmt.Errorf("%q %w: a prefix holds only letters, digits and - _ . / + @ , =", truncate(s, 80), ErrShellUnsafe)
		}
	}
	return nil
}

// checkUserName checks a login user: one word that cannot be an option.
func checkUserName(s string) error {
	if s[0] == '-' {
		return fmt.Errorf("%q must not start with '-'", truncate(s, 60))
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f {
			return fmt.Errorf("%q: a user name holds no spaces or control characters", truncate(s, 60))
		}
	}
	return nil
}
