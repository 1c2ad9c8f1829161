package harness

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

// VirtualHostDomain is the domain the servers serve virtual-host style
// (MinIO's MINIO_DOMAIN, Ceph RGW's rgw_dns_name): BUCKET.VirtualHostDomain
// names a bucket once AddHosts maps it to 127.0.0.1.
const VirtualHostDomain = "s3.bucketfs.test"

// hostsFile is the resolver's static table; hostsLock serialises the
// tests (of every process on the machine) that edit it.
const (
	hostsFile = "/etc/hosts"
	hostsLock = "/run/bucketfs-test-hosts.lock"
)

// AddHosts maps each name to 127.0.0.1 in /etc/hosts, in lines tagged
// with this process's id, and returns the function that removes exactly
// those lines (callers defer it or give it to t.Cleanup, so that it runs
// on failure too). /etc/hosts is rewritten in place: in a container it is
// often a bind mount, which a rename cannot replace.
func AddHosts(names ...string) (remove func() error, err error) {
	tag := fmt.Sprintf("# bucketfs-test pid %d", os.Getpid())
	var add strings.Builder
	for _, n := range names {
		fmt.Fprintf(&add, "127.0.0.1 %s %s\n", n, tag)
	}
	if err := editHosts(func(s string) string {
		if s != "" && !strings.HasSuffix(s, "\n") {
			s += "\n"
		}
		return s + add.String()
	}); err != nil {
		return nil, err
	}
	return func() error {
		return editHosts(func(s string) string {
			var keep []string
			for _, line := range strings.SplitAfter(s, "\n") {
				if !strings.HasSuffix(strings.TrimRight(line, "\n"), tag) {
					keep = append(keep, line)
				}
			}
			return strings.Join(keep, "")
		})
	}, nil
}

// editHosts rewrites /etc/hosts with edit, holding hostsLock.
func editHosts(edit func(string) string) error {
	l, err := os.OpenFile(hostsLock, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer l.Close()
	if err := syscall.Flock(int(l.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	data, err := os.ReadFile(hostsFile)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(hostsFile, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(edit(string(data))); err != nil {
		f.Close()
		return fmt.Errorf("rewrite %s: %w", hostsFile, err)
	}
	return f.Close()
}
