package eventlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/maphash"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/syncbuf"
)

var t0 = time.Date(2024, time.March, 10, 12, 0, 0, 0, time.UTC)

// mkRec builds a record with an id of fixed width, so that records built
// with the same body length encode to frames of the same length.
func mkRec(i int, at time.Time, bodyLen int) Record {
	return Record{
		ID:         fmt.Sprintf("evt-%06d", i),
		Name:       "group:update",
		Action:     "member_added",
		ReceivedAt: at,
		Rules:      []string{"rule-a"},
		Body:       bytes.Repeat([]byte{'a' + byte(i%26)}, bodyLen),
	}
}

func frameLen(r Record) int64 { return int64(Encode(&r).size()) }

func openLog(t testing.TB, dir string, opts Options) *Log {
	t.Helper()
	l, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%s, %+v): %v", dir, opts, err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func closeLog(t testing.TB, l *Log) {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func encodeAll(recs []Record) []Frame {
	frames := make([]Frame, len(recs))
	for i := range recs {
		frames[i] = Encode(&recs[i])
	}
	return frames
}

func appendRecs(t testing.TB, l *Log, recs ...Record) {
	t.Helper()
	if err := l.Append(encodeAll(recs)); err != nil {
		t.Fatalf("Append: %v", err)
	}
}

func scanAll(t testing.TB, l *Log, opts ScanOptions) []Record {
	t.Helper()
	var got []Record
	if err := l.Scan(opts, func(r Record) error { got = append(got, r); return nil }); err != nil {
		t.Fatalf("Scan(%+v): %v", opts, err)
	}
	return got
}

func ids(recs []Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

func reversed(recs []Record) []Record {
	out := slices.Clone(recs)
	slices.Reverse(out)
	return out
}

// recordDiff describes how got differs from want once want has been
// through the log (time to the millisecond, in UTC).
func recordDiff(got, want Record) string {
	var d []string
	if got.ID != want.ID {
		d = append(d, fmt.Sprintf("ID %q, want %q", got.ID, want.ID))
	}
	if got.Name != want.Name {
		d = append(d, fmt.Sprintf("Name %q, want %q", got.Name, want.Name))
	}
	if got.Action != want.Action {
		d = append(d, fmt.Sprintf("Action %q, want %q", got.Action, want.Action))
	}
	wantAt := want.ReceivedAt.Truncate(time.Millisecond).UTC()
	if !got.ReceivedAt.Equal(wantAt) || got.ReceivedAt.Location() != time.UTC {
		d = append(d, fmt.Sprintf("ReceivedAt %v, want %v", got.ReceivedAt, wantAt))
	}
	if !slices.Equal(got.Rules, want.Rules) {
		d = append(d, fmt.Sprintf("Rules %q, want %q", got.Rules, want.Rules))
	}
	if !slices.Equal(got.Errors, want.Errors) {
		d = append(d, fmt.Sprintf("Errors %q, want %q", got.Errors, want.Errors))
	}
	if !bytes.Equal(got.Body, want.Body) {
		d = append(d, fmt.Sprintf("Body %d bytes %.40q, want %d bytes %.40q", len(got.Body), got.Body, len(want.Body), want.Body))
	}
	return strings.Join(d, "; ")
}

func checkRecords(t testing.TB, what string, got, want []Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d records %q, want %d %q", what, len(got), ids(got), len(want), ids(want))
	}
	for i := range got {
		if d := recordDiff(got[i], want[i]); d != "" {
			t.Errorf("%s: record %d: %s", what, i, d)
		}
	}
}

// checkScan checks both scan orders against want (oldest first).
func checkScan(t testing.TB, l *Log, want []Record) {
	t.Helper()
	checkRecords(t, "oldest first", scanAll(t, l, ScanOptions{}), want)
	checkRecords(t, "newest first", scanAll(t, l, ScanOptions{NewestFirst: true}), reversed(want))
}

func checkCount(t testing.TB, l *Log, want int) {
	t.Helper()
	n, err := l.Count()
	if err != nil {
		t.Fatalf("Count: %v", err)
	}
	if n != int64(want) {
		t.Errorf("Count = %d, want %d", n, want)
	}
}

func checkContains(t testing.TB, l *Log, id string, want bool) {
	t.Helper()
	got, err := l.Contains(id)
	if err != nil {
		t.Fatalf("Contains(%q): %v", id, err)
	}
	if got != want {
		t.Errorf("Contains(%q) = %v, want %v", id, got, want)
	}
}

// segments lists the segment files of dir, oldest first.
func segments(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(m)
	return m
}

func damagedFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.damaged-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// segmentIDs reads the ids stored in one segment file, which must be
// clean.
func segmentIDs(t testing.TB, path string) []string {
	t.Helper()
	var out []string
	_, damage := readFrames(path, -1, func(_ int64, _, payload []byte) error {
		h, err := decodeHeader(payload)
		out = append(out, h.id)
		return err
	})
	if damage != nil {
		t.Fatalf("%s: %v", path, damage)
	}
	return out
}

// layout returns the ids of each segment in dir.
func layout(t testing.TB, dir string) [][]string {
	t.Helper()
	var out [][]string
	for _, s := range segments(t, dir) {
		out = append(out, segmentIDs(t, s))
	}
	return out
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Size()
}

func appendToFile(t testing.TB, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// reopenQuietly closes l and opens dir again: once a repair is done, the
// log opens clean (nothing logged) and holds want.
func reopenQuietly(t *testing.T, l *Log, dir string, opts Options, want []Record) *Log {
	t.Helper()
	closeLog(t, l)
	logger, logs := newLogger()
	opts.Logger = logger
	l = openLog(t, dir, opts)
	checkScan(t, l, want)
	if out := logs.String(); out != "" {
		t.Errorf("second reopen logged:\n%s", out)
	}
	return l
}

func newLogger() (*slog.Logger, *syncbuf.Buffer) {
	w := &syncbuf.Buffer{}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})), w
}

