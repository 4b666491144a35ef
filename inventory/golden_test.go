package inventory

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenCases are inventories whose resolved hosts are compared with
// testdata/golden/NAME.json (the output of inventory list --output json).
var goldenCases = []struct {
	name, path, sshConfig string
	sets                  []string
}{
	{name: "native-lab", path: "testdata/native/lab.yml"},
	{name: "native-ssh", path: "testdata/native-ssh/fleet.yml", sshConfig: "testdata/native-ssh/ssh_config"},
	{name: "native-cloud", path: "testdata/native-cloud/fleet.yml"},
	{name: "native-set", path: "testdata/native/lab.yml", sets: []string{"proxy=none", "rooms=[1e2d3c4b-5a69-4788-9900-aabbccddeeff]", "kickstart.channel=nightly"}},
	{name: "ansible-ini", path: "testdata/ansible-ini/hosts.ini"},
	{name: "ansible-yaml", path: "testdata/ansible-yaml/inventory.yml"},
	{name: "example-small", path: "../examples/inventory-small.yml"},
	{name: "example-bastion", path: "../examples/inventory-bastion.yml"},
	{name: "example-ansible", path: "../examples/ansible/hosts.ini"},
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			opts := testOpts()
			if tc.sshConfig != "" {
				opts.SSHConfig = tc.sshConfig
			}
			opts.Overrides = tc.sets
			inv, err := Load(tc.path, opts)
			if err != nil {
				t.Fatal(err)
			}
			views := make([]HostView, len(inv.Hosts))
			for i, h := range inv.Hosts {
				views[i] = h.View()
			}
			got, err := json.MarshalIndent(struct {
				Format   string       `json:"format"`
				Hosts    []HostView   `json:"hosts"`
				Warnings []Diagnostic `json:"warnings"`
			}{inv.Format, views, inv.Warnings}, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			// Absolute paths differ between machines.
			root, _ := filepath.Abs("..")
			got = bytes.ReplaceAll(got, []byte(root), []byte("$REPO"))
			got = append(got, '\n')
			golden := filepath.Join("testdata", "golden", tc.name+".json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./inventory -run TestGolden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the golden file; diff:\n%s", tc.name, lineDiff(string(want), string(got)))
			}
		})
	}
}

// lineDiff shows the first differing lines.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 10; i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			b.WriteString("line " + itoa(i+1) + ":\n- " + a + "\n+ " + c + "\n")
			shown++
		}
	}
	return b.String()
}
