package inventory

import (
	"reflect"
	"testing"

	"github.com/fleetclaim/fleetclaim/inventory/invgen"
)

type lazyCase struct {
	name, path, sshConfig string
	sets                  []string
	vault                 bool
}

// lazyCases are inventories loaded both ways by TestLazySameAsEager: the
// golden ones, the inventory-script JSON, and invgen's fleet in every format.
func lazyCases(t *testing.T) []lazyCase {
	var cases []lazyCase
	for _, g := range goldenCases {
		cases = append(cases, lazyCase{name: g.name, path: g.path, sshConfig: g.sshConfig, sets: g.sets})
	}
	cases = append(cases, lazyCase{name: "ansible-json", path: ansibleListFixture, vault: true})
	for _, f := range invgen.Formats() {
		cases = append(cases, lazyCase{name: "invgen-" + f, path: writeScaleInventory(t, f, 2000)})
	}
	return cases
}

// TestLazySameAsEager: a lazy inventory resolves every host to what an eager
// load holds, warnings included, and selects the same hosts.
func TestLazySameAsEager(t *testing.T) {
	for _, tc := range lazyCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			opts := testOpts()
			if tc.sshConfig != "" {
				opts.SSHConfig = tc.sshConfig
			}
			opts.Overrides = tc.sets
			if tc.vault {
				opts.Vault = fixtureVault(t)
			}
			eager, err := Load(tc.path, opts)
			if err != nil {
				t.Fatal(err)
			}
			opts.Lazy = true
			lazy, err := Load(tc.path, opts)
			if err != nil {
				t.Fatal(err)
			}
			if lazy.Hosts != nil {
				t.Fatalf("a lazy inventory holds %d resolved hosts", len(lazy.Hosts))
			}
			if lazy.Len() != len(eager.Hosts) || len(eager.Hosts) == 0 {
				t.Fatalf("lazy Len %d, eager %d hosts", lazy.Len(), len(eager.Hosts))
			}
			for i, want := range eager.Hosts {
				if got := lazy.Host(i); !reflect.DeepEqual(got, want) {
					t.Fatalf("host %d:\nlazy  %+v\neager %+v", i, got, want)
				}
			}
			if !reflect.DeepEqual(lazy.Warnings, eager.Warnings) || !reflect.DeepEqual(lazy.Groups, eager.Groups) ||
				lazy.Format != eager.Format || lazy.Path != eager.Path {
				t.Errorf("lazy warnings %v groups %d format %s; eager %v %d %s", lazy.Warnings, len(lazy.Groups), lazy.Format,
					eager.Warnings, len(eager.Groups), eager.Format)
			}
			for _, q := range []struct{ limit, shard string }{
				{"", ""}, {"", "2/3"}, {invgen.Limit, ""}, {"*", "1/7"}, {"~.*[13]$", ""}, {"all:!nosuchgroup*", "3/3"},
				{eager.Hosts[0].Name, ""}, {eager.Hosts[len(eager.Hosts)-1].Name + ",nosuch", ""},
			} {
				want, werr := eager.Select(q.limit, q.shard)
				got, gerr := lazy.Select(q.limit, q.shard)
				if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gerr, werr) {
					t.Errorf("Select(%q, %q): lazy %s, %v; eager %s, %v", q.limit, q.shard, names(got), gerr, names(want), werr)
				}
			}
		})
	}
}
