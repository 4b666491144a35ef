package claim

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeClaimV1 is a v1 netdata-claim.sh stand-in: it records the token file's
// mode, owner and content and its own arguments, then exits with the code in
// $base/exitcode after printing $base/msg. On success it claims like the real
// script: claimed_id written, token removed.
const fakeClaimV1 = `#!/bin/sh
base=$(cd "$(dirname "$0")/.." && pwd)
lib="$base/var/lib/netdata"
stat -c '%a %U' "$lib/cloud.d/token" > "$base/token-stat" 2>&1
cat "$lib/cloud.d/token" > "$base/token-seen" 2>&1
printf '%s\n' "$@" > "$base/args"
printf '%s\n' "${https_proxy:-}" > "$base/env-proxy"
rc=$(cat "$base/exitcode" 2>/dev/null || echo 0)
cat "$base/msg" 2>/dev/null
if [ "$rc" = 0 ] || [ "$rc" = 5 ]; then
  echo 22222222-3333-4444-8555-666666666666 > "$lib/cloud.d/claimed_id"
  echo https://cloud.example > "$lib/cloud.d/url"
  rm -f "$lib/cloud.d/token"
fi
exit "$rc"
`

func fakeV1Install(t *testing.T, runAs string, rc int, msg string) string {
	t.Helper()
	root := fakeInstall(t, runAs)
	nd := filepath.Join(root, "opt/netdata")
	for name, body := range map[string]string{
		"bin/netdata-claim.sh": fakeClaimV1,
		"bin/netdata":          "#!/bin/sh\ncase \"$1\" in -v|-V) echo 'netdata v1.44.3';; esac\n",
		"exitcode":             strconv.Itoa(rc) + "\n",
		"msg":                  msg,
	} {
		if err := os.WriteFile(filepath.Join(nd, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestClaimScriptExitCodes runs the v1 method against a fake script for
// every exit code netdata-claim.sh knows, and checks the category, that the
// token was in cloud.d/token with mode 0600 before the script ran, never in
// its arguments, and gone afterwards.
func TestClaimScriptExitCodes(t *testing.T) {
	me := currentUser(t)
	cases := []struct {
		rc   int
		msg  string
		want Category // "" = claimed
	}{
		{0, "Node was successfully claimed.", ""},
		{1, "Unknown argument -bogus", CatClaimFailed},
		{2, "Failed to create cloud.d", CatWriteFailed},
		{3, "This agent was built with --disable-cloud and cannot be claimed", CatUnsupportedInstall},
		{3, "curl or wget is required", CatCommandNotFound},
		{4, "Failed to connect to https://cloud.example", CatCloudUnreachable},
		{5, "claimed, but the agent could not be notified", ""},
		{6, "This script must be run by the netdata user account", CatNoPrivilege},
		{7, "Unknown HTTP error", CatCloudError},
		{8, "ErrInvalidNodeID", CatInvalidNode},
		{9, "ErrInvalidNodeName", CatInvalidNode},
		{10, "ErrInvalidRoomID", CatRoomInvalid},
		{11, "ErrInvalidPublicKey", CatInvalidNode},
		{12, "ErrForbidden", CatTokenRejected},
		{13, "ErrAlreadyClaimed", CatAlreadyClaimedElse},
		{14, "ErrProcessingClaim", CatCloudError},
		{15, "Internal Server Error", CatCloudError},
		{16, "Gateway Timeout", CatCloudError},
		{17, "Service Unavailable", CatCloudError},
		{18, "Unable to read the machine GUID", CatNoMachineGUID},
		// The script's own line when curl got no answer, with curl's exit
		// code (testdata/real/v1.37.1/exit7-*).
		{7, "Failed to connect to https://cloud.example, return code 7", CatCloudUnreachable},
		{7, "Failed to connect to https://cloud.example, return code 60", CatCertificate},
	}
	for _, tc := range cases {
		t.Run(strconv.Itoa(tc.rc)+"/"+string(tc.want), func(t *testing.T) {
			root := fakeV1Install(t, me, tc.rc, tc.msg)
			nd := filepath.Join(root, "opt/netdata")
			c := New(localConnector{}, Options{Wait: 2 * time.Second, PollInterval: 10 * time.Millisecond, Token: tokenOf("v1-s3cret-token")})
			res := c.Do(context.Background(), testHost(root, ""))
			if res.Method != MethodClaimScript {
				t.Fatalf("method %q: %+v", res.Method, res)
			}
			if tc.want == "" {
				if res.Status != StatusClaimed || res.ClaimedID != "22222222-3333-4444-8555-666666666666" {
					t.Fatalf("%+v", res)
				}
			} else if res.Status != StatusFailed || res.Category != tc.want || res.Remedy == "" {
				t.Fatalf("exit %d: got %s [%s] %q (remedy %q), want [%s]", tc.rc, res.Status, res.Category, res.Message, res.Remedy, tc.want)
			}
			if b, _ := os.ReadFile(filepath.Join(nd, "token-stat")); strings.TrimSpace(string(b)) != "600 "+me {
				t.Errorf("cloud.d/token was %q when the script ran, want 600 %s", b, me)
			}
			if b, _ := os.ReadFile(filepath.Join(nd, "token-seen")); strings.TrimSpace(string(b)) != "v1-s3cret-token" {
				t.Errorf("cloud.d/token held %q", b)
			}
			args, _ := os.ReadFile(filepath.Join(nd, "args"))
			if strings.Contains(string(args), "s3cret") || !strings.Contains(string(args), "-rooms=") || !strings.Contains(string(args), "-noproxy") {
				t.Errorf("arguments: %q", args)
			}
			if _, err := os.Stat(filepath.Join(nd, "var/lib/netdata/cloud.d/token")); !os.IsNotExist(err) {
				t.Errorf("cloud.d/token left behind (%v)", err)
			}
			if strings.Contains(res.Message, "s3cret") {
				t.Errorf("token in message %q", res.Message)
			}
			if tc.rc == 5 {
				if b, _ := os.ReadFile(filepath.Join(nd, "service.log")); !strings.HasSuffix(string(b), "stop\nstart\n") {
					t.Errorf("exit 5 did not restart the agent (stop, then start): service log %q", b)
				}
			}
		})
	}
}

// TestEmitLines: the builtin-only line loop prints what the read loop over a
// pipe printed, for every value, in each test shell.
func TestEmitLines(t *testing.T) {
	values := []string{"", "one", "a\nb", "a\n\nb", "cr\r", "  lead and trail  ", "*glob* $HOME `x` \\n", "-n", "\n\nx", "tab\there"}
	for sh, argv := range testShells(t) {
		for _, v := range values {
			script := "out=$(printf '%s' \"$1\")\n"
			oldLoop := script + "printf '%s\\n' \"$out\" | while IFS= read -r l; do printf 'k=%s\\n' \"$l\"; done\n"
			newLoop := libSnippet(t, script+"emit_lines k \"$out\"\n")
			var got [2]string
			for i, s := range []string{oldLoop, newLoop} {
				out, err := shellC(argv, s, v).CombinedOutput()
				if err != nil {
					t.Fatalf("%s %q: %v\n%s", sh, v, err, out)
				}
				got[i] = string(out)
			}
			if got[0] != got[1] {
				t.Errorf("%s %q: loop printed %q, the pipe %q", sh, v, got[1], got[0])
			}
		}
	}
}