func TestRoundTrip(t *testing.T) {
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	binaryBody := []byte{0, 1, 2, 0xff, 0xfe, '\n', 0, 0x80}
	recs := []Record{
		{ID: "minimal", ReceivedAt: t0},
		{
			ID: "full", Name: "group:update", Action: "member_added", ReceivedAt: t0.Add(time.Second),
			Rules: []string{"r1", "r2", "r3"}, Errors: []string{"boom", "bang"},
			Body: []byte(`{"event_name":"group:update","action":"member_added"}`),
		},
		{ID: "nil lists", ReceivedAt: t0, Rules: nil, Errors: nil, Body: []byte("{}")},
		{ID: "empty lists", ReceivedAt: t0, Rules: []string{}, Errors: []string{}, Body: []byte{}},
		{ID: "empty strings in lists", ReceivedAt: t0, Rules: []string{"", "x", ""}, Errors: []string{""}},
		{ID: "", Name: "", Action: "", ReceivedAt: t0},
		{
			ID: "ünïcødé-🎉", Name: "日本語:イベント", Action: "добавлен", ReceivedAt: t0,
			Rules: []string{"règle 🚀", "قاعدة"}, Errors: []string{"ошибка 💥"},
			Body: []byte(`{"name":"Zoë 👩‍💻","emoji":"🦄🌈"}`),
		},
		{ID: strings.Repeat("long-id-", 40), Name: strings.Repeat("n", 200), ReceivedAt: t0},
		{ID: "many rules", ReceivedAt: t0, Rules: slices.Repeat([]string{"rule"}, 300)},
		{ID: "binary body", ReceivedAt: t0, Body: binaryBody},
		{ID: "body 1", ReceivedAt: t0, Body: []byte("x")},
		{ID: "body 127", ReceivedAt: t0, Body: bytes.Repeat([]byte("y"), 127)},
		{ID: "body 128", ReceivedAt: t0, Body: bytes.Repeat([]byte("z"), 128)},
		{ID: "body 3.5K", ReceivedAt: t0, Body: bytes.Repeat([]byte("0123456789"), 350)},
		{ID: "body 70K", ReceivedAt: t0, Body: bytes.Repeat([]byte("abcdefg"), 10000)},
		{ID: "body 1M", ReceivedAt: t0, Body: bytes.Repeat([]byte{'m'}, 1<<20)},
		{ID: "nanoseconds, other zone", ReceivedAt: time.Date(2024, 5, 6, 7, 8, 9, 123456789, zone)},
		{ID: "before 1970", ReceivedAt: time.Date(1969, 12, 31, 23, 59, 59, 999_500_000, time.UTC)},
		{ID: "far future", ReceivedAt: time.Date(2999, 1, 2, 3, 4, 5, 6_000_000, time.UTC)},
	}
	for _, tc := range []struct {
		name  string
		opts  Options
		batch int // frames per Append
	}{
		{"one batch", Options{}, len(recs)},
		{"one per append, synced", Options{Sync: true}, 1},
		{"small segments", Options{SegmentSize: 512}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, tc.opts)
			for i := 0; i < len(recs); i += tc.batch {
				appendRecs(t, l, recs[i:min(i+tc.batch, len(recs))]...)
			}
			checkScan(t, l, recs)
			checkCount(t, l, len(recs))
			closeLog(t, l)

			// And as found on disk by a new writer and by a reader.
			l = openLog(t, dir, tc.opts)
			checkScan(t, l, recs)
			checkCount(t, l, len(recs))
			r := openLog(t, dir, Options{ReadOnly: true})
			checkScan(t, r, recs)
			checkCount(t, r, len(recs))
		})
	}
}

func TestEncodeFrameID(t *testing.T) {
	r := Record{ID: "abc-🎉", ReceivedAt: t0}
	if got := Encode(&r).ID(); got != r.ID {
		t.Errorf("Frame.ID() = %q, want %q", got, r.ID)
	}
}

func TestScanSince(t *testing.T) {
	var recs []Record
	for i := range 10 {
		recs = append(recs, mkRec(i, t0.Add(time.Duration(i)*time.Minute), 100))
	}
	size := int64(len(magic)) + 3*frameLen(recs[0]) // 3 records a segment
	for _, tc := range []struct {
		name  string
		since time.Time
		want  []Record
	}{
		{"zero", time.Time{}, recs},
		{"before all", t0.Add(-time.Hour), recs},
		{"at first", t0, recs},
		{"middle", t0.Add(4*time.Minute + 30*time.Second), recs[5:]},
		{"exactly at a record", t0.Add(7 * time.Minute), recs[7:]},
		{"at last", t0.Add(9 * time.Minute), recs[9:]},
		{"after all", t0.Add(time.Hour), nil},
		{"other zone", t0.Add(5 * time.Minute).In(time.FixedZone("X", -7*3600)), recs[5:]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, Options{SegmentSize: size})
			for _, r := range recs {
				appendRecs(t, l, r)
			}
			if n := len(segments(t, dir)); n != 4 {
				t.Fatalf("%d segments, want 4", n)
			}
			r := openLog(t, dir, Options{ReadOnly: true})
			for _, log := range []*Log{l, r} {
				got := scanAll(t, log, ScanOptions{Since: tc.since})
				checkRecords(t, "oldest first", got, tc.want)
				got = scanAll(t, log, ScanOptions{Since: tc.since, NewestFirst: true})
				checkRecords(t, "newest first", got, reversed(tc.want))
			}
		})
	}
}

func TestScanStop(t *testing.T) {
	dir := t.TempDir()
	var recs []Record
	for i := range 10 {
		recs = append(recs, mkRec(i, t0.Add(time.Duration(i)*time.Second), 50))
	}
	l := openLog(t, dir, Options{SegmentSize: int64(len(magic)) + 4*frameLen(recs[0])})
	appendRecs(t, l, recs...)
	appendRecs(t, l, mkRec(10, t0.Add(time.Minute), 50)) // a second segment
	recs = append(recs, mkRec(10, t0.Add(time.Minute), 50))
	if n := len(segments(t, dir)); n < 2 {
		t.Fatalf("%d segments, want 2 or more", n)
	}
	r := openLog(t, dir, Options{ReadOnly: true})

	mine := errors.New("mine")
	wrapped := fmt.Errorf("wrapped: %w", mine)
	for _, log := range []struct {
		name string
		l    *Log
	}{{"writer", l}, {"read-only", r}} {
		for _, tc := range []struct {
			name    string
			newest  bool
			after   int // records seen when fn returns ret
			ret     error
			wantErr error
		}{
			{"ErrStop oldest first", false, 3, ErrStop, nil},
			{"ErrStop newest first", true, 3, ErrStop, nil},
			{"ErrStop first record", false, 1, ErrStop, nil},
			{"ErrStop in second segment", false, 11, ErrStop, nil},
			{"wrapped ErrStop", true, 2, fmt.Errorf("done: %w", ErrStop), nil},
			{"own error oldest first", false, 4, mine, mine},
			{"own error newest first", true, 4, mine, mine},
			{"own wrapped error", false, 6, wrapped, wrapped},
			{"own error in last record", true, 11, wrapped, wrapped},
		} {
			t.Run(log.name+"/"+tc.name, func(t *testing.T) {
				var got []Record
				err := log.l.Scan(ScanOptions{NewestFirst: tc.newest}, func(r Record) error {
					got = append(got, r)
					if len(got) == tc.after {
						return tc.ret
					}
					return nil
				})
				if err != tc.wantErr {
					t.Errorf("Scan returned %v, want exactly %v", err, tc.wantErr)
				}
				want := recs
				if tc.newest {
					want = reversed(recs)
				}
				checkRecords(t, "visited", got, want[:tc.after])
			})
		}
	}
}

func TestContains(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{SegmentSize: 1024})
	var recs []Record
	for i := range 50 {
		recs = append(recs, mkRec(i, t0.Add(time.Duration(i)*time.Second), i*7))
	}
	for i := 0; i < len(recs); i += 7 {
		appendRecs(t, l, recs[i:min(i+7, len(recs))]...)
	}
	recs = append(recs, Record{ID: "🎉 emoji id", ReceivedAt: t0}, Record{ID: "", ReceivedAt: t0})
	appendRecs(t, l, recs[len(recs)-2:]...)
	absent := []string{"nope", "evt-", "evt-00000", "evt-0000000", "evt-000050", "EVT-000001", "evt-000001 ", "🎉"}
	check := func(l *Log) {
		t.Helper()
		for _, r := range recs {
			checkContains(t, l, r.ID, true)
		}
		for _, id := range absent {
			checkContains(t, l, id, false)
		}
	}
	check(l)
	if n := len(segments(t, dir)); n < 3 {
		t.Fatalf("%d segments, want several", n)
	}
	closeLog(t, l)
	l = openLog(t, dir, Options{})
	check(l)
	appendRecs(t, l, Record{ID: "after reopen", ReceivedAt: t0})
	checkContains(t, l, "after reopen", true)
}

