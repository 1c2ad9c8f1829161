package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/moby/sys/mountinfo"
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
	return mountedIn(mountinfo.GetMounts, dir)
}

// mountedIn is mountedAt on the mount table that getMounts reads
// (mountinfo.GetMounts reads the process's own).
func mountedIn(getMounts func(mountinfo.FilterFunc) ([]*mountinfo.Info, error), dir string) (string, bool) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", false
	}
	mounts, err := getMounts(mountinfo.SingleEntryFilter(abs))
	if err != nil || len(mounts) == 0 {
		return "", false
	}
	return mounts[0].FSType, true
}
