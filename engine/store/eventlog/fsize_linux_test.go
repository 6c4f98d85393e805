//go:build linux

package eventlog

import (
	"os/signal"
	"syscall"
	"testing"
)

// underFileSizeLimit runs fn with the file size limit (RLIMIT_FSIZE) at
// limit bytes, which stops writes past it as a full disk would, and
// skips the test where the limit cannot be set.
func underFileSizeLimit(t *testing.T, limit int64, fn func()) {
	t.Helper()
	signal.Ignore(syscall.SIGXFSZ)
	defer signal.Reset(syscall.SIGXFSZ)
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Skip("getrlimit:", err)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: uint64(limit), Max: old.Max}); err != nil {
		t.Skip("setrlimit:", err)
	}
	defer func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
			t.Fatal("restore RLIMIT_FSIZE:", err)
		}
	}()
	fn()
}

// TestFailedWrite makes a batch's write fail part way (the file size limit,
// RLIMIT_FSIZE, stops it after some bytes, as a full disk would) and
// checks that none of the batch's records is seen, then or after a
// restart, and that later records are stored cleanly.
func TestFailedWrite(t *testing.T) {
	dir := t.TempDir()
	logger, logs := newLogger()
	opts := Options{Logger: logger}
	l := openLog(t, dir, opts)
	first := mkRec(0, t0, 200)
	appendRecs(t, l, first)
	seg := segments(t, dir)[0]
	good := fileSize(t, seg)

	// Records of one size, so that a later record can end exactly where
	// a failed one did.
	failed := []Record{mkRec(1, t0, 200), mkRec(2, t0, 200), mkRec(3, t0, 200)}
	L := frameLen(failed[0])
	var err error
	underFileSizeLimit(t, good+2*L+L/2, func() { err = l.Append(encodeAll(failed)) })
	if err == nil {
		t.Fatal("Append past RLIMIT_FSIZE succeeded")
	}
	t.Logf("Append: %v", err)

	check := func(l *Log, want []Record) {
		t.Helper()
		checkScan(t, l, want)
		checkCount(t, l, len(want))
		for _, r := range failed {
			checkContains(t, l, r.ID, false)
		}
	}
	check(l, []Record{first})
	r := openLog(t, dir, Options{ReadOnly: true})
	checkScan(t, r, []Record{first})

	next := mkRec(4, t0, 200)
	appendRecs(t, l, next)
	want := []Record{first, next}
	check(l, want)
	checkScan(t, r, want)
	closeLog(t, l)

	l = openLog(t, dir, opts)
	check(l, want)
	if sz := fileSize(t, seg); sz != good+L {
		t.Errorf("segment is %d bytes, want %d", sz, good+L)
	}
	if d := damagedFiles(t, dir); len(d) != 0 {
		t.Errorf("damaged files %q, want none", d)
	}
	if out := logs.String(); out != "" {
		t.Errorf("reopen logged:\n%s", out)
	}
}

// TestZerosAheadFail: where the zeros written ahead of the records
// (Options.Preallocate) do not fit (the file size limit stops them, as a
// full disk would), the records are still written and synced.
func TestZerosAheadFail(t *testing.T) {
	dir := t.TempDir()
	logger, logs := newLogger()
	opts := Options{Sync: true, Preallocate: 1 << 20, Logger: logger}
	l := openLog(t, dir, opts)
	recs := []Record{mkRec(0, t0, 200), mkRec(1, t0, 200)}
	limit := int64(len(magic)) + 2*frameLen(recs[0]) + 100
	var err error
	underFileSizeLimit(t, limit, func() { err = l.Append(encodeAll(recs)) })
	if err != nil {
		t.Fatalf("Append with no room for the zeros ahead: %v", err)
	}
	checkScan(t, l, recs)
	if sz := fileSize(t, segments(t, dir)[0]); sz != limit {
		t.Errorf("segment is %d bytes, want %d (the records and the zeros that fit)", sz, limit)
	}
	// With room again, the next records go over the zeros that fit and
	// the zeros are written ahead of them.
	recs = append(recs, mkRec(2, t0, 200))
	appendRecs(t, l, recs[2])
	checkScan(t, l, recs)
	end := int64(len(magic)) + 3*frameLen(recs[0])
	if sz := fileSize(t, segments(t, dir)[0]); sz != end+opts.Preallocate {
		t.Errorf("segment is %d bytes, want %d (the records and the zeros ahead)", sz, end+opts.Preallocate)
	}
	if out := logs.String(); out != "" {
		t.Errorf("Append logged:\n%s", out)
	}
	reopenQuietly(t, l, dir, opts, recs)
}