// TestContainsHashCollision forces two ids to share an index slot (the
// index keys on a 64-bit hash) and checks that neither is confused with
// the other.
func TestContainsHashCollision(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{})
	appendRecs(t, l, Record{ID: "a", ReceivedAt: t0})
	ha, hb := maphash.String(l.seed, "a"), maphash.String(l.seed, "b")
	// Pretend "b" hashes like "a": its slot points at "a"'s record.
	l.index[hb] = l.index[ha]
	checkContains(t, l, "b", false) // the slot's record is "a", not "b"
	appendRecs(t, l, Record{ID: "b", ReceivedAt: t0})
	if _, ok := l.overflow["b"]; !ok {
		t.Fatalf("b was not put in the overflow map: %v", l.overflow)
	}
	checkContains(t, l, "a", true)
	checkContains(t, l, "b", true)
	checkContains(t, l, "c", false)
}

func TestRotationBySize(t *testing.T) {
	L := frameLen(mkRec(0, t0, 100))
	size := int64(len(magic)) + 3*L // room for 3 records
	for _, tc := range []struct {
		name    string
		batches []int
		want    [][]string
	}{
		{
			"one at a time", slices.Repeat([]int{1}, 10),
			[][]string{{"evt-000000", "evt-000001", "evt-000002"}, {"evt-000003", "evt-000004", "evt-000005"}, {"evt-000006", "evt-000007", "evt-000008"}, {"evt-000009"}},
		},
		{
			// A batch never spans segments; one bigger than a segment
			// gets a segment of its own.
			"batches", []int{2, 2, 1, 4, 1},
			[][]string{{"evt-000000", "evt-000001"}, {"evt-000002", "evt-000003", "evt-000004"}, {"evt-000005", "evt-000006", "evt-000007", "evt-000008"}, {"evt-000009"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, Options{SegmentSize: size})
			var recs []Record
			for _, n := range tc.batches {
				start := len(recs)
				for i := range n {
					recs = append(recs, mkRec(start+i, t0.Add(time.Duration(start+i)*time.Second), 100))
				}
				appendRecs(t, l, recs[start:]...)
			}
			if got := layout(t, dir); !slices.EqualFunc(got, tc.want, slices.Equal) {
				t.Fatalf("segments hold %q, want %q", got, tc.want)
			}
			for i, s := range segments(t, dir) {
				if got, want := filepath.Base(s), segmentName(uint64(i+1)); got != want {
					t.Errorf("segment %d is named %s, want %s", i, got, want)
				}
				if sz, want := fileSize(t, s), int64(len(magic))+int64(len(tc.want[i]))*L; sz != want {
					t.Errorf("%s is %d bytes, want %d", s, sz, want)
				}
			}
			checkScan(t, l, recs)
			checkCount(t, l, len(recs))
			closeLog(t, l)

			l = openLog(t, dir, Options{SegmentSize: size})
			checkScan(t, l, recs)
			checkCount(t, l, len(recs))
			// The newest segment goes on filling, then the next is
			// numbered on.
			// The newest segment holds one record: a batch of 3 does
			// not fit beside it.
			n := len(recs)
			for i := range 3 {
				recs = append(recs, mkRec(n+i, t0.Add(time.Hour), 100))
			}
			appendRecs(t, l, recs[n:]...)
			segs := segments(t, dir)
			if got, want := filepath.Base(segs[len(segs)-1]), segmentName(uint64(len(tc.want)+1)); got != want {
				t.Errorf("newest segment after reopen is %s, want %s", got, want)
			}
			checkScan(t, l, recs)
			checkCount(t, l, len(recs))
		})
	}
}

func TestRotationByAge(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{SegmentAge: time.Hour})
	offsets := []time.Duration{
		0,
		30 * time.Minute,
		60 * time.Minute, // exactly an hour after the segment's first: same segment
		60*time.Minute + time.Millisecond,
		90 * time.Minute,
		120*time.Minute + time.Millisecond, // an hour after the second segment's first
		120*time.Minute + 2*time.Millisecond,
		100 * time.Minute, // the clock went back: stays in the newest segment
	}
	var recs []Record
	for i, d := range offsets {
		recs = append(recs, mkRec(i, t0.Add(d), 10))
		appendRecs(t, l, recs[i])
	}
	want := [][]string{
		{"evt-000000", "evt-000001", "evt-000002"},
		{"evt-000003", "evt-000004", "evt-000005"},
		{"evt-000006", "evt-000007"},
	}
	if got := layout(t, dir); !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("segments hold %q, want %q", got, want)
	}
	checkScan(t, l, recs)
	checkCount(t, l, len(recs))

	// The age counts from the segment's first record also after a
	// reopen.
	closeLog(t, l)
	l = openLog(t, dir, Options{SegmentAge: time.Hour})
	appendRecs(t, l, mkRec(8, t0.Add(180*time.Minute+2*time.Millisecond), 10))
	appendRecs(t, l, mkRec(9, t0.Add(180*time.Minute+3*time.Millisecond), 10))
	want[2] = append(want[2], "evt-000008")
	want = append(want, []string{"evt-000009"})
	if got := layout(t, dir); !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("after reopen segments hold %q, want %q", got, want)
	}
	checkCount(t, l, 10)
}

// pruneFixture makes a log of three segments, an hour apart.
func pruneFixture(t *testing.T, dir string) (*Log, [][]Record) {
	t.Helper()
	l := openLog(t, dir, Options{SegmentAge: time.Hour})
	groups := [][]Record{
		{mkRec(0, t0, 10), mkRec(1, t0.Add(10*time.Minute), 10), mkRec(2, t0.Add(20*time.Minute), 10)},
		{mkRec(3, t0.Add(2*time.Hour), 10), mkRec(4, t0.Add(2*time.Hour+10*time.Minute), 10)},
		{mkRec(5, t0.Add(4*time.Hour), 10), mkRec(6, t0.Add(4*time.Hour+10*time.Minute), 10)},
	}
	for _, g := range groups {
		appendRecs(t, l, g...)
	}
	if n := len(segments(t, dir)); n != 3 {
		t.Fatalf("%d segments, want 3", n)
	}
	return l, groups
}

func TestPrune(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cutoffs []time.Time // pruned one after the other
		removed []int       // what each Prune returns
		kept    []int       // the groups left
	}{
		{"before all", []time.Time{t0}, []int{0}, []int{0, 1, 2}},
		{"at the first segment's newest record", []time.Time{t0.Add(20 * time.Minute)}, []int{0}, []int{0, 1, 2}},
		{"just after the first segment", []time.Time{t0.Add(20*time.Minute + time.Millisecond)}, []int{3}, []int{1, 2}},
		{"between records of the second", []time.Time{t0.Add(2*time.Hour + 5*time.Minute)}, []int{3}, []int{1, 2}},
		{"after the second", []time.Time{t0.Add(3 * time.Hour)}, []int{5}, []int{2}},
		{"after all: the newest stays", []time.Time{t0.Add(100 * time.Hour)}, []int{5}, []int{2}},
		{"twice", []time.Time{t0.Add(time.Hour), t0.Add(3 * time.Hour), t0.Add(100 * time.Hour)}, []int{3, 2, 0}, []int{2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l, groups := pruneFixture(t, dir)
			files := segments(t, dir)
			for i, c := range tc.cutoffs {
				n, err := l.Prune(c)
				if err != nil {
					t.Fatalf("Prune(%v): %v", c, err)
				}
				if n != tc.removed[i] {
					t.Errorf("Prune(%v) = %d, want %d", c, n, tc.removed[i])
				}
			}
			var want []Record
			var wantFiles []string
			for _, g := range tc.kept {
				want = append(want, groups[g]...)
				wantFiles = append(wantFiles, files[g])
			}
			check := func(l *Log) {
				t.Helper()
				if got := segments(t, dir); !slices.Equal(got, wantFiles) {
					t.Errorf("segment files %q, want %q", got, wantFiles)
				}
				checkScan(t, l, want)
				checkCount(t, l, len(want))
				for g, recs := range groups {
					for _, r := range recs {
						checkContains(t, l, r.ID, slices.Contains(tc.kept, g))
					}
				}
			}
			check(l)
			closeLog(t, l)
			l = openLog(t, dir, Options{SegmentAge: time.Hour})
			check(l)
			// Appending goes on in a new segment numbered after the
			// newest, even when all older ones are gone.
			appendRecs(t, l, mkRec(7, t0.Add(10*time.Hour), 10))
			segs := segments(t, dir)
			if got := filepath.Base(segs[len(segs)-1]); got != segmentName(4) {
				t.Errorf("new segment %s, want %s", got, segmentName(4))
			}
			checkCount(t, l, len(want)+1)
		})
	}
}

