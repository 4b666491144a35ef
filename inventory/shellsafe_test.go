package inventory

import (
	"strings"
	"testing"
)

// shellActive are values of settings that reach a host's scripts, each of
// which some shell on the way would interpret: the v1 netdata-claim.sh
// evals its curl/wget command line built from url and proxy, puts the
// hostname into a JSON document unescaped, and kickstart.sh word-splits
// the prefix. Every one must be refused where it is written.
var shellActive = []struct{ key, value string }{
	{"url", "https://127.0.0.1:1/$(id>PWNED)"},
	{"url", "https://127.0.0.1:1/`id`"},
	{"url", `https://127.0.0.1:1/a"b`},
	{"url", `https://127.0.0.1:1/a\b`},
	{"url", "https://127.0.0.1:1/a;id"},
	{"url", "https://$(id):1"},
	{"url", "https://user:pw@cloud.example"},
	{"url", "https://cloud.example/?q=$(id)"},
	{"proxy", "http://127.0.0.1:1/$(id)"},
	{"proxy", "http://$(id):3128"},
	{"proxy", "http://u:`id`@proxy.example:3128"},
	{"proxy", `http://u:p"@proxy.example:3128`},
	{"proxy", "http://proxy.example:3128;id"},
	{"proxy", "http://u:a~root@proxy.example:3128"},
	{"proxy", "socks5://proxy.example:1080|id"},
	{"proxy", "https://proxy.example:3128"},
	{"hostname", `web"01`},
	{"hostname", "web$(id)"},
	{"netdata_prefix", "/opt/a;id"},
	{"netdata_prefix", "/opt/$(id)"},
	{"netdata_prefix", "/opt/*"},
	{"docker_container", "--privileged"},
	{"docker_container", "netdata$(id)"},
	{"user", "-oProxyCommand=id"},
}

// TestShellActiveValuesRefused: each shell-active value is an inventory
// error at its file, line and key in every inventory format fleetclaim
// reads (native YAML, Ansible INI, Ansible YAML) and in --set, and the
// error never repeats a proxy's password.
func TestShellActiveValuesRefused(t *testing.T) {
	for _, c := range shellActive {
		ansible := "netdata_claim_" + c.key
		if c.key == "user" {
			ansible = "ansible_user"
		}
		sq := "'" + strings.ReplaceAll(c.value, "'", "''") + "'"
		formats := []struct {
			name, file, content string
			opts                LoadOptions
			want                string
		}{
			{"native", "inv.yml", "hosts:\n  h1:\n    " + c.key + ": " + sq + "\n", LoadOptions{}, "inv.yml:3:"},
			{"ansible-yaml", "inv.yml", "all:\n  hosts:\n    h1:\n      " + ansible + ": " + sq + "\n", LoadOptions{}, "inv.yml:4:"},
			{"ansible-ini", "hosts.ini", "[web]\nh1 " + ansible + "=" + c.value + "\n", LoadOptions{}, "hosts.ini:2:"},
			{"--set", "inv.yml", "hosts:\n  h1: {}\n", LoadOptions{Overrides: []string{c.key + "=" + c.value}}, "--set: " + c.key + ":"},
		}
		for _, f := range formats {
			if f.name == "ansible-ini" && strings.ContainsAny(c.value, " \"'\\") {
				continue // INI's own quoting rules, not the value's
			}
			_, err := loadString(t, f.file, f.content, f.opts)
			if err == nil {
				t.Errorf("%s: %s %q accepted", f.name, c.key, c.value)
				continue
			}
			msg := err.Error()
			if !strings.Contains(msg, f.want) || !strings.Contains(msg, c.key) && !strings.Contains(msg, ansible) {
				t.Errorf("%s: %s %q: the error does not name where: %s", f.name, c.key, c.value, msg)
			}
			if cred := NewProxy(c.value).Credentials().Reveal(); cred != "" && strings.Contains(msg, cred) {
				t.Errorf("%s: the error repeats the user:password %q: %s", f.name, cred, msg)
			}
		}
	}
}

// TestSafeValuesAccepted: the values fleets really use still load, in the
// form the host will get.
func TestSafeValuesAccepted(t *testing.T) {
	for _, c := range []struct{ key, in, want string }{
		{"url", "https://app.netdata.cloud", "https://app.netdata.cloud"},
		{"url", "HTTPS://cloud.example:8443/base/", "https://cloud.example:8443/base"},
		{"url", "http://[::1]:8080", "http://[::1]:8080"},
		{"url", "https://127.0.0.1:19999/a%20b", "https://127.0.0.1:19999/a%20b"},
		{"proxy", "none", "none"},
		{"proxy", "ENV", "env"},
		{"proxy", "http://proxy.example:3128", "http://proxy.example:3128"},
		{"proxy", "SOCKS5H://10.0.0.1:1080/", "socks5h://10.0.0.1:1080"},
		{"proxy", "socks5://[2001:db8::1]:1080", "socks5://[2001:db8::1]:1080"},
		{"proxy", "http://svc_user:p%40ss%24word@proxy.example:3128", "http://svc_user:p%40ss%24word@proxy.example:3128"},
		{"hostname", "web-01.prod_eu", "web-01.prod_eu"},
		{"netdata_prefix", "/opt/netdata-2.0+x", "/opt/netdata-2.0+x"},
		{"docker_container", "netdata_1.agent-x", "netdata_1.agent-x"},
		{"user", "DOMAIN\\ops@corp.example", "DOMAIN\\ops@corp.example"},
	} {
		inv, err := loadString(t, "inv.yml", "hosts:\n  h1:\n    "+c.key+": '"+c.in+"'\n", LoadOptions{})
		if err != nil {
			t.Errorf("%s %q refused: %v", c.key, c.in, err)
			continue
		}
		h := inv.Hosts[0]
		got := map[string]string{"url": h.Claim.URL, "proxy": h.Claim.Proxy.Reveal(), "hostname": h.Claim.Hostname,
			"netdata_prefix": h.Claim.NetdataPrefix, "docker_container": h.Claim.DockerContainer, "user": h.User}[c.key]
		if got != c.want {
			t.Errorf("%s %q became %q, want %q", c.key, c.in, got, c.want)
		}
	}
}

// TestRoomIDsFromCloudAreUUIDs: a room name resolves only to an id that is
// a UUID; whatever else the Cloud API answers never becomes a rooms value,
// which reaches the v1 script's JSON request unescaped.
func TestRoomIDsFromCloudAreUUIDs(t *testing.T) {
	inv, err := loadString(t, "inv.yml", "defaults:\n  rooms: [production]\nhosts: {h1: {}}\n", LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hostileID := `x", "y$(id)`
	err = inv.ResolveRoomNames(inv.Hosts, func(*Host) (string, []CloudRoom, error) {
		return `"lab"`, []CloudRoom{{ID: hostileID, Name: "production"}}, nil
	})
	if err == nil || !strings.Contains(err.Error(), "inv.yml:2:11: defaults.rooms:") || !strings.Contains(err.Error(), "not a UUID") {
		t.Errorf("a room id that is not a UUID: %v (rooms now %q)", err, inv.Hosts[0].Claim.Rooms)
	}
	for _, r := range inv.Hosts[0].Claim.Rooms {
		if r == hostileID {
			t.Errorf("the Cloud's answer became a room: %q", r)
		}
	}
}
