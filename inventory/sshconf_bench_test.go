package inventory

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkResolve50kSSHConfig: loading 50,000 hosts without and with an
// ssh_config resolved per host.
func BenchmarkResolve50kSSHConfig(b *testing.B) {
	p := writeBigInventory(b, 50000)
	opts := testOpts()
	cf := filepath.Join(b.TempDir(), "ssh_config")
	os.WriteFile(cf, []byte("Host web*\n  User deploy\n  IdentityFile ~/.ssh/%r\nMatch host db*\n  Port 2222\nHost *\n  UserKnownHostsFile ~/.ssh/kh\n  ServerAliveInterval 30\n"), 0o600)
	for _, c := range []string{"none", cf} {
		opts.SSHConfig = c
		b.Run(filepath.Base(c), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := Load(p, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