func TestPruneSeenByReader(t *testing.T) {
	dir := t.TempDir()
	l, groups := pruneFixture(t, dir)
	r := openLog(t, dir, Options{ReadOnly: true})
	checkCount(t, r, 7)
	if _, err := l.Prune(t0.Add(3 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	checkScan(t, r, groups[2])
	checkCount(t, r, len(groups[2]))
}

// TestPruneDuplicateID: an id stored twice stays known while one copy is
// left.
func TestPruneDuplicateID(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{SegmentAge: time.Hour})
	dup := func(at time.Time) Record { return Record{ID: "dup", ReceivedAt: at} }
	appendRecs(t, l, dup(t0), mkRec(1, t0, 0))
	appendRecs(t, l, dup(t0.Add(2*time.Hour)), mkRec(2, t0.Add(2*time.Hour), 0))
	appendRecs(t, l, mkRec(3, t0.Add(4*time.Hour), 0))
	if n := len(segments(t, dir)); n != 3 {
		t.Fatalf("%d segments, want 3", n)
	}
	for _, step := range []struct {
		cutoff  time.Time
		removed int
		dup     bool
	}{
		{t0.Add(time.Hour), 2, true},
		{t0.Add(3 * time.Hour), 2, false},
	} {
		n, err := l.Prune(step.cutoff)
		if err != nil || n != step.removed {
			t.Fatalf("Prune(%v) = %d, %v; want %d", step.cutoff, n, err, step.removed)
		}
		checkContains(t, l, "dup", step.dup)
	}
	checkContains(t, l, "evt-000003", true)
}

// TestCrashTail: a write cut short at the end of the newest segment is
// dropped at Open, quietly for a reader before that.
func TestCrashTail(t *testing.T) {
	partial := mkRec(99, t0.Add(time.Hour), 300)
	whole := Encode(&partial).appendTo(nil)
	for _, tc := range []struct {
		name string
		tail []byte
	}{
		{"1 byte", whole[:1]},
		{"in the header", whole[:frameHeader-1]},
		{"header only", whole[:frameHeader]},
		{"header and a byte", whole[:frameHeader+1]},
		{"half", whole[:len(whole)/2]},
		{"all but a byte", whole[:len(whole)-1]},
		{"whole frame then half of another", append(slices.Clone(whole[:len(whole)/2]), whole[:len(whole)/3]...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{SegmentSize: 2048}
			l := openLog(t, dir, opts)
			var recs []Record
			for i := range 12 {
				recs = append(recs, mkRec(i, t0.Add(time.Duration(i)*time.Second), 200))
				appendRecs(t, l, recs[i])
			}
			closeLog(t, l)
			segs := segments(t, dir)
			if len(segs) < 2 {
				t.Fatalf("%d segments, want several", len(segs))
			}
			newest := segs[len(segs)-1]
			good := fileSize(t, newest)
			appendToFile(t, newest, tc.tail)

			// A reader before the repair stops quietly at the tail.
			r := openLog(t, dir, Options{ReadOnly: true})
			checkScan(t, r, recs)

			logger, logs := newLogger()
			opts.Logger = logger
			l = openLog(t, dir, opts)
			checkScan(t, l, recs)
			checkCount(t, l, len(recs))
			checkContains(t, l, partial.ID, false)
			if sz := fileSize(t, newest); sz != good {
				t.Errorf("newest segment is %d bytes after repair, want %d", sz, good)
			}
			if d := damagedFiles(t, dir); len(d) != 0 {
				t.Errorf("damaged files %q, want none", d)
			}
			out := logs.String()
			if !strings.Contains(out, "level=WARN") || !strings.Contains(out, filepath.Base(newest)) {
				t.Errorf("want a warning naming %s; log:\n%s", newest, out)
			}
			if strings.Contains(out, "level=ERROR") {
				t.Errorf("want no error; log:\n%s", out)
			}

			next := mkRec(12, t0.Add(time.Minute), 200)
			appendRecs(t, l, next)
			recs = append(recs, next)
			checkScan(t, l, recs)
			l = reopenQuietly(t, l, dir, opts, recs)
			checkContains(t, l, next.ID, true)
		})
	}
}

// TestDamage: damage anywhere but a cut-short tail is moved aside at Open.
func TestDamage(t *testing.T) {
	rec := func(i int) Record { return mkRec(i, t0.Add(time.Duration(i)*time.Second), 120) }
	L := frameLen(rec(0))
	const perSeg = 5
	// recOff is where record i of a segment starts.
	recOff := func(i int) int64 { return int64(len(magic)) + int64(i)*L }
	for _, tc := range []struct {
		name   string
		target int // the damaged record, 0-7; segment 1 holds 0-4
		off    int64
		mutate func(b []byte, off int64)
		kept   []int
	}{
		{
			"payload byte", 2, recOff(2),
			func(b []byte, off int64) { b[off+frameHeader+(L-frameHeader)/2] ^= 0x40 },
			[]int{0, 1, 5, 6, 7},
		},
		{
			"last body byte", 2, recOff(2),
			func(b []byte, off int64) { b[off+L-1]++ },
			[]int{0, 1, 5, 6, 7},
		},
		{
			"checksum", 2, recOff(2),
			func(b []byte, off int64) { b[off+4] ^= 1 },
			[]int{0, 1, 5, 6, 7},
		},
		{
			"length shorter", 2, recOff(2),
			func(b []byte, off int64) { binary.LittleEndian.PutUint32(b[off:], uint32(L-frameHeader-1)) },
			[]int{0, 1, 5, 6, 7},
		},
		{
			"length zero", 2, recOff(2),
			func(b []byte, off int64) { binary.LittleEndian.PutUint32(b[off:], 0) },
			[]int{0, 1, 5, 6, 7},
		},
		{
			"length over the limit", 2, recOff(2),
			func(b []byte, off int64) { binary.LittleEndian.PutUint32(b[off:], maxPayload+1) },
			[]int{0, 1, 5, 6, 7},
		},
		{
			// Runs past the end, but in an older segment: not a crash.
			"length past the end of an older segment", 2, recOff(2),
			func(b []byte, off int64) { binary.LittleEndian.PutUint32(b[off:], uint32(len(b))) },
			[]int{0, 1, 5, 6, 7},
		},
		{
			"valid checksum, unknown version", 2, recOff(2),
			func(b []byte, off int64) {
				p := b[off+frameHeader : off+L]
				p[0] = 9
				binary.LittleEndian.PutUint32(b[off+4:], crc32.Checksum(p, castagnoli))
			},
			[]int{0, 1, 5, 6, 7},
		},
		{
			"first record", 0, recOff(0),
			func(b []byte, off int64) { b[off+frameHeader+3] ^= 0xff },
			[]int{5, 6, 7},
		},
		{
			"last record of the segment", 4, recOff(4),
			func(b []byte, off int64) { b[off+L-2] ^= 0xff },
			[]int{0, 1, 2, 3, 5, 6, 7},
		},
		{
			"segment header", 0, 0,
			func(b []byte, _ int64) { b[0] ^= 0xff },
			[]int{5, 6, 7},
		},
		{
			"newest segment", 6, recOff(1),
			func(b []byte, off int64) { b[off+frameHeader+5] ^= 0x01 },
			[]int{0, 1, 2, 3, 4, 5},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{SegmentSize: recOff(perSeg)}
			l := openLog(t, dir, opts)
			var recs []Record
			for i := range 8 {
				recs = append(recs, rec(i))
			}
			appendRecs(t, l, recs[:perSeg]...)
			appendRecs(t, l, recs[perSeg:]...)
			closeLog(t, l)
			segs := segments(t, dir)
			if len(segs) != 2 {
				t.Fatalf("%d segments, want 2", len(segs))
			}
			seg := segs[tc.target/perSeg]
			b, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}
			tc.mutate(b, tc.off)
			if err := os.WriteFile(seg, b, 0o600); err != nil {
				t.Fatal(err)
			}
			var want []Record
			for _, i := range tc.kept {
				want = append(want, recs[i])
			}

			// A reader meets the damage: the records before it, then an
			// error.
			r := openLog(t, dir, Options{ReadOnly: true})
			var seen []Record
			err = r.Scan(ScanOptions{}, func(r Record) error { seen = append(seen, r); return nil })
			if !errors.Is(err, errDamaged) || !strings.Contains(err.Error(), filepath.Base(seg)) {
				t.Errorf("read-only Scan of damaged log: %v, want a damaged-record error naming %s", err, seg)
			}
			if n := tc.target / perSeg * perSeg; len(seen) < n || !slices.Equal(ids(seen[:n]), ids(recs[:n])) {
				t.Errorf("read-only Scan saw %q before failing", ids(seen))
			}

			logger, logs := newLogger()
			opts.Logger = logger
			l = openLog(t, dir, opts)
			checkScan(t, l, want)
			checkCount(t, l, len(want))
			for i, r := range recs {
				checkContains(t, l, r.ID, slices.Contains(tc.kept, i))
			}
			aside := fmt.Sprintf("%s.damaged-%d", seg, tc.off)
			if d := damagedFiles(t, dir); !slices.Equal(d, []string{aside}) {
				t.Fatalf("damaged files %q, want %q", d, aside)
			}
			got, err := os.ReadFile(aside)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, b[tc.off:]) {
				t.Errorf("%s holds %d bytes, want the %d from the damage on", aside, len(got), len(b)-int(tc.off))
			}
			if sz := fileSize(t, seg); sz != tc.off {
				t.Errorf("%s is %d bytes after repair, want %d", seg, sz, tc.off)
			}
			out := logs.String()
			if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, filepath.Base(seg)) ||
				!strings.Contains(out, filepath.Base(aside)) {
				t.Errorf("want an error naming %s and %s; log:\n%s", seg, aside, out)
			}

			// The log goes on, and is clean when opened again.
			next := rec(8)
			appendRecs(t, l, next)
			want = append(want, next)
			checkScan(t, l, want)
			l = reopenQuietly(t, l, dir, opts, want)
			checkCount(t, l, len(want))
			if d := damagedFiles(t, dir); len(d) != 1 {
				t.Errorf("damaged files %q after second reopen, want just one", d)
			}
		})
	}
}

