package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/fleetclaim/fleetclaim/inventory"
)

var (
	// Shell and CI expansions inside example command lines, replaced by a
	// plain value before the flags are parsed.
	expansions = regexp.MustCompile(`"?\$\(\([^)]*\)\)|\$\{\{[^}]*\}\}|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?"?`)
	invocation = regexp.MustCompile(`fleetclaim\s+(claim|plan|verify|reclaim|reconcile|unclaim|report|history)\s+([^>|;&\n]*)`)
)

// checkInvocation parses one example command line with the real flag set of
// its command: an example with a flag fleetclaim does not have fails.
func checkInvocation(t *testing.T, file, mode string, args []string) {
	t.Helper()
	var clean []string
	for _, a := range args {
		a = strings.Trim(a, `"'`)
		if a == "" || a == "\\" {
			continue
		}
		clean = append(clean, a)
	}
	if mode == "history" {
		if code := runHistory(append(clean, "-h"), io.Discard, io.Discard); code != exitOK {
			t.Errorf("%s: fleetclaim history %v: bad flags", file, clean)
		}
		return
	}
	if mode == "report" {
		if code := runReport(append(clean, "-h"), io.Discard, io.Discard); code != exitOK {
			t.Errorf("%s: fleetclaim report %v: bad flags", file, clean)
		}
		return
	}
	m, ok := hostModes[mode]
	if !ok {
		t.Fatalf("%s: unknown command %s", file, mode)
	}
	fs := flag.NewFlagSet(mode, flag.ContinueOnError)
	var errb bytes.Buffer
	fs.SetOutput(&errb)
	var f claimFlags
	f.register(fs, m)
	if err := fs.Parse(clean); err != nil && !errors.Is(err, flag.ErrHelp) {
		t.Errorf("%s: fleetclaim %s %s: %v", file, mode, strings.Join(clean, " "), err)
	}
	if fs.NArg() > 0 {
		t.Errorf("%s: fleetclaim %s: stray arguments %v", file, mode, fs.Args())
	}
	if len(f.inventories) == 0 && mode != "report" {
		t.Errorf("%s: fleetclaim %s without -i", file, mode)
	}
}

// TestExamples checks every example under examples/: YAML files parse, and
// every fleetclaim command line in them uses flags that exist.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../../examples/*/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	seen := 0
	for _, file := range files {
		st, err := os.Stat(file)
		if err != nil || st.IsDir() {
			continue
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if ext := filepath.Ext(file); ext == ".yaml" || ext == ".yml" {
			dec := yaml.NewDecoder(bytes.NewReader(b))
			for {
				var doc any
				err := dec.Decode(&doc)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Errorf("%s: %v", file, err)
					break
				}
				for _, args := range containerArgs(doc) {
					if len(args) > 0 {
						if _, ok := hostModes[args[0]]; ok {
							checkInvocation(t, file, args[0], args[1:])
							seen++
						}
					}
				}
			}
		}
		text := strings.ReplaceAll(string(b), "\\\n", " ")
		text = expansions.ReplaceAllString(text, "1")
		for _, m := range invocation.FindAllStringSubmatch(text, -1) {
			args := strings.Fields(m[2])
			if len(args) > 0 && !strings.HasPrefix(strings.Trim(args[0], `"'`), "-") {
				continue // prose such as "run fleetclaim reconcile every …"
			}
			checkInvocation(t, file, m[1], args)
			seen++
		}
	}
	if seen < 6 {
		t.Fatalf("only %d fleetclaim command lines found in the examples", seen)
	}
}

// containerArgs finds Kubernetes container "args" lists in a YAML document.
func containerArgs(doc any) [][]string {
	var out [][]string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if args, ok := x["args"].([]any); ok {
				var s []string
				for _, a := range args {
					if str, ok := a.(string); ok {
						s = append(s, strings.SplitN(str, "=", 2)...)
					}
				}
				out = append(out, s)
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(doc)
	return out
}

// TestExampleInventoriesLoad: every example inventory loads without error.
func TestExampleInventoriesLoad(t *testing.T) {
	files, _ := filepath.Glob("../../examples/inventory-*.yml")
	ansible, _ := filepath.Glob("../../examples/ansible/*.ini")
	files = append(files, ansible...)
	files = append(files, "../../examples/pssh-hosts.txt")
	if _, err := exec.LookPath("python3"); err == nil {
		files = append(files, "../../examples/inventory-script.py")
	}
	if len(files) < 3 {
		t.Fatalf("only %d example inventories", len(files))
	}
	for _, f := range files {
		inv, err := inventory.Load(f, inventory.LoadOptions{SSHConfig: "none", User: "tester"})
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if len(inv.Hosts) == 0 {
			t.Errorf("%s: no hosts", f)
		}
	}
}
