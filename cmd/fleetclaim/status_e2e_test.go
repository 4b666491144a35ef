package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fleetclaim/fleetclaim/claim"
)

// chromium runs Debian's headless Chromium on a local page with args
// (--dump-dom, --screenshot=FILE) and returns its standard output. The
// page loads nothing from elsewhere: background networking, updates and
// sync are off, and the page's own policy allows no fetch at all.
func chromium(t *testing.T, page string, args ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (apt-get install chromium)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	full := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + t.TempDir(),
		"--window-size=1280,2000"}, args...)
	cmd := exec.CommandContext(ctx, bin, append(full, "file://"+page)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, errb.String())
	}
	return out.Bytes()
}

// section returns the rendered table with the id given ("" when absent).
func section(dom, id string) string {
	i := strings.Index(dom, `id="`+id+`"`)
	if i < 0 {
		return ""
	}
	j := strings.Index(dom[i:], "</table>")
	if j < 0 {
		return dom[i:]
	}
	return dom[i : i+j]
}

// cell returns the number of the card with the id given, as rendered.
func card(t *testing.T, dom, id string) string {
	t.Helper()
	m := regexp.MustCompile(`id="` + id + `"><b[^>]*>([^<]*)</b>`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("no card %s in the page", id)
	}
	return m[1]
}