// TestEmptySegment: a segment file with nothing (or part of the header)
// in it, as a crash right after creating it leaves.
func TestEmptySegment(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content []byte
		num     func(last uint64) uint64 // which segment to create
	}{
		{"zero bytes, newest", nil, func(last uint64) uint64 { return last + 1 }},
		{"part of the header, newest", magic[:4], func(last uint64) uint64 { return last + 1 }},
		{"header only, newest", magic[:], func(last uint64) uint64 { return last + 1 }},
		{"zero bytes, only segment", nil, func(uint64) uint64 { return 1 }},
		{"zero bytes, older segment", nil, func(last uint64) uint64 { return 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var recs []Record
			var last uint64
			if tc.name != "zero bytes, only segment" {
				l := openLog(t, dir, Options{})
				for i := range 3 {
					recs = append(recs, mkRec(i, t0, 10))
				}
				appendRecs(t, l, recs...)
				closeLog(t, l)
				last = 1
			}
			empty := filepath.Join(dir, segmentName(tc.num(last)))
			if err := os.WriteFile(empty, tc.content, 0o600); err != nil {
				t.Fatal(err)
			}

			r := openLog(t, dir, Options{ReadOnly: true})
			checkScan(t, r, recs)

			logger, logs := newLogger()
			l := openLog(t, dir, Options{Logger: logger})
			checkScan(t, l, recs)
			checkCount(t, l, len(recs))
			if d := damagedFiles(t, dir); len(d) != 0 {
				t.Errorf("damaged files %q, want none", d)
			}
			if out := logs.String(); strings.Contains(out, "level=ERROR") {
				t.Errorf("want no error; log:\n%s", out)
			}
			next := mkRec(3, t0, 10)
			appendRecs(t, l, next)
			recs = append(recs, next)
			checkScan(t, l, recs)
			checkContains(t, l, next.ID, true)
			closeLog(t, l)
			l = openLog(t, dir, Options{})
			checkScan(t, l, recs)
			checkCount(t, l, len(recs))
		})
	}
}

// TestReadOnlyWhileWriting: a reader scanning while a writer appends sees
// a prefix of the records, in order, and never an error.
func TestReadOnlyWhileWriting(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"unsynced", Options{SegmentSize: 8 << 10}},
		// The reader meets the zeros ahead of the records, and full
		// segments whose zeros are cut off while it reads them.
		{"synced, zeros written ahead", Options{SegmentSize: 8 << 10, Sync: true, Preallocate: 4 << 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			w := openLog(t, dir, tc.opts)
			r := openLog(t, dir, Options{ReadOnly: true})
			testScanWhileWriting(t, w, r)
			if n := len(segments(t, dir)); n < 5 {
				t.Errorf("only %d segments: the test did not cover rotation", n)
			}
		})
	}
}

// TestScanWhileAppending: the writer's own Log is scanned and counted from
// another goroutine while it appends.
func TestScanWhileAppending(t *testing.T) {
	dir := t.TempDir()
	// Sync widens the time between a batch's write and its indexing.
	w := openLog(t, dir, Options{SegmentSize: 8 << 10, Sync: true})
	testScanWhileWriting(t, w, w)
}

