package main

import (
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// median is the middle run time (the mean of the two middle ones for an
// even count).
func (s side) median() (time.Duration, bool) {
	if len(s.runs) == 0 {
		return 0, false
	}
	ds := make([]time.Duration, len(s.runs))
	for i, r := range s.runs {
		ds[i] = r.d
	}
	slices.Sort(ds)
	n := len(ds)
	if n%2 == 1 {
		return ds[n/2], true
	}
	return (ds[n/2-1] + ds[n/2]) / 2, true
}

func (s side) counts() string {
	cs := make([]opCounts, len(s.runs))
	for i, r := range s.runs {
		cs[i] = r.counts
	}
	return medianCounts(cs)
}

// peakMiB is the largest peak RSS over the runs.
func (s side) peakMiB() string {
	var kib int64
	for _, r := range s.runs {
		kib = max(kib, r.rssKiB)
	}
	if kib == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", float64(kib)/1024)
}

func (s side) times() string {
	var ts []string
	for _, r := range s.runs {
		ts = append(ts, fmt.Sprintf("%.3f", r.d.Seconds()))
	}
	if len(s.errs) > 0 {
		ts = append(ts, fmt.Sprintf("%d failed", len(s.errs)))
	}
	return strings.Join(ts, " ")
}

func secs(s side) string {
	d, ok := s.median()
	if !ok {
		if len(s.errs) > 0 {
			return "FAILED"
		}
		return "-"
	}
	return fmt.Sprintf("%.3f", d.Seconds())
}

func ratio(a, b side) string {
	da, ok1 := a.median()
	db, ok2 := b.median()
	if !ok1 || !ok2 || db <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", da.Seconds()/db.Seconds())
}

func rate(s side, bytes int64) string {
	d, ok := s.median()
	if !ok || bytes == 0 || d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", float64(bytes)/(1<<20)/d.Seconds())
}

// s3fsCell is the s3fs value, or the row's note when s3fs was not run.
func (r *row) s3fsCell(v string) string {
	if r.s3fsNote != "" && len(r.s3fs.runs) == 0 && len(r.s3fs.errs) == 0 {
		return r.s3fsNote
	}
	return v
}

// ran reports whether any run of r was tried; a row that was not (a note
// says why) is left out of the tables.
func (r *row) ran() bool {
	n := len(r.mount.runs) + len(r.mount.errs) + len(r.raw.runs) + len(r.raw.errs) + len(r.s3fs.runs) + len(r.s3fs.errs)
	for _, o := range r.refs {
		n += len(o.runs) + len(o.errs)
	}
	return n > 0
}

// report prints the tables and notes.
func (b *bench) report(w io.Writer, rows []*row) {
	o := b.opts
	fmt.Fprintf(w, "\nbucketfs benchmark: bucketfs vs its raw S3 client on one MinIO (127.0.0.1). Measured, not asserted.\n")
	fmt.Fprintf(w, "machine: %s\n", b.machine())
	fmt.Fprintf(w, "sizes: large file %d MiB, parts %d MiB × %d in parallel, %d files × %d KiB, tree of %d dirs, %d random reads × %d KiB; median of %d runs\n",
		o.bigMiB, o.partMiB, o.parallel, o.files, o.fileKiB, o.treeDirs, o.randomReads, o.randomKiB, o.repeat)
	if b.wants("bigread") {
		md5 := o.md5OffFlag
		if md5 == "" {
			md5 = "none given"
		}
		fmt.Fprintf(w, "read path: %d MiB in one PUT, %d × %d MiB at once, %d files × %d KiB after ls, %d MiB in parts for the peak RSS; MD5 check off: %s\n",
			o.bigreadMiB, o.parFiles, o.parMiB, o.catFiles, o.fileKiB, o.rssMiB, md5)
		fmt.Fprintf(w, "rclone: %s\n", rcloneVersion())
	}
	if b.s3fsPath != "" {
		ver, _ := exec.Command(b.s3fsPath, "--version").Output()
		fmt.Fprintf(w, "s3fs: %s (default options + use_path_request_style)\n", firstLine(string(ver)))
	} else {
		fmt.Fprintf(w, "s3fs: %s; its columns are empty\n", b.s3fsWhy)
	}
	fmt.Fprintln(w)

	var ran []*row
	for _, r := range rows {
		if r.ran() {
			ran = append(ran, r)
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tmount s\traw s\tmount/raw\tmount MiB/s\traw MiB/s\tpeak RSS MiB\ts3fs s\ts3fs/raw\ts3fs MiB/s\ts3fs RSS MiB\t")
	for _, r := range ran {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.name,
			secs(r.mount), secs(r.raw), ratio(r.mount, r.raw), rate(r.mount, r.bytes), rate(r.raw, r.bytes), r.mount.peakMiB(),
			r.s3fsCell(secs(r.s3fs)), r.s3fsCell(ratio(r.s3fs, r.raw)), r.s3fsCell(rate(r.s3fs, r.bytes)), r.s3fsCell(r.s3fs.peakMiB()))
	}
	tw.Flush()

	fmt.Fprintf(w, "\nS3 requests per run by operation: median, [min-max] when runs differed, (N×404) = N of them failed with that status:\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tbucketfs (its --debug-s3 log)\traw client\ts3fs (MinIO's counters)")
	for _, r := range ran {
		s3 := "n/a"
		if len(r.s3fs.runs) > 0 {
			s3 = r.s3fs.counts()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.name, r.mount.counts(), r.raw.counts(), r.s3fsCell(s3))
	}
	tw.Flush()

	b.reportRefs(w, rows)

	fmt.Fprintf(w, "\nruns (seconds):\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range ran {
		line := fmt.Sprintf("%s\tmount: %s\traw: %s", r.name, r.mount.times(), r.raw.times())
		if len(r.s3fs.runs)+len(r.s3fs.errs) > 0 {
			line += "\ts3fs: " + r.s3fs.times()
		}
		for _, o := range r.refs {
			line += "\t" + o.name + ": " + o.times()
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()

	reportTargets(w, rows)

	b.reportNotes(w, rows)
}

// reportNotes prints the notes and what raw means.
func (b *bench) reportNotes(w io.Writer, rows []*row) {
	o := b.opts
	notes := b.notes(rows)
	if len(notes) > 0 {
		fmt.Fprintf(w, "\nnotes:\n")
		for _, n := range notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
	}
	fmt.Fprintf(w, "\nraw = the same work with package s3client, no FUSE: write = multipart upload (%d MiB parts, %d at once) of the same file;\n"+
		"read = one streaming GET; cp -r = one PutObject per file, in sequence; ls -l = LIST of the directory (delimiter /);\n"+
		"find, du -s = one recursive LIST of the tree; random reads = one ranged GET of exactly the bytes asked for.\n",
		o.partMiB, o.parallel)
	if b.wants("bigread") {
		fmt.Fprintf(w, "read path: raw = one streaming GET per object (several at once for the concurrent row), one GET per small file;\n"+
			"every cat writes to /dev/null and is checked by the bytes it wrote (the small files by their content).\n")
	}
}

// reportRefs prints the other ways of doing a row (rclone, other mount
// flags), if any row has them.
func (b *bench) reportRefs(w io.Writer, rows []*row) {
	var any bool
	for _, r := range rows {
		any = any || len(r.refs) > 0
	}
	if !any {
		return
	}
	fmt.Fprintf(w, "\nother readers (same rows, runs interleaved with the mount's; rclone's requests are MinIO's counters):\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\treader\ts\t÷raw\tMiB/s\tpeak RSS MiB\tS3 requests")
	for _, r := range rows {
		for _, o := range r.refs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.name, o.name, secs(o.side), ratio(o.side, r.raw),
				rate(o.side, r.bytes), o.peakMiB(), o.counts())
		}
	}
	tw.Flush()
}

// reportTargets prints the rows that have a target next to it.
func reportTargets(w io.Writer, rows []*row) {
	var any bool
	for _, r := range rows {
		any = any || r.target != ""
	}
	if !any {
		return
	}
	fmt.Fprintf(w, "\ntargets (issues 10 and 13; N× raw = the mount's MiB/s over raw's, 1.00 = as fast):\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tmeasured\ttarget")
	for _, r := range rows {
		if r.target != "" {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", r.name, r.measured(r), r.target)
		}
	}
	tw.Flush()
}

// notes gathers failures, checks, and what the request counts say
// beyond the tables.
func (b *bench) notes(rows []*row) []string {
	var out []string
	for _, r := range rows {
		for _, n := range r.notes {
			out = append(out, r.name+": "+n)
		}
		for _, s := range []struct {
			who string
			sd  side
		}{{"bucketfs", r.mount}, {"raw", r.raw}, {"s3fs", r.s3fs}} {
			for _, e := range s.sd.errs {
				out = append(out, fmt.Sprintf("%s: %s FAILED: %s", r.name, s.who, indent(e)))
			}
		}
		for i, smp := range r.mount.runs {
			if smp.server != nil && smp.server.total() != smp.counts.total() {
				out = append(out, fmt.Sprintf("%s: run %d: the bucketfs log shows %d requests, MinIO counted %d (%s)",
					r.name, i+1, smp.counts.total(), smp.server.total(), smp.server))
			}
		}
		for i, smp := range r.raw.runs {
			if smp.server != nil && smp.server.total() != smp.counts.total() {
				out = append(out, fmt.Sprintf("%s: run %d: the raw client logged %d requests, MinIO counted %d (%s)",
					r.name, i+1, smp.counts.total(), smp.server.total(), smp.server))
			}
		}
		var asked int64
		for _, smp := range r.mount.runs {
			asked = max(asked, smp.getBytes)
		}
		if r.bytes > 0 && asked > 2*r.bytes {
			out = append(out, fmt.Sprintf("%s: bucketfs's GETs asked for up to %.0f MiB per run (sum of their Content-Length) to return %.1f MiB",
				r.name, float64(asked)/(1<<20), float64(r.bytes)/(1<<20)))
		}
	}
	b.mu.Lock()
	out = append(out, b.warnings...)
	b.mu.Unlock()
	return out
}

func indent(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 3000 {
		s = s[:3000] + " ..."
	}
	return strings.ReplaceAll(s, "\n", "\n    ")
}
