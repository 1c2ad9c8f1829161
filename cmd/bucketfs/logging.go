package main

import (
	"fmt"
	"io"
	"log/syslog"
	"os"

	"github.com/sirupsen/logrus"
	lsyslog "github.com/sirupsen/logrus/hooks/syslog"
)

// loggers are the per-component loggers of one run.
type loggers struct {
	main *logrus.Logger // bucketfs, fs and fuse
	s3   *logrus.Logger // s3client: debug level with --debug-s3
	file *os.File       // the log file, if any
}

// newLoggers sends logs to --log-file, else to syslog when daemonized
// (dropping them if there is no syslog), else to stderr.
func newLoggers(cfg config) (*loggers, error) {
	level, err := logrus.ParseLevel(cfg.logLevel)
	if err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", cfg.logLevel)
	}
	l := &loggers{main: logrus.New()}
	l.main.SetFormatter(&logrus.TextFormatter{FullTimestamp: true})
	l.main.SetLevel(level)
	switch {
	case cfg.logFile != "":
		f, err := os.OpenFile(cfg.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, fmt.Errorf("--log-file: %w", err)
		}
		l.file = f
		l.main.SetOutput(f)
	case cfg.daemon:
		l.main.SetOutput(io.Discard)
		if hook, err := lsyslog.NewSyslogHook("", "", syslog.LOG_DAEMON|syslog.LOG_INFO, "bucketfs"); err == nil {
			l.main.AddHook(hook)
		}
	default:
		l.main.SetOutput(os.Stderr)
	}
	l.s3 = logrus.New()
	l.s3.SetFormatter(l.main.Formatter)
	l.s3.SetOutput(l.main.Out)
	l.s3.ReplaceHooks(l.main.Hooks)
	l.s3.SetLevel(level)
	if cfg.debugS3 {
		l.s3.SetLevel(max(level, logrus.DebugLevel))
	}
	return l, nil
}

// Close closes the log file.
func (l *loggers) Close() {
	if l.file != nil {
		l.file.Close()
	}
}