func testScanWhileWriting(t *testing.T, w, r *Log) {
	var batches [][]Record
	var all []Record
	for b := range 150 {
		var batch []Record
		for range 1 + b%5 {
			i := len(all)
			rec := mkRec(i, t0.Add(time.Duration(i)*time.Millisecond), (i*37)%900)
			batch = append(batch, rec)
			all = append(all, rec)
		}
		batches = append(batches, batch)
	}
	done := make(chan error, 1)
	go func() {
		for _, b := range batches {
			if err := w.Append(encodeAll(b)); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()

	prev, prevCount := 0, int64(0)
	check := func(newest bool) int {
		t.Helper()
		var got []Record
		if err := r.Scan(ScanOptions{NewestFirst: newest}, func(r Record) error {
			got = append(got, r)
			return nil
		}); err != nil {
			t.Fatalf("Scan (newest first %v) while writing: %v", newest, err)
		}
		if newest {
			slices.Reverse(got)
		}
		if len(got) > len(all) {
			t.Fatalf("Scan saw %d records, more than the %d written", len(got), len(all))
		}
		for i := range got {
			if d := recordDiff(got[i], all[i]); d != "" {
				t.Fatalf("Scan (newest first %v) record %d of %d: %s", newest, i, len(got), d)
			}
		}
		if len(got) < prev {
			t.Fatalf("Scan saw %d records after an earlier one saw %d", len(got), prev)
		}
		prev = len(got)
		n, err := r.Count()
		if err != nil {
			t.Fatalf("Count while writing: %v", err)
		}
		if n < prevCount || n > int64(len(all)) {
			t.Fatalf("Count = %d after %d (of %d)", n, prevCount, len(all))
		}
		prevCount = n
		return len(got)
	}
	scans := 0
	for finished := false; !finished; scans++ {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			finished = true
		default:
		}
		check(scans%2 == 1)
	}
	for _, newest := range []bool{false, true} {
		if n := check(newest); n != len(all) {
			t.Errorf("after the writer finished, Scan saw %d records, want %d", n, len(all))
		}
	}
	t.Logf("%d scans while writing", scans)
}

func TestClosed(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{})
	appendRecs(t, l, mkRec(0, t0, 10))
	closeLog(t, l)
	f := Encode(&Record{ID: "late", ReceivedAt: t0})
	if err := l.Append([]Frame{f}); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: %v, want ErrClosed", err)
	}
	if err := l.Scan(ScanOptions{}, func(Record) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("Scan after Close: %v, want ErrClosed", err)
	}
	if _, err := l.Prune(t0.Add(time.Hour)); !errors.Is(err, ErrClosed) {
		t.Errorf("Prune after Close: %v, want ErrClosed", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	l = openLog(t, dir, Options{})
	checkContains(t, l, "late", false)
	checkCount(t, l, 1)
}

// TestWriteSync: Write buffers records Contains sees at once and Scan
// once Sync wrote them out; Sync may run beside the next Write, as the
// store overlaps them; Stored follows the tickets.
func TestWriteSync(t *testing.T) {
	for _, sync := range []bool{false, true} {
		t.Run("sync="+strconv.FormatBool(sync), func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{Sync: sync, SegmentSize: 4 << 10}
			l := openLog(t, dir, opts)
			if err := l.Sync(); err != nil {
				t.Fatalf("Sync with nothing written: %v", err)
			}
			if tk, err := l.Write(nil); err != nil || tk != 0 {
				t.Fatalf("Write(nil) = %d, %v; want no ticket, no error", tk, err)
			}
			var all []Record
			batch := func(b int) []Record {
				var recs []Record
				for range 1 + b%4 {
					recs = append(recs, mkRec(len(all)+len(recs), t0.Add(time.Duration(len(all))*time.Second), 300))
				}
				return recs
			}
			first := batch(0)
			tk, err := l.Write(encodeAll(first))
			if err != nil {
				t.Fatal(err)
			}
			checkContains(t, l, first[0].ID, true)
			checkScan(t, l, nil)
			if err := l.Stored(tk); err == nil {
				t.Errorf("Stored(%d) before Sync = nil, want not yet", tk)
			}
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
			if err := l.Stored(tk); err != nil {
				t.Errorf("Stored(%d) after Sync: %v", tk, err)
			}
			all = append(all, first...)
			checkScan(t, l, all)

			// One goroutine writes, another syncs each batch once
			// written, while the next is being written.
			written := make(chan int, 100)
			errc := make(chan error, 2)
			go func() {
				defer close(written)
				for b := 1; b < 60; b++ {
					recs := batch(b)
					if _, err := l.Write(encodeAll(recs)); err != nil {
						errc <- fmt.Errorf("Write: %w", err)
						return
					}
					all = append(all, recs...)
					written <- len(all)
				}
			}()
			syncs := 0
			go func() {
				for range written {
					if err := l.Sync(); err != nil {
						errc <- fmt.Errorf("Sync: %w", err)
						return
					}
					syncs++
				}
				errc <- nil
			}()
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			if syncs != 59 {
				t.Errorf("%d syncs, want 59", syncs)
			}
			if n := len(segments(t, dir)); n < 3 {
				t.Errorf("%d segments: the test did not cover rotation", n)
			}
			checkScan(t, l, all)
			checkCount(t, l, len(all))
			closeLog(t, l)
			if _, err := l.Write(encodeAll(batch(0))); !errors.Is(err, ErrClosed) {
				t.Errorf("Write after Close: %v, want ErrClosed", err)
			}
			if err := l.Sync(); sync && !errors.Is(err, ErrClosed) {
				t.Errorf("Sync after Close: %v, want ErrClosed", err)
			}
			l = openLog(t, dir, opts)
			checkScan(t, l, all)
			for _, r := range all {
				checkContains(t, l, r.ID, true)
			}
		})
	}
}

func TestReadOnlyRefusesWrites(t *testing.T) {
	dir := t.TempDir()
	w := openLog(t, dir, Options{})
	appendRecs(t, w, mkRec(0, t0, 10))
	r := openLog(t, dir, Options{ReadOnly: true})
	f := Encode(&Record{ID: "x", ReceivedAt: t0})
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"Append", func() error { return r.Append([]Frame{f}) }},
		{"Append none", func() error { return r.Append(nil) }},
		{"Write", func() error { _, err := r.Write([]Frame{f}); return err }},
		{"Contains", func() error { _, err := r.Contains("evt-000000"); return err }},
		{"Prune", func() error { _, err := r.Prune(t0.Add(time.Hour)); return err }},
	} {
		if err := tc.call(); !errors.Is(err, ErrReadOnly) {
			t.Errorf("%s on a read-only log: %v, want ErrReadOnly", tc.name, err)
		}
	}
	if err := r.Sync(); err != nil {
		t.Errorf("Sync on a read-only log: %v, want nil", err)
	}
	checkScan(t, r, []Record{mkRec(0, t0, 10)})
	closeLog(t, r)
	if err := r.Scan(ScanOptions{}, func(Record) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("Scan after Close: %v, want ErrClosed", err)
	}
	checkScan(t, w, []Record{mkRec(0, t0, 10)})
}

func TestReadOnlyMissingFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not-yet")
	r := openLog(t, dir, Options{ReadOnly: true})
	checkScan(t, r, nil)
	checkCount(t, r, 0)
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a read-only Open created %s (%v)", dir, err)
	}
	// It finds the log once a writer makes it.
	w := openLog(t, dir, Options{})
	appendRecs(t, w, mkRec(0, t0, 10))
	checkScan(t, r, []Record{mkRec(0, t0, 10)})
}

