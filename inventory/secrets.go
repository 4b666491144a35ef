package inventory

import (
	"errors"
	"fmt"
	"iter"
	"os"
	"slices"
	"strconv"
	"strings"
)

// CheckSecrets checks, without contacting any host, that what hosts need
// from this machine is there: the claim token source (env var set, or file
// readable and not empty), identity files, known_hosts files under the strict
// policy, CA and kickstart files, and the sudo password source when become
// is used. Each problem is reported once, at the place the setting came
// from, with the hosts it affects. Errors are an Errors value.
func (inv *Inventory) CheckSecrets(hosts []*Host) error {
	return inv.checkSecrets(slices.Values(hosts))
}

// CheckHosts is CheckSecrets for hosts given one at a time, each dropped
// once checked (a claim run's, resolved as it asks).
func (inv *Inventory) CheckHosts(hosts iter.Seq[*Host]) error {
	return inv.checkSecrets(hosts)
}

// CheckSelection is CheckSecrets for the hosts of a Selection, each resolved
// in turn and dropped once checked.
func (inv *Inventory) CheckSelection(sel Selection) error {
	return inv.checkSecrets(sel.All())
}

func (inv *Inventory) checkSecrets(hosts iter.Seq[*Host]) error {
	lookup := inv.lookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	sc := &secretCheck{path: inv.Path, lookup: lookup, problems: map[string]*secretProblem{}, checked: map[string]string{}}
	for h := range hosts {
		sc.host(h)
	}
	return sc.errors()
}

// secretCheck is one checkSecrets pass: each file and variable is looked
// at once, and each problem is reported once with the hosts it concerns.
type secretCheck struct {
	path     string // the inventory's, for problems without a source
	lookup   func(string) (string, bool)
	order    []string
	problems map[string]*secretProblem
	checked  map[string]string // "file:PATH" / "env:NAME" → problem text ("" = fine)
}

// secretProblem is one problem and the hosts it concerns (the first three
// named, count in all).
type secretProblem struct {
	d     Diagnostic
	hosts []string
	count int
}

// host checks the secrets and local files one host needs.
func (sc *secretCheck) host(h *Host) {
	sc.ref(h, "token", h.Claim.Token, "claim token")
	fromSSH := strings.HasPrefix(h.Sources["identity_files"], "ssh_config ")
	for _, f := range h.IdentityFiles {
		if _, err := os.Stat(f); fromSSH && errors.Is(err, os.ErrNotExist) {
			continue // ssh skips an IdentityFile that does not exist
		}
		if r := sc.file(f, false, true); r != "" {
			sc.report(h, "identity_files", h.Sources["identity_files"], "identity file: "+r)
		}
	}
	if h.HostKeyPolicy == "strict" && len(h.KnownHosts) > 0 {
		sc.knownHosts(h)
	}
	if h.Claim.CAFile != "" {
		if r := sc.file(h.Claim.CAFile, false, true); r != "" {
			sc.report(h, "ca_file", h.Sources["ca_file"], "CA file: "+r)
		}
	}
	if f := h.Claim.Kickstart.ScriptFile; f != "" {
		if r := sc.file(f, false, true); r != "" {
			sc.report(h, "kickstart.script_file", h.Sources["kickstart.script_file"], "kickstart script: "+r)
		}
	}
	if d := h.Claim.Kickstart.OfflineBundle; d != "" {
		if r := sc.file(d, true, false); r != "" {
			sc.report(h, "kickstart.offline_bundle", h.Sources["kickstart.offline_bundle"], "offline bundle: "+r)
		}
	}
	if h.Become != "none" && !h.SudoPassword.IsZero() {
		sc.ref(h, "sudo_password", h.SudoPassword, "sudo password")
	}
}

// knownHosts: under host_key_policy strict, one of the known_hosts files
// must be readable.
func (sc *secretCheck) knownHosts(h *Host) {
	var first string
	for _, f := range h.KnownHosts {
		r := sc.file(f, false, false)
		if r == "" {
			return
		}
		if first == "" {
			first = r
		}
	}
	sc.report(h, "known_hosts", h.Sources["known_hosts"], "no readable known_hosts file under host_key_policy strict: "+first)
}

