// Package inventory turns inventory files into resolved hosts.
//
// It reads fleetclaim's native YAML format and Ansible inventories (YAML,
// INI, the JSON of inventory scripts and ansible-inventory --list, with
// group_vars/ and host_vars/), executable inventory scripts, inventory
// directories and pssh host files, several of them merged in order (a later
// source's variables win), Ansible Vault values and files decrypted; it
// applies ssh_config beneath them,
// merges defaults, groups and host entries with a defined precedence,
// validates every value, and reports every problem at once with its file,
// line and column. It never contacts a host.
//
// Precedence, highest first: --set overrides; the host's own settings; its
// groups, a child group before its parents; defaults (Ansible: the group
// "all"); ssh_config; built-in defaults.
//
// A host in several groups of which none is an ancestor of another (say
// web and monitoring): for each setting, only the most specific groups that
// set it count (a group is dropped when one of its descendants also sets
// it). Their rooms are unioned. Any other setting they give different
// values is an error naming both groups, unless the host itself, or a group
// that is a child of both, sets it. Ansible inventories follow Ansible's
// own rule instead (higher ansible_group_priority, then the deeper group,
// then the group whose name sorts last wins), with a warning.
package inventory
