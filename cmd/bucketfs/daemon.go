package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// readyFDEnv names the pipe a daemon child reports readiness on.
const readyFDEnv = "BUCKETFS_READY_FD"

// daemonChild is the readiness pipe when this process is the detached
// child of a --daemon start, else nil.
func daemonChild() *os.File {
	if os.Getenv(readyFDEnv) != "3" {
		return nil
	}
	os.Unsetenv(readyFDEnv)
	return os.NewFile(3, "ready")
}

// daemonize starts this program again, detached in a new session with
// args, and returns once the child says the mount works (nil) or why it
// could not mount (the child's error).
func daemonize(args []string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("daemonize: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("daemonize: %w", err)
	}
	defer r.Close()
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("daemonize: %w", err)
	}
	defer devnull.Close()
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), readyFDEnv+"=3")
	cmd.ExtraFiles = []*os.File{w}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("daemonize: %w", err)
	}
	w.Close()
	msg, _ := io.ReadAll(r) // until the child reports or dies
	switch text := strings.TrimSpace(string(msg)); {
	case text == "ok":
		cmd.Process.Release()
		return nil
	case text != "":
		cmd.Wait()
		return errors.New(text)
	}
	err = cmd.Wait()
	return fmt.Errorf("bucketfs stopped before the mount was ready (%v); see its log", err)
}

// report tells the waiting parent that the mount works (err nil) or why
// it failed, and closes the pipe.
func report(ready *os.File, err error) {
	if ready == nil {
		return
	}
	if err != nil {
		fmt.Fprintln(ready, err.Error())
	} else {
		fmt.Fprintln(ready, "ok")
	}
	ready.Close()
}
