// Package inventory turns inventory files into resolved hosts.
//
// It reads fleetclaim's native YAML format (and, later, Ansible inventories
// and ssh_config), merges defaults, groups and host entries with a defined
// precedence, validates every value, and reports every problem at once with
// its file, line and column. It never contacts a host.
package inventory
