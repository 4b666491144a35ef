package main

import (
	"fmt"
	"io"
	"strings"
)

var completionCommands = []string{"claim", "plan", "reclaim", "verify", "reconcile", "unclaim", "inventory", "history", "status", "rooms", "report", "completion", "version"}

var completionFlags = []string{
	"-i", "--inventory", "--inventory-format", "--inventory-timeout", "--vault-password-file", "--vault-id", "--ask-vault-pass", "-F", "--limit", "--shard", "--set", "--forks", "--results", "--output",
	"--retry-file", "--history", "--no-history", "--history-keep", "--timeout", "--deadline", "--splay", "--grace", "--serial", "--canary",
	"--max-fail-percentage", "--retries", "--retry-backoff", "--no-progress", "--token-file", "--wait", "--force",
	"--new-identity", "--offline-for", "--passphrase-file", "--passphrase-env", "--ask-pass", "--password-file", "--ask-become-pass", "--keep-pushed",
	"--unclaim", "--absent-from", "--listed-in",
}

// runCompletion prints a completion script for bash, zsh or fish.
func runCompletion(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "Usage: fleetclaim completion bash|zsh|fish\n\n  bash: source <(fleetclaim completion bash)\n  zsh:  fleetclaim completion zsh > \"${fpath[1]}/_fleetclaim\"\n  fish: fleetclaim completion fish > ~/.config/fish/completions/fleetclaim.fish")
		return exitUsage
	}
	cmds, flags := strings.Join(completionCommands, " "), strings.Join(completionFlags, " ")
	switch args[0] {
	case "bash":
		fmt.Fprintf(stdout, `# bash completion for fleetclaim
_fleetclaim() {
	local cur prev
	cur="${COMP_WORDS[COMP_CWORD]}"
	prev="${COMP_WORDS[COMP_CWORD-1]}"
	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "%s" -- "$cur"))
		return
	fi
	case "$prev" in
	-i|--inventory|--results|--retry-file|--token-file|-F|--history|--vault-password-file) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	--output) COMPREPLY=($(compgen -W "table json jsonl junit markdown" -- "$cur")); return ;;
	esac
	case "${COMP_WORDS[1]}" in
	inventory) [ "$COMP_CWORD" -eq 2 ] && { COMPREPLY=($(compgen -W "list check" -- "$cur")); return; } ;;
	completion) COMPREPLY=($(compgen -W "bash zsh fish" -- "$cur")); return ;;
	esac
	COMPREPLY=($(compgen -W "%s" -- "$cur"))
}
complete -o default -F _fleetclaim fleetclaim
`, cmds, flags)
	case "zsh":
		fmt.Fprintf(stdout, `#compdef fleetclaim
# zsh completion for fleetclaim
_fleetclaim() {
	if (( CURRENT == 2 )); then
		compadd -- %s
		return
	fi
	case $words[CURRENT-1] in
	-i|--inventory|--results|--retry-file|--token-file|-F|--history|--vault-password-file) _files; return ;;
	--output) compadd -- table json jsonl junit markdown; return ;;
	esac
	case $words[2] in
	inventory) (( CURRENT == 3 )) && { compadd -- list check; return } ;;
	completion) compadd -- bash zsh fish; return ;;
	esac
	compadd -- %s
}
compdef _fleetclaim fleetclaim
`, cmds, flags)
	case "fish":
		fmt.Fprintln(stdout, "# fish completion for fleetclaim")
		fmt.Fprintf(stdout, "complete -c fleetclaim -f -n '__fish_use_subcommand' -a '%s'\n", cmds)
		fmt.Fprintln(stdout, "complete -c fleetclaim -n '__fish_seen_subcommand_from inventory' -a 'list check'")
		fmt.Fprintln(stdout, "complete -c fleetclaim -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'")
		for _, f := range completionFlags {
			switch {
			case strings.HasPrefix(f, "--"):
				arg := ""
				switch f {
				case "--inventory", "--results", "--retry-file", "--token-file", "--history", "--vault-password-file":
					arg = " -r -F"
				case "--output":
					arg = " -x -a 'table json jsonl junit markdown'"
				}
				fmt.Fprintf(stdout, "complete -c fleetclaim -l %s%s\n", f[2:], arg)
			default:
				fmt.Fprintf(stdout, "complete -c fleetclaim -s %s -r -F\n", f[1:])
			}
		}
	default:
		fmt.Fprintf(stderr, "fleetclaim completion: unknown shell %q (bash, zsh or fish)\n", args[0])
		return exitUsage
	}
	return exitOK
}
