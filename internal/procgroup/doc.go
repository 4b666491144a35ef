// Package procgroup starts a child command in a process group of its own and
// signals that whole group, so that what the command started goes with it.
// On Unix the group is a POSIX process group; on Windows, which has no
// signals, the command gets a new process group and Term and Kill both end
// the command's own process (what os.Process.Kill does there).
package procgroup
