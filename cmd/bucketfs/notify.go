package main

import (
	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/sirupsen/logrus"
)

// notifier tells systemd (a Type=notify unit: NOTIFY_SOCKET is set) how
// the mount is doing: STATUS= lines as it starts, READY=1 once the mount
// point answers, STOPPING=1 when it is being unmounted. Without
// NOTIFY_SOCKET it does nothing.
type notifier struct {
	log *logrus.Logger
}

// send sends state lines ("READY=1\nSTATUS=...") to systemd.
func (n notifier) send(state string) {
	sent, err := daemon.SdNotify(false, state)
	if err != nil {
		n.log.Warnf("systemd notify: %v", err)
		return
	}
	if sent {
		n.log.Debugf("systemd notify: %q", state)
	}
}

func (n notifier) status(s string) { n.send("STATUS=" + s) }

func (n notifier) ready(s string) { n.send("READY=1\nSTATUS=" + s) }

func (n notifier) stopping(s string) { n.send("STOPPING=1\nSTATUS=" + s) }