// TestE2EStatusPage: two runs over a lab with faults, then `fleetclaim
// status` as a table and as an HTML page that real headless Chromium
// renders: the rendered DOM holds the counts, the offline host and the
// hosts whose state changed between the runs (the flaky hosts, whose
// connection was lost in the first run, claimed in the second; the others
// claimed in the first are already claimed in the second: no change). The screenshot is kept in
// $FLEETCLAIM_SCREENSHOTS when set.
func TestE2EStatusPage(t *testing.T) {
	if _, err := exec.LookPath("chromium"); err != nil {
		t.Skip("chromium is not installed (apt-get install chromium)")
	}
	info := startLab(t, 9, "--personalities", "v2+offline=1,v2+flaky=2,v2+ssh-refuse=1,v2+cloud-403=1")
	inv := filepath.Join(info.Dir, "inventory.yml")
	hist := filepath.Join(info.Dir, "history")
	want := map[string]string{} // host -> its fault
	for _, h := range info.Hosts {
		if len(h.Personality.Faults) > 0 {
			want[h.Name] = string(h.Personality.Faults[0])
		}
	}
	for i := range 2 {
		r := fleetclaim(t, nil, "claim", "-i", inv, "--retries", "0", "--wait", "2s", "--history", hist, "--no-progress")
		if r.code != exitFailed {
			t.Fatalf("run %d: exit %d\n%s%s", i+1, r.code, r.stdout, r.stderr)
		}
	}
	var flaky, offline []string
	for h, f := range want {
		switch f {
		case "flaky":
			flaky = append(flaky, h)
		case "offline":
			offline = append(offline, h)
		}
	}

	r := fleetclaim(t, nil, "status", "--history", hist)
	if r.code != exitOK || !strings.Contains(r.stdout, "9 hosts, from 2 runs") ||
		!regexp.MustCompile(`(?m)^claimed\s+2$`).MatchString(r.stdout) || !regexp.MustCompile(`(?m)^already-claimed\s+4$`).MatchString(r.stdout) || !regexp.MustCompile(`(?m)^failed\s+3$`).MatchString(r.stdout) ||
		!regexp.MustCompile(`(?m)^`+offline[0]+`\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC`).MatchString(r.stdout) {
		t.Fatalf("status: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, h := range flaky {
		if !regexp.MustCompile(`(?m)^` + h + `\s+failed \[connection-lost\]\s+claimed, online`).MatchString(r.stdout) {
			t.Errorf("flaky %s is not among the changed hosts:\n%s", h, r.stdout)
		}
	}

	r = fleetclaim(t, nil, "status", "--history", hist, "--output", "html")
	if r.code != exitOK {
		t.Fatalf("status --output html: exit %d\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout, "<script") || strings.Contains(r.stdout, "http://") || strings.Contains(r.stdout, "https://") {
		t.Error("the page has a script or names another site")
	}
	page := filepath.Join(info.Dir, "status.html")
	writeTestFile(t, page, r.stdout)
	dom := string(chromium(t, page, "--dump-dom"))
	if got := card(t, dom, "card-hosts"); got != "9" {
		t.Errorf("hosts card %q", got)
	}
	if got := card(t, dom, "card-offline"); got != "1" {
		t.Errorf("offline card %q", got)
	}
	if got := card(t, dom, "card-changed"); got != "2" {
		t.Errorf("changed card %q", got)
	}
	byStatus := section(dom, "by-status")
	if !strings.Contains(byStatus, `<td class="ok">claimed</td><td class="n">2</td>`) || !strings.Contains(byStatus, `<td class="ok">already-claimed</td><td class="n">4</td>`) || !strings.Contains(byStatus, `<td class="bad">failed</td><td class="n">3</td>`) {
		t.Errorf("by status, rendered:\n%s", byStatus)
	}
	byCat := section(dom, "by-category")
	for _, c := range []claim.Category{claim.CatClaimedOffline, "connect-refused", claim.CatTokenRejected} {
		if !strings.Contains(byCat, "<td>"+string(c)+"</td><td class=\"n\">1</td>") {
			t.Errorf("by category lacks %s:\n%s", c, byCat)
		}
	}
	if off := section(dom, "offline"); !strings.Contains(off, "<td>"+offline[0]+"</td>") || strings.Count(off, "<tr>") != 2 {
		t.Errorf("offline, rendered:\n%s", off)
	}
	changed := section(dom, "changed")
	runs, err := readRuns(hist)
	if err != nil || len(runs) != 2 {
		t.Fatalf("runs %v %v", runs, err)
	}
	for _, h := range flaky {
		if !strings.Contains(changed, "<td>"+h+"</td><td>failed [connection-lost]</td><td>claimed, online</td><td><code>"+runs[0].ID+"</code></td><td><code>"+runs[1].ID+"</code></td>") {
			t.Errorf("changed lacks %s:\n%s", h, changed)
		}
	}
	if rooms := section(dom, "rooms"); !strings.Contains(rooms, "<td>production</td>") || !strings.Contains(rooms, "<td>databases</td>") {
		t.Errorf("rooms, rendered:\n%s", rooms)
	}

	shots := os.Getenv("FLEETCLAIM_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	png := filepath.Join(shots, "status-e2e.png")
	chromium(t, page, "--screenshot="+png)
	b, err := os.ReadFile(png)
	if err != nil || len(b) < 10000 || !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot %s: %d bytes, %v", png, len(b), err)
	}
	t.Logf("screenshot: %s", png)
}

// TestStatusPageEscapes: every string of a record reaches the page as
// text. Hostile host names, groups, messages and rooms rendered by real
// Chromium create no element: no script, no image, no link.
func TestStatusPageEscapes(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	off := false
	evil := `<img src=x onerror=alert(1)>`
	writeRun(t, dir, "r1", t0, claim.Result{Host: evil, Status: claim.StatusFailed, Category: claim.CatClaimedOffline, ClaimedID: "c1", Online: &off,
		Groups: []string{`"><script>alert(2)</script>`}, Message: `</td></tr></table><a href="javascript:alert(3)">x</a>` + "\x1b[2J\r",
		Rooms: []string{`<style>body{display:none}</style>`}, Start: t0, End: t0})
	st, err := loadStatus(dir, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := writeStatusHTML(&b, st); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(t.TempDir(), "evil.html")
	writeTestFile(t, page, b.String())
	dom := string(chromium(t, page, "--dump-dom"))
	for _, el := range []string{"<img", "<script", "<a ", "<style>body"} {
		if strings.Contains(dom, el) {
			t.Errorf("the page renders an element %s:\n%s", el, dom)
		}
	}
	if !strings.Contains(dom, "&lt;img src=x onerror=alert(1)&gt;") || !strings.Contains(dom, "&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;") {
		t.Errorf("the hostile text is not shown as text:\n%s", dom)
	}
	// The table: the terminal escape is shown, not sent.
	var tb bytes.Buffer
	if err := writeStatusTable(&tb, st); err != nil || strings.ContainsAny(tb.String(), "\x1b\r") || !strings.Contains(tb.String(), `\x1b[2J`) {
		t.Errorf("table (%v):\n%q", err, tb.String())
	}
}