func BenchmarkAppend(b *testing.B) {
	body := bytes.Repeat([]byte(`{"k":"0123456789abcdef"},`), 140)[:3500]
	const batch = 16
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"sync=false", Options{}},
		{"sync=true/preallocate=none", Options{Sync: true, Preallocate: -1}},
		{"sync=true", Options{Sync: true}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			l := openLog(b, b.TempDir(), tc.opts)
			frames := make([]Frame, batch)
			n := 0
			// Encode is timed too: the store's accept path pays it.
			for b.Loop() {
				for i := range frames {
					r := Record{
						ID: "EV-" + strconv.Itoa(n), Name: "group:update", Action: "member_added",
						ReceivedAt: t0, Rules: []string{"rule-a", "rule-b"}, Body: body,
					}
					frames[i] = Encode(&r)
					n++
				}
				if err := l.Append(frames); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(batch * frames[0].size()))
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

func BenchmarkContains(b *testing.B) {
	l := openLog(b, b.TempDir(), Options{})
	const n = 20000
	for i := 0; i < n; i += 100 {
		frames := make([]Frame, 100)
		for j := range frames {
			r := Record{ID: "EV-" + strconv.Itoa(i+j), ReceivedAt: t0, Body: []byte(`{}`)}
			frames[j] = Encode(&r)
		}
		if err := l.Append(frames); err != nil {
			b.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		prefix string
		want   bool
	}{{"hit", "EV-", true}, {"miss", "NO-", false}} {
		b.Run(tc.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				ok, err := l.Contains(tc.prefix + strconv.Itoa(i%n))
				if err != nil || ok != tc.want {
					b.Fatalf("Contains = %v, %v; want %v", ok, err, tc.want)
				}
				i++
			}
		})
	}
}

// BeforeWrite runs before buffered records reach the file, with every
// record of the write buffered, and only when there is something to
// write; its failure stops writes like a failed fsync, with an error that
// says what to do and keeps its cause.
func TestBeforeWrite(t *testing.T) {
	dir := t.TempDir()
	var calls int
	var fail error
	l := openLog(t, dir, Options{Sync: true, BeforeWrite: func() error {
		calls++
		return fail
	}})
	if err := l.Sync(); err != nil || calls != 0 {
		t.Fatalf("Sync with nothing buffered: %v, BeforeWrite called %d times; want nil and 0", err, calls)
	}
	first := mkRec(1, t0, 100)
	appendRecs(t, l, first)
	if calls != 1 {
		t.Fatalf("BeforeWrite called %d times for one write, want 1", calls)
	}

	fail = errors.New("wal sync: input/output error")
	tk, err := l.Write(encodeAll([]Record{mkRec(2, t0, 100)}))
	if err != nil {
		t.Fatal(err)
	}
	err = l.Sync()
	if !errors.Is(err, fail) || !strings.Contains(err.Error(), "restart hookd") {
		t.Fatalf("Sync after a failing BeforeWrite = %v, want the cause and what to do", err)
	}
	if err := l.Stored(tk); err == nil {
		t.Error("the write whose BeforeWrite failed is reported stored")
	}
	fail = nil
	if _, err := l.Write(encodeAll([]Record{mkRec(3, t0, 100)})); err == nil || !strings.Contains(err.Error(), "restart hookd") {
		t.Errorf("Write after the failure = %v, want writes stopped until restart", err)
	}
	checkScan(t, l, []Record{first})
}

// zerosFrom reports whether path holds only zeros from off on.
func zerosFrom(t testing.TB, path string, off int64) bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return !slices.ContainsFunc(b[off:], func(c byte) bool { return c != 0 })
}

// copySegments copies the segment files of dir into a new folder, as a
// crash would leave them: the lock is not copied.
func copySegments(t testing.TB, dir string) string {
	t.Helper()
	crash := t.TempDir()
	for _, s := range segments(t, dir) {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(crash, filepath.Base(s)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return crash
}

// TestZerosWrittenAhead: a synced log writes zeros ahead of its records
// (Options.Preallocate). Readers stop at them; a full segment and Close
// cut them off; after a crash, Open cuts them off quietly.
func TestZerosWrittenAhead(t *testing.T) {
	rec := func(i int) Record { return mkRec(i, t0.Add(time.Duration(i)*time.Second), 1500) }
	L := frameLen(rec(0))
	const perSeg, ahead = 6, 4096
	dir := t.TempDir()
	opts := Options{Sync: true, Preallocate: ahead, SegmentSize: int64(len(magic)) + perSeg*L}
	l := openLog(t, dir, opts)
	r := openLog(t, dir, Options{ReadOnly: true})
	var recs []Record
	longer := 0
	for i := range 2*perSeg + 2 {
		recs = append(recs, rec(i))
		appendRecs(t, l, recs[i])
		checkScan(t, r, recs)
		segs := segments(t, dir)
		for j, s := range segs[:len(segs)-1] {
			if sz, want := fileSize(t, s), int64(len(magic))+perSeg*L; sz != want {
				t.Fatalf("after %d appends, full segment %d is %d bytes, want %d", i+1, j+1, sz, want)
			}
		}
		newest := segs[len(segs)-1]
		end := int64(len(magic)) + int64(i%perSeg+1)*L
		if sz := fileSize(t, newest); sz < end || sz > end+ahead {
			t.Fatalf("after %d appends, newest segment is %d bytes, want %d to %d", i+1, sz, end, end+ahead)
		} else if sz > end {
			longer++
		}
		if !zerosFrom(t, newest, end) {
			t.Fatalf("after %d appends, newest segment holds more than zeros after its records", i+1)
		}
	}
	if longer == 0 {
		t.Fatal("no zeros were ever written ahead")
	}

	// A crash leaves the zeros: Open cuts them off and says nothing.
	crash := copySegments(t, dir)
	newest := segments(t, crash)[2]
	if fileSize(t, newest) == int64(len(magic))+2*L {
		t.Fatal("the crash left no zeros to cut off")
	}
	logger, logs := newLogger()
	crashOpts := opts
	crashOpts.Logger = logger
	c := openLog(t, crash, crashOpts)
	checkScan(t, c, recs)
	if out := logs.String(); out != "" {
		t.Errorf("Open after a crash logged:\n%s", out)
	}
	reopenQuietly(t, c, crash, opts, recs)
	if sz, want := fileSize(t, newest), int64(len(magic))+2*L; sz != want {
		t.Errorf("after a crash and Open, newest segment is %d bytes, want %d", sz, want)
	}

	closeLog(t, l)
	if sz, want := fileSize(t, segments(t, dir)[2]), int64(len(magic))+2*L; sz != want {
		t.Errorf("after Close, newest segment is %d bytes, want %d", sz, want)
	}
	checkScan(t, r, recs)
}

// TestTornWrite: a crash can leave a synced log's last write partly on
// disk, over the zeros written ahead: sectors of it still zero, or later
// records of it after zeros. In the newest segment that write was most
// likely never acknowledged: Open keeps its bytes aside with a warning,
// and readers stop quietly before it. In an older segment it is damage,
// kept aside with an error (readers stop at the zeros before it).
func TestTornWrite(t *testing.T) {
	// The body's length makes the newest segment's third record end 3
	// bytes into a sector: a cut-short write that leaves that sector
	// unwritten leaves just 3 zeros in the record.
	bodyLen := 3000
	for (int64(len(magic))+3*frameLen(mkRec(0, t0, bodyLen)))%sectorSize != 3 {
		bodyLen++
	}
	rec := func(i int) Record { return mkRec(i, t0.Add(time.Duration(i)*time.Second), bodyLen) }
	L := frameLen(rec(0))
	late := Encode(&Record{ID: "late", ReceivedAt: t0, Body: []byte(`{}`)}).appendTo(nil)
	// recOff is where record i of a segment starts.
	recOff := func(i int) int64 { return int64(len(magic)) + int64(i)*L }
	// lastSector is where the sector holding the last byte of the record
	// at off starts.
	lastSector := func(off int64) int64 { return (off + L - 1) / sectorSize * sectorSize }
	for _, tc := range []struct {
		name   string
		older  bool  // damage the older segment instead of the newest
		cut    int64 // where the segment is cut
		kept   int   // how many records are left
		mutate func(b []byte) []byte
	}{
		{
			"a sector of the last record still zero", false, recOff(2), 5,
			func(b []byte) []byte {
				s := (recOff(2) + L/2) / sectorSize * sectorSize
				clear(b[s : s+sectorSize])
				return b
			},
		},
		{
			"the last record's last sector (3 bytes of it) still zero", false, recOff(2), 5,
			func(b []byte) []byte { clear(b[lastSector(recOff(2)):]); return b },
		},
		{
			// As a reader can find a record still being copied in: its
			// last sector is partly written.
			"the last record's last 2 bytes still zero", false, recOff(2), 5,
			func(b []byte) []byte { clear(b[recOff(3)-2 : recOff(3)]); return b },
		},
		{
			"a record after the zeros", false, recOff(3), 6,
			func(b []byte) []byte { return append(append(b, make([]byte, 1000)...), late...) },
		},
		{
			"a record after zeros, older segment", true, recOff(3), 6,
			func(b []byte) []byte { return append(append(b, make([]byte, 1000)...), late...) },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{Sync: true, SegmentSize: recOff(3)}
			l := openLog(t, dir, opts)
			var recs []Record
			for i := range 6 {
				recs = append(recs, rec(i))
			}
			appendRecs(t, l, recs[:3]...)
			appendRecs(t, l, recs[3:]...)
			closeLog(t, l)
			segs := segments(t, dir)
			if len(segs) != 2 {
				t.Fatalf("%d segments, want 2", len(segs))
			}
			seg := segs[1]
			if tc.older {
				seg = segs[0]
			}
			b, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}
			wrote := append(tc.mutate(b), make([]byte, 2000)...)
			if err := os.WriteFile(seg, wrote, 0o600); err != nil {
				t.Fatal(err)
			}
			want := recs[:tc.kept]
			logger, logs := newLogger()
			r := openLog(t, dir, Options{ReadOnly: true, Logger: logger})
			// Readers stop at the zeros, or quietly before the newest
			// segment's cut-short write.
			checkScan(t, r, want)

			opts.Logger = logger
			l = openLog(t, dir, opts)
			checkScan(t, l, want)
			checkContains(t, l, "late", false)
			if sz := fileSize(t, seg); sz != tc.cut {
				t.Errorf("%s is %d bytes after repair, want %d", seg, sz, tc.cut)
			}
			// The bytes from the cut on are kept aside, as they were.
			aside := fmt.Sprintf("%s.damaged-%d", seg, tc.cut)
			if d := damagedFiles(t, dir); !slices.Equal(d, []string{aside}) {
				t.Errorf("damaged files %q, want %q", d, aside)
			} else if got, err := os.ReadFile(aside); err != nil || !bytes.Equal(got, wrote[tc.cut:]) {
				t.Errorf("%s holds %d bytes (%v), want the %d from the cut on", aside, len(got), err, len(wrote)-int(tc.cut))
			}
			out := logs.String()
			level := "level=WARN"
			if tc.older {
				level = "level=ERROR"
			}
			if !strings.Contains(out, level) || !strings.Contains(out, filepath.Base(aside)) ||
				!tc.older && strings.Contains(out, "level=ERROR") {
				t.Errorf("want %s naming %s (and no error for the newest segment); log:\n%s", level, aside, out)
			}
			reopenQuietly(t, l, dir, opts, want)
		})
	}
}

