package claim

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/fleetclaim/fleetclaim/inventory"
	"github.com/fleetclaim/fleetclaim/remote"
)

// Benchmarks of what fleetclaim does per host on the client besides SSH
// itself; `make bench` runs them, BENCHMARKS.md quotes them.

func benchHost() *inventory.Host {
	return &inventory.Host{Name: "node00042.example.com", Address: "10.0.0.42", Groups: []string{"rack01", "region0"},
		Claim: inventory.Claim{URL: "https://app.netdata.cloud", Rooms: []string{"00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"}, Proxy: inventory.NewProxy("env")}}
}

// BenchmarkClaimConfScript builds a v2 host's claim.conf and the script that
// writes it with the CA chain and reloads the agent.
func BenchmarkClaimConfScript(b *testing.B) {
	h := benchHost()
	tok := inventory.NewSecret(strings.Repeat("t", 135))
	in := &remote.Install{ConfigDir: "/etc/netdata", VarLibDir: "/var/lib/netdata", CLI: "/usr/sbin/netdatacli", RunAsUser: "netdata"}
	ca := []byte("-----BEGIN CERTIFICATE-----\n" + strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\n", 30) + "-----END CERTIFICATE-----\n")
	b.ReportAllocs()
	for b.Loop() {
		conf, err := claimConfText(h, tok)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := buildClaimConfScript(claimConfSpec{In: in, Conf: conf, CA: ca}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResultJSONLine encodes one host's full record as the JSON line of
// --results and --output jsonl.
func BenchmarkResultJSONLine(b *testing.B) {
	on := true
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := Result{Host: "node00042.example.com", Address: "10.0.0.42", Groups: []string{"rack01", "region0"},
		Status: StatusClaimed, Message: "claimed and online (claimed id 2a31b4c8-a281-4384-ad4d-798a519d0ad5)",
		Method: "claim-conf", OS: "Debian GNU/Linux 12 (bookworm)", Arch: "x86_64", AgentVersion: "v2.1.0",
		InstallType: "kickstart-static", RunAsUser: "netdata", MachineGUID: "2a31b4c8-a281-4384-ad4d-798a519d0ad5",
		ClaimedID: "2a31b4c8-a281-4384-ad4d-798a519d0ad5", Online: &on,
		Troubleshooting: &Troubleshooting{CloudEnabled: &on, CloudAvailable: &on},
		Rooms:           []string{"00000000-0000-4000-8000-000000000001"},
		Steps:           []Step{{Name: "connect", Millis: 43}, {Name: "probe", Millis: 20}, {Name: "claim", Millis: 30}, {Name: "verify", Millis: 10}},
		Attempts:        1, Start: start, End: start.Add(time.Second)}
	b.ReportAllocs()
	for b.Loop() {
		line, err := json.Marshal(r)
		if err != nil || len(line) == 0 {
			b.Fatal(err)
		}
	}
}
