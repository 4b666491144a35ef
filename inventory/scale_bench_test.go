package inventory

import (
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"testing"

	"github.com/fleetclaim/fleetclaim/inventory/invgen"
)

// writeScaleInventory writes invgen's fleet of n hosts in format under a
// temporary directory, with the files it names.
func writeScaleInventory(tb testing.TB, format string, n int) string {
	dir := tb.TempDir()
	for p, content := range invgen.Files(dir) {
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	p := filepath.Join(dir, invgen.Name(format, n))
	f, err := os.Create(p)
	if err != nil {
		tb.Fatal(err)
	}
	if err := invgen.Write(f, format, n, dir); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return p
}

// BenchmarkScale100k loads, resolves and selects (invgen.Limit) a
// 100,000-host inventory in each format, as `inventory check --limit` does.
func BenchmarkScale100k(b *testing.B) {
	for _, format := range invgen.Formats() {
		b.Run(format, func(b *testing.B) {
			p := writeScaleInventory(b, format, 100000)
			opts := testOpts()
			opts.Lazy = true
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				inv, err := Load(p, opts)
				if err != nil {
					b.Fatal(err)
				}
				sel, err := inv.Choose(invgen.Limit, "")
				if err != nil {
					b.Fatal(err)
				}
				if err := inv.CheckSelection(sel); err != nil {
					b.Fatal(err)
				}
				if sel.Len() != 9000 {
					b.Fatalf("%d hosts selected", sel.Len())
				}
			}
		})
	}
}

// liveBytesPerHost loads p, then returns the heap the inventory holds per
// host once the garbage is collected.
func liveBytesPerHost(tb testing.TB, p string, n int) float64 {
	opts := testOpts()
	opts.Lazy = true
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	inv, err := Load(p, opts)
	if err != nil {
		tb.Fatal(err)
	}
	hosts, err := inv.Choose(invgen.Limit, "")
	if err != nil {
		tb.Fatal(err)
	}
	if prof := os.Getenv("FLEETCLAIM_TEST_HEAPPROFILE"); prof != "" {
		f, err := os.Create(prof)
		if err != nil {
			tb.Fatal(err)
		}
		runtime.GC()
		pprof.WriteHeapProfile(f)
		f.Close()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(inv)
	runtime.KeepAlive(hosts)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

// lazyBudget is the most heap a lazy inventory of invgen's fleet may hold
// per host once loaded and selected: about 400 bytes are measured (20,000
// hosts), and an eager one holds over 1,100.
const lazyBudget = 600

// TestLazyMemoryBudget: a lazy inventory keeps hosts compact. The heap is
// measured after a collection, on a fixed input, so the figure does not
// depend on timing.
func TestLazyMemoryBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	const n = 20000
	for _, format := range invgen.Formats() {
		p := writeScaleInventory(t, format, n)
		got := liveBytesPerHost(t, p, n)
		t.Logf("%s: %.0f bytes live per host", format, got)
		if got > lazyBudget {
			t.Errorf("%s: %.0f bytes live per host, want at most %d", format, got, lazyBudget)
		}
	}
}

func writeInvgen(w io.Writer, format string, n int) error {
	return invgen.Write(w, format, n, "/nonexistent")
}
