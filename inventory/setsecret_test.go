package inventory

import (
	"strings"
	"testing"
)

// TestSetRefusesSecrets: a secret given with --set is on fleetclaim's own
// command line, which every user of the machine can read (ps,
// /proc/PID/cmdline): the claim token, the sudo password, the API token and
// a proxy's user:password are refused there, and the error does not repeat
// them. Their _env and _file forms, and a proxy without credentials, stay.
func TestSetRefusesSecrets(t *testing.T) {
	for _, c := range []struct{ set, want string }{
		{"token=s3cr3t-claim", "--set: token: a secret on the command line"},
		{"sudo_password=s3cr3t-sudo", "--set: sudo_password: a secret on the command line"},
		{"api_token=s3cr3t-api", "--set: api_token: an inline API token is not allowed"},
		{"proxy=http://alice:s3cr3t-proxy@proxy.example:3128", "--set: proxy: a secret on the command line"},
	} {
		inv, err := loadString(t, "inv.yml", "hosts:\n  h1: {}\n", LoadOptions{Overrides: []string{c.set}})
		if err == nil {
			t.Errorf("--set %s accepted (warnings %v)", c.set, inv.Warnings)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("--set %s: %v", c.set, err)
		}
	}
	for _, set := range []string{"token_env=MY_TOKEN", "token_file=/run/secrets/claim", "sudo_password_env=SUDO_PW", "proxy=http://proxy.example:3128", "proxy=none"} {
		if _, err := loadString(t, "inv.yml", "hosts:\n  h1: {}\n", LoadOptions{Overrides: []string{set}}); err != nil {
			t.Errorf("--set %s refused: %v", set, err)
		}
	}
}
