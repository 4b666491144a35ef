package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/fleetclaim/fleetclaim/inventory"
)

const inventoryUsage = `usage: fleetclaim inventory list  -i INVENTORY [-i MORE...] [--limit PATTERN] [--shard K/N] [--output table|long|json]
       fleetclaim inventory check -i INVENTORY [-i MORE...] [--limit PATTERN] [--shard K/N]

list   prints the resolved hosts with their effective settings (json and long
       also tell where each setting came from); tokens are never printed.
check  loads the inventory, selects hosts and checks that the token source,
       identity files and known_hosts files are there, without contacting
       any host.

Exit codes: 0 fine, 2 bad invocation or inventory.

Examples:
  fleetclaim inventory list -i inventory.yml --limit 'web:&prod:!web-canary*'
  fleetclaim inventory list -i hosts.ini --output json --shard 2/4
  fleetclaim inventory check -i inventory.yml --set proxy=env
  fleetclaim inventory list -i ./ec2.py -i extra.ini --vault-password-file ~/.vault-pass
  ansible-inventory -i aws_ec2.yml --list > fleet.json && fleetclaim inventory list -i fleet.json
`

type inventoryFlags struct {
	selectFlags
	output string
}

// runInventory runs `fleetclaim inventory list|check`.
func runInventory(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	sub, f, code, ok := parseInventoryArgs(args, stderr)
	if !ok {
		return code
	}
	if sub == "check" {
		return checkInventory(ctx, f, stdout, stderr)
	}
	_, hosts, ok := f.load(ctx, "inventory "+sub, stderr)
	if !ok {
		return 2
	}
	switch f.output {
	case "json":
		return printHostsJSON(hosts, stdout, stderr)
	case "long":
		printHostsLong(hosts, stdout)
	default:
		printHostsTable(hosts, stdout)
	}
	return 0
}

// parseInventoryArgs reads the subcommand and its flags; when !ok, code is
// the exit code, the reason (or the help asked for) printed on stderr.
func parseInventoryArgs(args []string, stderr io.Writer) (sub string, f *inventoryFlags, code int, ok bool) {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, inventoryUsage)
		if len(args) == 0 {
			return "", nil, 2, false
		}
		return "", nil, 0, false
	}
	sub = args[0]
	if sub != "list" && sub != "check" {
		fmt.Fprintf(stderr, "fleetclaim inventory: unknown subcommand %q (want list or check)\n\n%s", sub, inventoryUsage)
		return "", nil, 2, false
	}
	fs := flag.NewFlagSet("fleetclaim inventory "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, inventoryUsage+"\nflags:\n")
		fs.PrintDefaults()
	}
	f = &inventoryFlags{}
	f.selectFlags.register(fs)
	if sub == "list" {
		fs.StringVar(&f.output, "output", "table", "table, long (every setting and its source) or json")
	}
	rest, err := parseInterleaved(fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", nil, 0, false
		}
		return "", nil, 2, false
	}
	if len(rest) > 0 && len(f.inventories) == 0 && len(rest) == 1 {
		f.inventories = rest
		rest = nil
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "fleetclaim inventory %s: unexpected arguments %q\n", sub, rest)
		return "", nil, 2, false
	}
	switch f.output {
	case "", "table", "long", "json":
	default:
		fmt.Fprintf(stderr, "fleetclaim inventory list: --output %q: want table, long or json\n", f.output)
		return "", nil, 2, false
	}
	return sub, f, 0, true
}

// checkInventory is `inventory check`: every host is validated at load;
// the selected ones are resolved one at a time for their files and
// secrets.
func checkInventory(ctx context.Context, f *inventoryFlags, stdout, stderr io.Writer) int {
	inv, sel, ok := f.choose(ctx, "inventory check", stderr)
	if !ok {
		return 2
	}
	if err := inv.CheckSelection(sel); err != nil {
		printInventoryError(stderr, err)
		return 2
	}
	fmt.Fprintf(stdout, "%s: %d hosts selected of %d, %d groups; inventory is valid\n", f.inventory, sel.Len(), inv.Len(), len(inv.Groups))
	return 0
}

// printHostsJSON is `inventory list --output json`.
func printHostsJSON(hosts []*inventory.Host, stdout, stderr io.Writer) int {
	views := make([]inventory.HostView, len(hosts))
	for i, h := range hosts {
		views[i] = h.View()
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(views); err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
	return 0
}

// printHostsLong is `inventory list --output long`: every setting and
// where it came from.
func printHostsLong(hosts []*inventory.Host, stdout io.Writer) {
	for i, h := range hosts {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		fmt.Fprintf(stdout, "%s\n", h.Name)
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "  groups\t%s\t\n", strings.Join(h.Groups, ", "))
		for _, s := range h.Settings() {
			fmt.Fprintf(tw, "  %s\t%s\t# %s\n", s.Key, s.Value, s.Source)
		}
		tw.Flush()
	}
}

// printHostsTable is `inventory list`: a host a line.
func printHostsTable(hosts []*inventory.Host, stdout io.Writer) {
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tGROUPS\tADDRESS\tUSER\tJUMP\tROOMS\tTOKEN\tMETHOD")
	for _, h := range hosts {
		addr := inventory.Endpoint{Address: h.Address, Port: h.Port}.String()
		jump := "-"
		if len(h.Jump) > 0 {
			parts := make([]string, len(h.Jump))
			for i, e := range h.Jump {
				parts[i] = e.String()
			}
			jump = strings.Join(parts, ",")
		}
		groups := strings.Join(h.Groups, ",")
		if groups == "" {
			groups = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", h.Name, groups, addr, h.User, jump, len(h.Claim.Rooms), h.Claim.Token, h.Claim.Method)
	}
	tw.Flush()
}

// parseInterleaved parses flags that may come before or after positional
// arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return rest, nil
		}
		if args[0] == "--" {
			return append(rest, args[1:]...), nil
		}
		rest = append(rest, args[0])
		args = args[1:]
	}
}
