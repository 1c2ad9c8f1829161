package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// setReadAhead sets the kernel's read-ahead for the mount at dir to kib
// KiB, through the sysfs file of the mount's backing device
// (/sys/class/bdi/MAJOR:MINOR/read_ahead_kb). The kernel otherwise asks
// a FUSE mount for at most 128 KiB ahead of a sequential reader, in
// requests of 128 KiB, which is far below what a stream of S3 GETs
// carries. It needs root (or write access to sysfs).
func setReadAhead(dir string, kib int) error {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return err
	}
	p := filepath.Join("/sys/class/bdi", fmt.Sprintf("%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev)), "read_ahead_kb")
	if err := os.WriteFile(p, []byte(strconv.Itoa(kib)), 0); err != nil {
		return fmt.Errorf("set read-ahead: %w", err)
	}
	return nil
}
