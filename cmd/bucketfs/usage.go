package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

const usageHead = `bucketfs mounts S3 object storage (Ceph RGW, MinIO, AWS) as a directory.

Usage:
  bucketfs [options] SOURCE MOUNTPOINT
  mount -t bucketfs SOURCE MOUNTPOINT -o OPTIONS      (via /sbin/mount.bucketfs)

SOURCE is BUCKET, BUCKET:/PREFIX (only keys under PREFIX/), or / (the whole
endpoint: one directory per bucket; mkdir/rmdir there create/delete buckets).

Every option can also be given mount-style, as -o name=value,flag (with _ or -
in names), so the same words work on the command line and in /etc/fstab.
Started from fstab (mount.fuse3 or mount.bucketfs) bucketfs detaches once the
mount works; otherwise it stays in the foreground unless --daemon is given.

Credentials, first found wins: --passwd-file, --profile, AWS_ACCESS_KEY_ID +
AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN), AWS_WEB_IDENTITY_TOKEN_FILE,
AWS_PROFILE, ~/.passwd-s3fs, /etc/passwd-s3fs, the default profile, ECS
container credentials, EC2 instance metadata (on EC2); else anonymous.
Profiles of ~/.aws/config and ~/.aws/credentials may use credential_process,
role_arn + source_profile, web identity or SSO; expiring credentials are
renewed in the background.

Examples:
  # MinIO on this machine, in the foreground
  AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... \
    bucketfs --endpoint http://127.0.0.1:9000 mybucket /mnt/mybucket

  # Ceph RGW as in boto's days: plain HTTP, path-style, SigV2
  bucketfs -o endpoint=http://rgw.local:7480,signature=v2,passwd_file=/etc/passwd-s3fs \
    photos /mnt/photos --daemon

  # AWS over HTTPS with a private CA, read-only, part of a bucket
  bucketfs --endpoint https://s3.eu-west-1.amazonaws.com --region eu-west-1 \
    --ca-file /etc/ssl/corp-ca.pem --read-only logs:/2024 /mnt/logs

  # /etc/fstab
  photos /mnt/photos fuse.bucketfs _netdev,endpoint=http://rgw.local:7480,passwd_file=/etc/passwd-s3fs 0 0

  # unmount (uploads of files being written finish first)
  umount /mnt/photos        # or fusermount3 -u, or SIGTERM to the process

Options:
`

// printUsage writes the help text with every option.
func printUsage(w io.Writer) {
	var cfg config
	fl := newFlagSet(&cfg)
	fl.Func("o", "comma-separated `options` in mount style: -o endpoint=URL,ro,allow_other", func(string) error { return nil })
	fmt.Fprint(w, usageHead)
	fl.VisitAll(func(f *flag.Flag) {
		if f.Name == "f" {
			return
		}
		arg, text := flag.UnquoteUsage(f)
		name := "--" + f.Name
		if len(f.Name) == 1 {
			name = "-" + f.Name
		}
		if f.Name == "foreground" {
			name = "-f, --foreground"
		}
		if arg != "" {
			name += " " + arg
		}
		if def := f.DefValue; def != "" && def != "false" && def != "0" {
			text += " (default " + def + ")"
		}
		fmt.Fprintf(w, "  %s\n      %s\n", name, text)
	})
	fmt.Fprintf(w, "  -V, --version\n      print the version\n")
	fmt.Fprintf(w, "\nMount-only options (%s, their no- forms, x-systemd.*) are accepted and ignored.\nSee README.md for more.\n",
		strings.Join([]string{"_netdev", "nofail", "auto", "noauto", "user", "users", "rw", "dev", "suid", "exec"}, ", "))
}
