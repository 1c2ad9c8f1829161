package main

import (
	"path/filepath"
	"strings"
)

// asMountHelper reports whether the program was started as
// /sbin/mount.bucketfs, which mount(8) runs for fstab type "bucketfs".
func asMountHelper(argv0 string) bool {
	return strings.HasPrefix(filepath.Base(argv0), "mount.")
}

// helperArgs turns the arguments mount(8) passes to a mount helper,
// "SOURCE DIR [-sfnv] [-o OPTIONS] [-t TYPE]", into bucketfs arguments.
// -s (sloppy), -n (no mtab) and -v (verbose) are dropped, as is -t; -f
// asks for a fake mount, reported by fake.
func helperArgs(args []string) (out []string, fake bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-t" && i+1 < len(args):
			i++ // the type is ours
		case a == "-o" && i+1 < len(args):
			out = append(out, a, args[i+1])
			i++
		case len(a) > 1 && a[0] == '-' && strings.Trim(a[1:], "sfnv") == "":
			fake = fake || strings.Contains(a, "f")
		default:
			out = append(out, a)
		}
	}
	return out, fake
}
