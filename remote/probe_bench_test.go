package remote

import (
	"os"
	"testing"
)

// BenchmarkParseProbe parses one host's probe answer (a real capture from a
// Debian 12 host with Netdata's distribution package): once per host per run.
func BenchmarkParseProbe(b *testing.B) {
	out, err := os.ReadFile("testdata/probe/debian12-netdata-1.37.1-distro-package.txt")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(out)))
	b.ReportAllocs()
	for b.Loop() {
		f, err := ParseProbe(out)
		if err != nil {
			b.Fatal(err)
		}
		if len(f.Installs) == 0 {
			b.Fatal("no install parsed")
		}
	}
}
