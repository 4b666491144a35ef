package claim

import (
	"testing"

	"github.com/fleetclaim/fleetclaim/remote"
)

// FuzzReadScriptAnswer: what a host's claim script prints is untrusted; it
// is read into a categorised error or a state, never a panic, and an
// answer without "written=1" never counts as a claim.
func FuzzReadScriptAnswer(f *testing.F) {
	f.Add([]byte("written=1\nreload-rc=0\nreload-out=Netdata Agent is claimed to Netdata Cloud and is currently online.\n"), []byte(""), 0)
	f.Add([]byte("fleetclaim-error=write-claim-conf\n"), []byte("cat: write error: No space left on device"), 0)
	f.Add([]byte("written=1\nreload-rc=255\nreload-out=\n"), []byte{}, 0)
	f.Add([]byte("written=1\r\nreload-rc=0\r\nreload-out=is not claimed to Netdata Cloud: Failed: Gateway Timeout\r\n"), []byte{0xff}, 1)
	f.Fuzz(func(t *testing.T, stdout, stderr []byte, code int) {
		r := &hostRun{res: &Result{}}
		err := r.readReload(remote.Result{Stdout: stdout, Stderr: stderr, ExitCode: code}, "netdatacli", "")
		if err == nil && parseKV(stdout)["written"] != "1" {
			t.Fatalf("an answer without written=1 was taken for a claim: %q", stdout)
		}
		if err != nil && CategoryOf(err) == "" {
			t.Fatalf("uncategorised error %v", err)
		}
	})
}
