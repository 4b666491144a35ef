package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fleetclaim/fleetclaim/inventory"
)

// The examples must work in their own ecosystems. These tests parse each
// example and assert the properties that make it work there, and run the
// ecosystem's own validator where one is installed (systemd-analyze,
// actionlint, shellcheck).

// yamlDocs decodes every document of a YAML file.
func yamlDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, doc)
	}
}

// dig follows a dotted path of map keys.
func dig(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func digMap(v any, path string) map[string]any {
	m, _ := dig(v, path).(map[string]any)
	return m
}

func digList(v any, path string) []any {
	l, _ := dig(v, path).([]any)
	return l
}

// k8sWorkload is a pod template with the Job spec around it.
type k8sWorkload struct {
	file, kind string
	job        map[string]any
	pod        map[string]any
	claims     map[string]bool // PersistentVolumeClaims defined in the file
	configMaps map[string]map[string]any
}

func k8sWorkloads(t *testing.T) []k8sWorkload {
	var out []k8sWorkload
	for _, file := range []string{"../../examples/kubernetes/cronjob.yaml", "../../examples/kubernetes/indexed-job.yaml"} {
		docs := yamlDocs(t, file)
		claims := map[string]bool{}
		cms := map[string]map[string]any{}
		for _, d := range docs {
			switch d["kind"] {
			case "PersistentVolumeClaim":
				claims[dig(d, "metadata.name").(string)] = true
			case "ConfigMap":
				cms[dig(d, "metadata.name").(string)] = digMap(d, "data")
			}
		}
		for _, d := range docs {
			w := k8sWorkload{file: file, kind: fmt.Sprint(d["kind"]), claims: claims, configMaps: cms}
			switch w.kind {
			case "CronJob":
				w.job = digMap(d, "spec.jobTemplate.spec")
			case "Job":
				w.job = digMap(d, "spec")
			default:
				continue
			}
			w.pod = digMap(w.job, "template.spec")
			out = append(out, w)
		}
	}
	if len(out) != 2 {
		t.Fatalf("found %d Kubernetes workloads, want a CronJob and a Job", len(out))
	}
	return out
}

// podSecurityRestricted asserts the Pod Security Standard "restricted"
// (kubernetes.io/docs/concepts/security/pod-security-standards: runAsNonRoot,
// allowPrivilegeEscalation false, capabilities drop ALL, seccomp
// RuntimeDefault or Localhost) and a read-only root filesystem.
func podSecurityRestricted(t *testing.T, w k8sWorkload) {
	psc := digMap(w.pod, "securityContext")
	if psc["runAsNonRoot"] != true {
		t.Errorf("%s: runAsNonRoot is not true", w.file)
	}
	if uid, _ := psc["runAsUser"].(int); uid == 0 {
		t.Errorf("%s: runAsUser is root or unset", w.file)
	}
	if gid, _ := psc["fsGroup"].(int); gid == 0 {
		t.Errorf("%s: no fsGroup: the user cannot read the secret files", w.file)
	}
	if dig(psc, "seccompProfile.type") != "RuntimeDefault" {
		t.Errorf("%s: seccompProfile.type = %v, want RuntimeDefault", w.file, dig(psc, "seccompProfile.type"))
	}
	containers := digList(w.pod, "containers")
	if len(containers) == 0 {
		t.Fatalf("%s: no containers", w.file)
	}
	for _, c := range containers {
		name := dig(c, "name")
		img, _ := dig(c, "image").(string)
		if i := strings.LastIndex(img, ":"); strings.HasSuffix(img, ":latest") || i < strings.LastIndex(img, "/") {
			t.Errorf("%s: container %v image %q: pin a version, not :latest or none", w.file, name, img)
		}
		csc := digMap(c, "securityContext")
		if csc["allowPrivilegeEscalation"] != false {
			t.Errorf("%s: container %v: allowPrivilegeEscalation is not false", w.file, name)
		}
		if csc["readOnlyRootFilesystem"] != true {
			t.Errorf("%s: container %v: readOnlyRootFilesystem is not true", w.file, name)
		}
		if !slices.Contains(digList(csc, "capabilities.drop"), any("ALL")) {
			t.Errorf("%s: container %v: capabilities.drop lacks ALL", w.file, name)
		}
	}
}

// mounts maps each mount path of the first container to its volume.
func mounts(w k8sWorkload) map[string]map[string]any {
	vols := map[string]map[string]any{}
	for _, v := range digList(w.pod, "volumes") {
		m := v.(map[string]any)
		vols[m["name"].(string)] = m
	}
	out := map[string]map[string]any{}
	for _, vm := range digList(digList(w.pod, "containers")[0], "volumeMounts") {
		m := vm.(map[string]any)
		vol := vols[m["name"].(string)]
		if vol == nil {
			continue
		}
		entry := map[string]any{"readOnly": m["readOnly"] == true}
		for k, v := range vol {
			entry[k] = v
		}
		out[m["mountPath"].(string)] = entry
	}
	return out
}

// writablePath reports whether path lies in a writable volume, and which.
func writablePath(ms map[string]map[string]any, path string) (map[string]any, bool) {
	for mp, v := range ms {
		if (path == mp || strings.HasPrefix(path, mp+"/")) && v["readOnly"] != true {
			return v, true
		}
	}
	return nil, false
}

// commandLine is the container's command and args as one text.
func commandLine(w k8sWorkload) string {
	c := digList(w.pod, "containers")[0]
	var parts []string
	for _, k := range []string{"command", "args"} {
		for _, a := range digList(c, k) {
			parts = append(parts, fmt.Sprint(a))
		}
	}
	return strings.Join(parts, " ")
}

var pathFlagRE = regexp.MustCompile(`--(history|results|retry-file)[= ]"?([^" ]+)`)

func TestExampleKubernetesWorkloads(t *testing.T) {
	for _, w := range k8sWorkloads(t) {
		podSecurityRestricted(t, w)
		if w.pod["restartPolicy"] != "Never" {
			t.Errorf("%s: restartPolicy %v: a podFailurePolicy needs Never", w.file, w.pod["restartPolicy"])
		}
		ms := mounts(w)
		fsGroup := dig(w.pod, "securityContext.fsGroup")
		for mp, v := range ms {
			sec := digMap(v, "secret")
			if sec == nil {
				continue
			}
			mode, _ := sec["defaultMode"].(int)
			if mode&0o040 == 0 || mode&0o007 != 0 || fsGroup == nil {
				t.Errorf("%s: secret at %s has mode %04o: the pod's user reads it through fsGroup, so want group-readable and nothing for others",
					w.file, mp, mode)
			}
			if v["readOnly"] != true {
				t.Errorf("%s: secret at %s is mounted writable", w.file, mp)
			}
		}
		// Every path the run writes is on a writable volume; the history
		// and results on one that outlives the pod.
		cmd := commandLine(w)
		env := map[string]string{}
		for _, e := range digList(digList(w.pod, "containers")[0], "env") {
			env[fmt.Sprint(dig(e, "name"))] = fmt.Sprint(dig(e, "value"))
		}
		var written []string
		for _, m := range pathFlagRE.FindAllStringSubmatch(cmd, -1) {
			written = append(written, m[2])
		}
		if dir, ok := env["XDG_STATE_HOME"]; ok {
			written = append(written, dir)
		} else if !strings.Contains(cmd, "--history") {
			t.Errorf("%s: neither XDG_STATE_HOME nor --history: the history is lost with the pod", w.file)
		}
		if h, ok := env["HOME"]; ok {
			if _, ok := writablePath(ms, h); !ok {
				t.Errorf("%s: HOME %s is not writable", w.file, h)
			}
		}
		if len(written) == 0 {
			t.Errorf("%s: writes no history or results", w.file)
		}
		for _, p := range written {
			v, ok := writablePath(ms, p)
			if !ok {
				t.Errorf("%s: %s is not on a writable volume (the root filesystem is read-only)", w.file, p)
				continue
			}
			claim := dig(v, "persistentVolumeClaim.claimName")
			if claim == nil || !w.claims[claim.(string)] {
				t.Errorf("%s: %s is on a volume that does not persist (%v)", w.file, p, v)
			}
		}
		if _, ok := writablePath(ms, "/tmp"); !ok {
			t.Errorf("%s: no writable /tmp", w.file)
		}
		checkPodFailurePolicy(t, w)
		checkInventoryConfigMap(t, w, ms)
	}
}

// checkPodFailurePolicy: fleetclaim's own exit codes (1 some host failed, 2
// bad inventory, 3 stopped: README "Exit codes") end the Job, or for an
// Indexed Job only that index, instead of rerunning it; disruptions are
// ignored (kubernetes.io/docs/tasks/job/pod-failure-policy).
func checkPodFailurePolicy(t *testing.T, w k8sWorkload) {
	rules := digList(w.job, "podFailurePolicy.rules")
	indexed := w.job["completionMode"] == "Indexed"
	want := "FailJob"
	if indexed {
		want = "FailIndex"
		if w.job["backoffLimitPerIndex"] == nil {
			t.Errorf("%s: an Indexed Job with FailIndex needs backoffLimitPerIndex", w.file)
		}
	}
	container := dig(digList(w.pod, "containers")[0], "name")
	var exitRule, disruption bool
	for _, r := range rules {
		if codes := digList(r, "onExitCodes.values"); r.(map[string]any)["action"] == want && dig(r, "onExitCodes.operator") == "In" {
			for _, c := range []int{1, 2, 3} {
				if !slices.Contains(codes, any(c)) {
					t.Errorf("%s: the %s rule lacks exit code %d", w.file, want, c)
				}
			}
			if n := dig(r, "onExitCodes.containerName"); n != nil && n != container {
				t.Errorf("%s: the %s rule names container %v, the container is %v", w.file, want, n, container)
			}
			exitRule = true
		}
		for _, c := range digList(r, "onPodConditions") {
			if dig(c, "type") == "DisruptionTarget" && r.(map[string]any)["action"] == "Ignore" {
				disruption = true
			}
		}
	}
	if !exitRule {
		t.Errorf("%s: no podFailurePolicy rule %s on exit codes 1, 2, 3: exit 1 would rerun the whole run", w.file, want)
	}
	if !disruption {
		t.Errorf("%s: no podFailurePolicy rule ignoring DisruptionTarget", w.file)
	}
}

// checkInventoryConfigMap: the inventory loads, and its token and key files
// are in the mounted Secrets.
func checkInventoryConfigMap(t *testing.T, w k8sWorkload, ms map[string]map[string]any) {
	data := w.configMaps["fleetclaim-inventory"]
	if data == nil {
		return // indexed-job.yaml shares cronjob.yaml's
	}
	text, _ := data["inventory.yml"].(string)
	inv, err := inventory.LoadBytes("inventory.yml", []byte(text), inventory.LoadOptions{SSHConfig: "none", User: "tester"})
	if err != nil {
		t.Fatalf("%s: the inventory ConfigMap: %v", w.file, err)
	}
	h := inv.Hosts[0]
	for _, p := range append([]string{h.Claim.Token.File}, h.IdentityFiles...) {
		found := false
		for mp, v := range ms {
			if strings.HasPrefix(p, mp+"/") && v["secret"] != nil {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: %s is not in a mounted Secret", w.file, p)
		}
	}
}

// TestExampleShellInKubernetes runs shellcheck on the Indexed Job's sh -c.
func TestExampleShellInKubernetes(t *testing.T) {
	for _, w := range k8sWorkloads(t) {
		c := digList(w.pod, "containers")[0]
		cmd := digList(c, "command")
		if len(cmd) < 2 || cmd[len(cmd)-1] != "-c" {
			continue
		}
		script := fmt.Sprint(digList(c, "args")[0])
		shellcheck(t, w.file, "sh", script)
	}
}

// shellcheck checks a script, or skips when shellcheck is not installed.
func shellcheck(t *testing.T, where, shell, script string) {
	t.Helper()
	bin, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Skip("shellcheck is not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-s", shell, "-")
	cmd.Stdin = strings.NewReader(script + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("%s: shellcheck: %v\n%s\nscript:\n%s", where, err, out, script)
	}
}

// helmDefaultURL is the chart's claiming.url default (netdata/helmchart
// charts/netdata/values.yaml, chart 3.7.172: parent, child, k8sState and
// netdataOpentelemetry all have url: "https://api.netdata.cloud").
const helmDefaultURL = "https://api.netdata.cloud"

// TestExampleHelmValues: every agent the chart runs by default claims
// (parent, child and the k8s-state Deployment, which values.yaml enables by
// default), at the chart's default url, the token from a Secret through
// envFrom (templates/*/deployment.yaml put NETDATA_CLAIM_TOKEN in env only
// when claiming.token is set; envFrom supplies it otherwise), never in the
// values or a --set flag.
func TestExampleHelmValues(t *testing.T) {
	file := "../../examples/helm/values-claim.yaml"
	docs := yamlDocs(t, file)
	if len(docs) != 1 {
		t.Fatalf("%s: %d documents", file, len(docs))
	}
	v := docs[0]
	for _, part := range []string{"parent", "child", "k8sState"} {
		c := digMap(v, part+".claiming")
		if c == nil || c["enabled"] != true {
			t.Errorf("%s: %s.claiming.enabled is not true", file, part)
			continue
		}
		if c["url"] != helmDefaultURL {
			t.Errorf("%s: %s.claiming.url = %v, want the chart's default %s", file, part, c["url"], helmDefaultURL)
		}
		if tok, ok := c["token"]; ok && tok != "" {
			t.Errorf("%s: %s.claiming.token is set: keep the token in a Secret", file, part)
		}
		for _, r := range strings.Split(fmt.Sprint(c["rooms"]), ",") {
			if !inventory.IsRoomID(strings.TrimSpace(r)) {
				t.Errorf("%s: %s.claiming.rooms: %q is not a room id", file, part, r)
			}
		}
		ef := digList(v, part+".envFrom")
		if len(ef) == 0 || dig(ef[0], "secretRef.name") == nil {
			t.Errorf("%s: %s.envFrom does not read a Secret", file, part)
		}
	}
	b, _ := os.ReadFile(file)
	if strings.Contains(string(b), "claiming.token") || !strings.Contains(string(b), "NETDATA_CLAIM_TOKEN") {
		t.Errorf("%s: the instructions should create a Secret with NETDATA_CLAIM_TOKEN, not --set claiming.token", file)
	}
}

// minActionMajor are the current major versions of the actions the workflow
// uses (their releases: actions/checkout v7 and actions/setup-go v7 in
// mid-2026, actions/upload-artifact v7 in March 2026,
// mikepenz/action-junit-report v6).
var minActionMajor = map[string]int{
	"actions/checkout":             7,
	"actions/setup-go":             7,
	"actions/upload-artifact":      7,
	"mikepenz/action-junit-report": 6,
}

func TestExampleGitHubActions(t *testing.T) {
	file := "../../examples/ci/github-actions.yml"
	wf := yamlDocs(t, file)[0]
	if p := digMap(wf, "permissions"); len(p) != 1 || p["contents"] != "read" {
		t.Errorf("%s: top-level permissions = %v, want contents: read only", file, p)
	}
	if g, _ := dig(wf, "concurrency.group").(string); g == "" {
		t.Errorf("%s: no concurrency group: two rollouts could overlap", file)
	}
	seen := map[string]bool{}
	for name, job := range digMap(wf, "jobs") {
		var junitFile string
		for _, s := range digList(job, "steps") {
			uses, _ := dig(s, "uses").(string)
			run, _ := dig(s, "run").(string)
			if m := regexp.MustCompile(`--output junit[^>]*> *"?([^" \n]+)`).FindStringSubmatch(run); m != nil {
				junitFile = m[1]
			}
			if uses == "" {
				continue
			}
			action, ver, _ := strings.Cut(uses, "@")
			major, err := strconv.Atoi(strings.TrimPrefix(strings.SplitN(ver, ".", 2)[0], "v"))
			if want, known := minActionMajor[action]; known {
				seen[action] = true
				if err != nil || major < want {
					t.Errorf("%s: %s: want v%d or later", file, uses, want)
				}
			}
			if action == "mikepenz/action-junit-report" {
				paths := fmt.Sprint(dig(s, "with.report_paths"))
				if junitFile == "" || strings.ReplaceAll(junitFile, "$SHARD", "${{ matrix.shard }}") != paths {
					t.Errorf("%s: the reporter reads %q, the claim writes %q", file, paths, junitFile)
				}
				if dig(s, "if") != "always()" {
					t.Errorf("%s: the reporter must run when the claim failed too (if: always())", file)
				}
				if dig(job, "permissions.checks") != "write" {
					t.Errorf("%s: job %s: the reporter needs permissions checks: write", file, name)
				}
			}
		}
	}
	for a := range minActionMajor {
		if !seen[a] {
			t.Errorf("%s: does not use %s", file, a)
		}
	}
	if b, _ := os.ReadFile(file); !strings.Contains(string(b), "apply per shard") {
		t.Errorf("%s: does not say that --canary and --max-fail-percentage apply per shard", file)
	}
	actionlint(t, file)
}

// actionlintVersion is the actionlint release the test runs.
const actionlintVersion = "v1.7.12"

// actionlint runs rhysd/actionlint on a workflow (shellcheck included when
// installed); it skips when the module cannot be fetched.
func actionlint(t *testing.T, file string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "run", "github.com/rhysd/actionlint/cmd/actionlint@"+actionlintVersion, file)
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	cmd.Dir = t.TempDir()
	abs, _ := filepath.Abs(file)
	cmd.Args[len(cmd.Args)-1] = abs
	out, err := cmd.CombinedOutput()
	if err == nil {
		return
	}
	if bytes.Contains(out, []byte("go: ")) && !bytes.Contains(out, []byte(filepath.Base(file)+":")) {
		t.Skipf("actionlint %s cannot be fetched or built here: %s", actionlintVersion, bytes.TrimSpace(out))
	}
	t.Errorf("actionlint %s: %v\n%s", file, err, out)
}

// unitFile is a systemd unit: section → key → values (in order).
type unitFile map[string]map[string][]string

func parseUnit(t *testing.T, path string) unitFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	u := unitFile{}
	section := ""
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			section = strings.Trim(line, "[]")
			u[section] = map[string][]string{}
		default:
			k, v, _ := strings.Cut(line, "=")
			u[section][k] = append(u[section][k], strings.Join(strings.Fields(v), " "))
		}
	}
	return u
}

