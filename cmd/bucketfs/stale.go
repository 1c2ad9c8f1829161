package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/sirupsen/logrus"
)

// checkMountpoint refuses a mount point that is missing, not a
// directory, or already mounted, and explains a stale FUSE mount (left
// by a process that died), detaching it when unmountStale is set.
func checkMountpoint(dir string, unmountStale bool, logger *logrus.Logger) error {
	if fstype, ok := mountedAt(dir); ok {
		if !isStale(dir) {
			return fmt.Errorf("mount point %s is busy: %s is already mounted there", dir, fstype)
		}
		if !unmountStale {
			return fmt.Errorf("mount point %s is a stale FUSE mount (transport endpoint is not connected): "+
				"the process that served it died. Unmount it with \"fusermount3 -uz %s\" or \"umount -l %s\", "+
				"or run bucketfs with --unmount-stale", dir, dir, dir)
		}
		logger.Warnf("detaching stale FUSE mount at %s", dir)
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			return fmt.Errorf("detach stale mount %s: %w", dir, err)
		}
	}
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("mount point %s does not exist", dir)
	case err != nil:
		return fmt.Errorf("mount point: %w", err)
	case !st.IsDir():
		return fmt.Errorf("mount point %s is not a directory", dir)
	}
	return nil
}

// isStale reports whether the filesystem at dir lost its server. A stat
// may still be answered from the kernel's cache; reading the directory
// is not.
func isStale(dir string) bool {
	f, err := os.Open(dir)
	if err == nil {
		_, err = f.Readdirnames(1)
		f.Close()
	}
	return errors.Is(err, syscall.ENOTCONN)
}

// mountedAt reports the type of a filesystem mounted exactly at dir.
func mountedAt(dir string) (string, bool) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", false
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 36 35 0:45 / /mnt/x rw,relatime shared:1 - fuse.bucketfs src rw
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 || unescapeOctal(fields[4]) != abs {
			continue
		}
		for i, fld := range fields {
			if fld == "-" && i+1 < len(fields) {
				return fields[i+1], true
			}
		}
		return "a filesystem", true
	}
	return "", false
}

// unescapeOctal undoes mountinfo's \040-style escapes.
func unescapeOctal(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return '0' <= c && c <= '7' }
