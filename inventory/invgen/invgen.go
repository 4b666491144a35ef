// Package invgen writes large synthetic inventories for fleetclaim's
// benchmarks: the same fleet in the native format, Ansible INI and the JSON
// of `ansible-inventory --list --export`.
//
// The fleet: n hosts h0000000.example.com… with an address each
// (ansible_host / address), in 100 groups g00…g99 of n/100 hosts (each with
// its own room), under 10 parents region0…region9 of 10 groups each (each
// with a proxy setting), and defaults for every host (user, token file,
// known_hosts). Limit is a --limit over it that uses globs, an intersection
// and an exclusion.
package invgen

import (
	"bufio"
	"fmt"
	"io"
	"path/filepath"
)

// Groups is the number of leaf groups.
const Groups = 100

// Limit selects about a tenth of the fleet, minus a tenth of that: the
// groups g10…g19 of any region, without the hosts whose name ends in 7.
const Limit = "region*:&g1?:!h*7.example.com"

// Formats are the formats Write knows, as `fleetclaim -i` detects them from
// the file name Name gives.
func Formats() []string { return []string{"native", "ini", "json"} }

// Name is the file name of an inventory of format.
func Name(format string, n int) string {
	ext := map[string]string{"native": "yml", "ini": "ini", "json": "json"}[format]
	return fmt.Sprintf("fleet-%d.%s", n, ext)
}

// Files are the files the inventory names (a token file and known_hosts),
// under dir, with their contents; the caller creates them.
func Files(dir string) map[string]string {
	return map[string]string{
		filepath.Join(dir, "token"):       "bench-token\n",
		filepath.Join(dir, "known_hosts"): "",
	}
}

type gen struct {
	w   *bufio.Writer
	n   int
	dir string
}

func (g *gen) host(i int) string { return fmt.Sprintf("h%07d.example.com", i) }
func (g *gen) addr(i int) string {
	return fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
}
func room(gi int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", gi+1) }

// group returns the hosts of leaf group gi: a contiguous run.
func (g *gen) group(gi int) (lo, hi int) {
	return gi * g.n / Groups, (gi + 1) * g.n / Groups
}

// Write writes the inventory of n hosts in format to w; the files it names
// are under dir.
func Write(w io.Writer, format string, n int, dir string) error {
	g := &gen{w: bufio.NewWriterSize(w, 1<<16), n: n, dir: dir}
	switch format {
	case "native":
		g.native()
	case "ini":
		g.ini()
	case "json":
		g.json()
	default:
		return fmt.Errorf("invgen: unknown format %q", format)
	}
	return g.w.Flush()
}

func (g *gen) p(format string, args ...any) { fmt.Fprintf(g.w, format, args...) }

func (g *gen) native() {
	g.p("defaults:\n  user: fleet\n  token_file: %s\n  known_hosts: [%s]\ngroups:\n",
		filepath.Join(g.dir, "token"), filepath.Join(g.dir, "known_hosts"))
	for r := range 10 {
		g.p("  region%d:\n    proxy: env\n    children: [", r)
		for c := range 10 {
			if c > 0 {
				g.p(", ")
			}
			g.p("g%02d", r*10+c)
		}
		g.p("]\n")
	}
	for gi := range Groups {
		g.p("  g%02d:\n    rooms: [%s]\n    hosts:\n", gi, room(gi))
		lo, hi := g.group(gi)
		for i := lo; i < hi; i++ {
			g.p("      %s: {address: %s}\n", g.host(i), g.addr(i))
		}
	}
}

func (g *gen) ini() {
	g.p("[all:vars]\nansible_user=fleet\nnetdata_claim_token_file=%s\nnetdata_claim_known_hosts=%s\n\n",
		filepath.Join(g.dir, "token"), filepath.Join(g.dir, "known_hosts"))
	for r := range 10 {
		g.p("[region%d:children]\n", r)
		for c := range 10 {
			g.p("g%02d\n", r*10+c)
		}
		g.p("\n[region%d:vars]\nnetdata_claim_proxy=env\n\n", r)
	}
	for gi := range Groups {
		g.p("[g%02d]\n", gi)
		lo, hi := g.group(gi)
		for i := lo; i < hi; i++ {
			g.p("%s ansible_host=%s\n", g.host(i), g.addr(i))
		}
		g.p("\n[g%02d:vars]\nnetdata_claim_rooms=%s\n\n", gi, room(gi))
	}
}

// json writes what `ansible-inventory --list --export` prints: group
// variables in the groups, each host's own in _meta.hostvars.
func (g *gen) json() {
	g.p("{\n  \"_meta\": {\n    \"hostvars\": {\n")
	for i := range g.n {
		sep := ","
		if i == g.n-1 {
			sep = ""
		}
		g.p("      %q: {\"ansible_host\": %q}%s\n", g.host(i), g.addr(i), sep)
	}
	g.p("    }\n  },\n  \"all\": {\n    \"children\": [\"ungrouped\"")
	for r := range 10 {
		g.p(", \"region%d\"", r)
	}
	g.p("],\n    \"vars\": {\"ansible_user\": \"fleet\", \"netdata_claim_token_file\": %q, \"netdata_claim_known_hosts\": %q}\n  },\n",
		filepath.Join(g.dir, "token"), filepath.Join(g.dir, "known_hosts"))
	for r := range 10 {
		g.p("  \"region%d\": {\n    \"children\": [", r)
		for c := range 10 {
			if c > 0 {
				g.p(", ")
			}
			g.p("\"g%02d\"", r*10+c)
		}
		g.p("],\n    \"vars\": {\"netdata_claim_proxy\": \"env\"}\n  },\n")
	}
	for gi := range Groups {
		g.p("  \"g%02d\": {\n    \"hosts\": [", gi)
		lo, hi := g.group(gi)
		for i := lo; i < hi; i++ {
			if i > lo {
				g.p(", ")
			}
			g.p("%q", g.host(i))
		}
		g.p("],\n    \"vars\": {\"netdata_claim_rooms\": [%q]}\n  },\n", room(gi))
	}
	g.p("  \"ungrouped\": {}\n}\n")
}