// TestZeroTailsCutQuietly: zeros after the records, as a crash leaves
// them (a full segment whose zeros were not cut off yet, a run of zeros
// shorter than a frame header), are cut off by Open without a word.
func TestZeroTailsCutQuietly(t *testing.T) {
	for _, tc := range []struct {
		name  string
		seg   int // which segment gets the zeros
		zeros int
	}{
		{"newest, fewer than a header", 1, frameHeader - 3},
		{"newest, many", 1, 5000},
		{"older, fewer than a header", 0, 5},
		{"older, many", 0, 5000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			rec := func(i int) Record { return mkRec(i, t0.Add(time.Duration(i)*time.Second), 300) }
			L := frameLen(rec(0))
			opts := Options{SegmentSize: int64(len(magic)) + 2*L}
			l := openLog(t, dir, opts)
			recs := []Record{rec(0), rec(1), rec(2)}
			appendRecs(t, l, recs[:2]...)
			appendRecs(t, l, recs[2])
			closeLog(t, l)
			segs := segments(t, dir)
			if len(segs) != 2 {
				t.Fatalf("%d segments, want 2", len(segs))
			}
			seg := segs[tc.seg]
			size := fileSize(t, seg)
			appendToFile(t, seg, make([]byte, tc.zeros))
			checkScan(t, openLog(t, dir, Options{ReadOnly: true}), recs)

			logger, logs := newLogger()
			opts.Logger = logger
			l = openLog(t, dir, opts)
			checkScan(t, l, recs)
			if sz := fileSize(t, seg); sz != size {
				t.Errorf("%s is %d bytes after Open, want %d", seg, sz, size)
			}
			if out := logs.String(); out != "" {
				t.Errorf("Open logged:\n%s", out)
			}
			if d := damagedFiles(t, dir); len(d) != 0 {
				t.Errorf("damaged files %q, want none", d)
			}
		})
	}
}

// TestReaderRereadsAHalfCopiedWrite: a reader can read a frame header
// before the writer copies it in and the rest after, and take that for
// damage. A quiet scan (read-only, newest segment) reads the segment
// again once, and sees the write whole; real damage stays an error.
func TestReaderRereadsAHalfCopiedWrite(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mended bool // the write is whole by the second read
		newest bool // scan newest first
	}{
		{"mended, oldest first", true, false},
		{"mended, newest first", true, true},
		{"still damaged", false, false},
		{"still damaged, newest first", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, Options{})
			recs := []Record{mkRec(0, t0, 300), mkRec(1, t0, 300), mkRec(2, t0, 300)}
			appendRecs(t, l, recs...)
			closeLog(t, l)
			seg := segments(t, dir)[0]
			whole, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}
			// The last frame's length still zero, as before the write.
			half := slices.Clone(whole)
			clear(half[int64(len(magic))+2*frameLen(recs[0]):][:4])
			if err := os.WriteFile(seg, half, 0o600); err != nil {
				t.Fatal(err)
			}
			rereads := 0
			beforeReread = func(path string) {
				rereads++
				if tc.mended {
					if err := os.WriteFile(path, whole, 0o600); err != nil {
						t.Error(err)
					}
				}
			}
			defer func() { beforeReread = nil }()
			r := openLog(t, dir, Options{ReadOnly: true})
			var got []Record
			err = r.Scan(ScanOptions{NewestFirst: tc.newest}, func(r Record) error { got = append(got, r); return nil })
			if rereads != 1 {
				t.Errorf("read the segment again %d times, want once", rereads)
			}
			if !tc.mended {
				if !errors.Is(err, errDamaged) {
					t.Errorf("Scan: %v, want a damaged-record error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Scan: %v", err)
			}
			if tc.newest {
				got = reversed(got)
			}
			checkRecords(t, "Scan", got, recs)
		})
	}
}