// report records a problem of host h with key.
func (sc *secretCheck) report(h *Host, key, source, msg string) {
	id := key + "\x00" + source + "\x00" + msg
	p, ok := sc.problems[id]
	if !ok {
		file, line, col := parseSource(source)
		if file == "" {
			file = sc.path
		}
		p = &secretProblem{d: Diagnostic{File: file, Line: line, Col: col, Key: key, Msg: msg}}
		sc.problems[id] = p
		sc.order = append(sc.order, id)
	}
	p.count++
	if len(p.hosts) < 3 {
		p.hosts = append(p.hosts, h.Name)
	}
}

// file checks a local file (or directory, wantDir) once: what is wrong
// with it, "" when nothing.
func (sc *secretCheck) file(path string, wantDir, wantContent bool) string {
	id := "file:" + path
	if r, ok := sc.checked[id]; ok {
		return r
	}
	r := ""
	st, err := os.Stat(path)
	switch {
	case err != nil:
		r = fmt.Sprintf("%s: %v", path, unwrapPathError(err))
	case wantDir && !st.IsDir():
		r = fmt.Sprintf("%s is not a directory", path)
	case !wantDir && st.IsDir():
		r = fmt.Sprintf("%s is a directory", path)
	case !wantDir:
		data, err := os.ReadFile(path)
		if err != nil {
			r = fmt.Sprintf("%s: %v", path, unwrapPathError(err))
		} else if wantContent && strings.TrimSpace(string(data)) == "" {
			r = fmt.Sprintf("%s is empty", path)
		}
	}
	sc.checked[id] = r
	return r
}

// ref checks that a secret's file or environment variable holds it.
func (sc *secretCheck) ref(h *Host, key string, ref SecretRef, what string) {
	src := h.Sources[key]
	switch {
	case ref.Inline != "":
	case ref.File != "":
		if r := sc.file(ref.File, false, true); r != "" {
			sc.report(h, key, src, what+" file: "+r)
		}
	case ref.Env != "":
		if r := sc.env(ref.Env, src == ""); r != "" {
			sc.report(h, key, src, what+": "+r)
		}
	}
}

// env checks an environment variable once; byDefault: it is the default
// token source, not one the inventory named.
func (sc *secretCheck) env(name string, byDefault bool) string {
	id := "env:" + name
	if r, ok := sc.checked[id]; ok {
		return r
	}
	r := ""
	if v, set := sc.lookup(name); !set || strings.TrimSpace(v) == "" {
		r = fmt.Sprintf("environment variable %s is not set", name)
		if byDefault {
			r += " (the default token source; set it, or set token_file or token_env)"
		}
	}
	sc.checked[id] = r
	return r
}

// errors is every problem found, each naming its hosts; nil when none.
func (sc *secretCheck) errors() error {
	if len(sc.order) == 0 {
		return nil
	}
	errs := make(Errors, 0, len(sc.order))
	for _, id := range sc.order {
		p := sc.problems[id]
		d := p.d
		d.Msg += " (host " + strings.Join(p.hosts, ", ")
		if p.count > len(p.hosts) {
			d.Msg += " and " + strconv.Itoa(p.count-len(p.hosts)) + " more"
		}
		d.Msg += ")"
		errs = append(errs, d)
	}
	return errs
}

// parseSource splits a Sources entry ("inv.yml:12:7 (group web)",
// "ssh_config ~/.ssh/config:4", "--set") into file, line and column.
func parseSource(s string) (string, int, int) {
	if s == "" {
		return "", 0, 0
	}
	s = strings.TrimPrefix(s, "ssh_config ")
	if i := strings.Index(s, " + "); i >= 0 {
		s = s[:i]
	}
	if strings.HasSuffix(s, ")") {
		if i := strings.LastIndex(s, " ("); i >= 0 {
			s = s[:i]
		}
	}
	nums := []int{}
	for range 2 {
		i := strings.LastIndexByte(s, ':')
		if i < 0 {
			break
		}
		n, err := strconv.Atoi(s[i+1:])
		if err != nil {
			break
		}
		nums = append([]int{n}, nums...)
		s = s[:i]
	}
	switch len(nums) {
	case 1:
		return s, nums[0], 0
	case 2:
		return s, nums[0], nums[1]
	}
	return s, 0, 0
}
