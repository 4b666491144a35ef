package inventory

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeBigInventory writes a native inventory of n hosts spread over 50
// groups under 5 parents, a tenth of them in a second, unrelated group, and
// every host with its own address and port.
func writeBigInventory(tb testing.TB, n int) string {
	var b strings.Builder
	b.WriteString("defaults:\n  user: fleet\n  identity_files: [~/.ssh/id_ed25519]\n  token_file: token\n  rooms: [00000000-0000-4000-8000-000000000000]\ngroups:\n")
	for p := range 5 {
		fmt.Fprintf(&b, "  region%d:\n    proxy: env\n    children: [", p)
		for g := p * 10; g < p*10+10; g++ {
			if g > p*10 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "rack%02d", g)
		}
		b.WriteString("]\n")
	}
	for g := range 50 {
		fmt.Fprintf(&b, "  rack%02d:\n    rooms: [00000000-0000-4000-8000-%012d]\n    hosts:\n", g, g+1)
		for i := g; i < n; i += 50 {
			fmt.Fprintf(&b, "      node%05d.example.com: {address: 10.%d.%d.%d, port: %d}\n", i, i>>16&255, i>>8&255, i&255, 2000+i%1000)
		}
	}
	b.WriteString("  canary:\n    rooms: [00000000-0000-4000-8000-999999999999]\n    hosts:\n")
	for i := 0; i < n; i += 10 {
		fmt.Fprintf(&b, "      node%05d.example.com:\n", i)
	}
	p := filepath.Join(tb.TempDir(), "big.yml")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

// BenchmarkResolve50k loads and validates a 50,000-host inventory, then
// selects a group and a shard of it and resolves those hosts, as a run
// does (LoadOptions.Lazy).
func BenchmarkResolve50k(b *testing.B) {
	p := writeBigInventory(b, 50000)
	opts := testOpts()
	opts.Lazy = true
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		inv, err := Load(p, opts)
		if err != nil {
			b.Fatal(err)
		}
		if inv.Len() != 50000 {
			b.Fatalf("%d hosts", inv.Len())
		}
		if _, err := inv.Select("region1:!canary", "3/8"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBigInventory(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	inv, err := Load(writeBigInventory(t, 5000), testOpts())
	if err != nil {
		t.Fatal(err)
	}
	h := inv.Hosts[0]
	if h.Name != "node00000.example.com" || len(h.Claim.Rooms) != 2 || h.Claim.Proxy.Reveal() != "env" {
		t.Errorf("first host = %+v", h)
	}
}
