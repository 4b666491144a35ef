package claim

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDuplicateMachineGUIDEveryMode: in every mode that would claim (claim,
// reconcile) or says what it would claim (plan), the second host of a run
// with the first's machine GUID is held: failed with
// duplicate-machine-guid naming the first, nothing written on it. Verify
// only reads, and reports the clone as it is.
func TestDuplicateMachineGUIDEveryMode(t *testing.T) {
	me := currentUser(t)
	firstStatus := map[Mode]Status{ModeClaim: StatusClaimed, ModeReconcile: StatusClaimed, ModePlan: StatusPlanned}
	for _, mode := range []Mode{ModeClaim, ModePlan, ModeReconcile} {
		t.Run(string(mode), func(t *testing.T) {
			a, b := fakeInstall(t, me), fakeInstall(t, me) // same machine GUID
			c := New(localConnector{}, Options{Mode: mode, Wait: 2 * time.Second, PollInterval: 10 * time.Millisecond,
				Token: tokenOf("good-token"), OfflineFor: time.Hour})
			ha, hb := testHost(a, ""), testHost(b, "")
			ha.Name, hb.Name = "clone-a", "clone-b"
			if ra := c.Do(context.Background(), ha); ra.Status != firstStatus[mode] {
				t.Fatalf("first clone: %+v", ra)
			}
			rb := c.Do(context.Background(), hb)
			if rb.Status != StatusFailed || rb.Category != CatDuplicateGUID || rb.DuplicateOf != "clone-a" ||
				!strings.Contains(rb.Message, "clone-a") || rb.Remedy == "" {
				t.Fatalf("second clone in %s: %+v", mode, rb)
			}
			for _, f := range []string{"etc/netdata/claim.conf", "claims", "var/lib/netdata/cloud.d/claimed_id"} {
				if _, err := os.Stat(filepath.Join(b, "opt/netdata", f)); err == nil {
					t.Errorf("%s wrote %s on the clone", mode, f)
				}
			}
		})
	}
	t.Run("verify", func(t *testing.T) {
		a, b := fakeInstall(t, me), fakeInstall(t, me)
		c := New(localConnector{}, Options{Mode: ModeVerify, PollInterval: 10 * time.Millisecond})
		ha, hb := testHost(a, ""), testHost(b, "")
		ha.Name, hb.Name = "clone-a", "clone-b"
		c.Do(context.Background(), ha)
		if rb := c.Do(context.Background(), hb); rb.Category == CatDuplicateGUID {
			t.Fatalf("verify held the clone: %+v", rb)
		}
	})
}