func (u unitFile) get(section, key string) string {
	vs := u[section][key]
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// TestExampleSystemd: the timer's Persistent= has the OnCalendar= it needs
// (systemd.timer(5): Persistent= applies to OnCalendar= timers only), the
// service is hardened and reads the token from its credentials, and
// systemd-analyze verifies both units and rates the service's exposure.
func TestExampleSystemd(t *testing.T) {
	dir := "../../examples/systemd"
	timer := parseUnit(t, filepath.Join(dir, "fleetclaim-reconcile.timer"))
	if timer.get("Timer", "Persistent") == "true" && timer.get("Timer", "OnCalendar") == "" {
		t.Error("timer: Persistent=true without OnCalendar= does nothing")
	}
	for _, k := range []string{"OnBootSec", "OnUnitActiveSec"} {
		if timer.get("Timer", k) != "" && timer.get("Timer", "Persistent") == "true" {
			t.Errorf("timer: %s= with Persistent=: a missed run is only caught up for OnCalendar=", k)
		}
	}
	svc := parseUnit(t, filepath.Join(dir, "fleetclaim-reconcile.service"))
	for k, want := range map[string]string{
		"NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes", "PrivateDevices": "yes",
		"ProtectKernelTunables": "yes", "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes",
		"ProtectControlGroups": "yes", "RestrictNamespaces": "yes", "LockPersonality": "yes", "UMask": "0077",
		"RestrictSUIDSGID": "yes", "RestrictRealtime": "yes", "SystemCallArchitectures": "native",
	} {
		if got := svc.get("Service", k); got != want {
			t.Errorf("service: %s=%q, want %q", k, got, want)
		}
	}
	if af := svc.get("Service", "RestrictAddressFamilies"); !strings.Contains(af, "AF_INET") || strings.Contains(af, "AF_PACKET") {
		t.Errorf("service: RestrictAddressFamilies=%q", af)
	}
	if !slices.Contains(svc["Service"]["SystemCallFilter"], "@system-service") {
		t.Errorf("service: SystemCallFilter=%v lacks @system-service", svc["Service"]["SystemCallFilter"])
	}
	if svc.get("Service", "User") == "" || svc.get("Service", "User") == "root" {
		t.Error("service: runs as root")
	}
	exec := svc.get("Service", "ExecStart")
	cred, _, _ := strings.Cut(svc.get("Service", "LoadCredential"), ":")
	if cred == "" || !strings.Contains(exec, "--token-file %d/"+cred) {
		t.Errorf("service: the token should come from LoadCredential= via %%d: ExecStart=%s", exec)
	}
	systemdAnalyze(t, dir)
}

// systemdAnalyze runs systemd-analyze verify on the units (the ExecStart
// binary replaced by the one under test) and security --offline on the
// service, or skips when systemd-analyze is not installed.
func systemdAnalyze(t *testing.T, dir string) {
	bin, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	tmp := t.TempDir()
	var units []string
	for _, name := range []string{"fleetclaim-reconcile.service", "fleetclaim-reconcile.timer"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.ReplaceAll(b, []byte("/usr/local/bin/fleetclaim"), []byte(binPath))
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		units = append(units, p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, append([]string{"verify"}, units...)...).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err = exec.CommandContext(ctx, bin, "security", "--offline=yes", units[0]).CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	if level, _ := strconv.ParseFloat(string(m[1]), 64); level > 2.0 {
		t.Errorf("systemd-analyze security rates the service's exposure %.1f, want at most 2.0", level)
	}
}

// TestExampleCron: the job runs as a user who owns what it reads and
// writes (the header's install lines), under flock -n, and its command
// passes shellcheck.
func TestExampleCron(t *testing.T) {
	file := "../../examples/cron/fleetclaim"
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	owned := map[string]string{} // path → owner, from "install ... -o USER ... PATHS"
	jobs := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "#"); ok {
			fields := strings.Fields(rest)
			if len(fields) > 0 && fields[0] == "install" {
				owner := ""
				for i := 1; i < len(fields); i++ {
					switch {
					case fields[i] == "-o" || fields[i] == "-g" || fields[i] == "-m":
						if fields[i] == "-o" && i+1 < len(fields) {
							owner = fields[i+1]
						}
						i++
					case strings.HasPrefix(fields[i], "/"):
						owned[fields[i]] = owner
					}
				}
			}
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 7 || strings.Contains(fields[0], "=") {
			continue
		}
		jobs++
		user, command := fields[5], strings.Join(fields[6:], " ")
		if user == "root" {
			t.Errorf("%s: the job runs as root", file)
		}
		if fields[6] != "flock" || fields[7] != "-n" {
			t.Errorf("%s: the job is not under flock -n: runs could overlap", file)
		}
		ownedBy := func(p string) bool {
			for q, o := range owned {
				if o == user && (p == q || strings.HasPrefix(p, q+"/")) {
					return true
				}
			}
			return false
		}
		need := []string{fields[8]} // the lock file
		for _, flagName := range []string{"--token-file", "--results", "--retry-file"} {
			if i := slices.Index(fields, flagName); i > 0 && i+1 < len(fields) {
				need = append(need, fields[i+1])
			}
		}
		if m := regexp.MustCompile(`2>>\s*(\S+)`).FindStringSubmatch(command); m != nil {
			need = append(need, m[1])
		} else {
			t.Errorf("%s: stderr goes to no log", file)
		}
		for _, p := range need {
			if !ownedBy(p) {
				t.Errorf("%s: %s is not set up for user %s to use (install -o %s)", file, p, user, user)
			}
		}
		shellcheck(t, file, "sh", command)
	}
	if jobs != 1 {
		t.Fatalf("%s: %d cron jobs, want 1", file, jobs)
	}
}
