// Package eventlog is hookd's record of accepted events: an append-only
// log of segment files, written with group commit (one write and one fsync
// per batch), with an in-memory index of event ids for dedup.
//
// The daemon writes each accepted event once and reads it rarely (export,
// the API), so the log keeps the write path to copying bytes: there is no
// B-tree to update and no page to rewrite per event.
//
// # Files
//
// The log is a folder of segments named by a growing number
// (00000000000000000001.log, ...) and a lock file. Write fills the
// newest segment and starts a new one when it grows past
// Options.SegmentSize or holds events older than Options.SegmentAge, so
// that Prune can delete old events a whole file at a time. Each record is
// framed with its length and a CRC-32C (see frame.go).
//
// # Writing
//
// Write buffers a batch of records (the index knows them at once) and
// returns its Ticket; Sync writes out everything buffered in one write and
// syncs it; Stored then tells each Write whether its records are stored.
// Sync may run beside the next Writes, which is how the store's syncer
// overlaps one batch's fsync with the next batches. Append is Write, Sync
// and Stored in one call.
//
// A synced log keeps zeros written ahead of its records in the newest
// segment (Options.Preallocate): a sync then writes data pages only, not
// the file's size. The records end at the first frame header of zeros;
// Close and a full segment cut the zeros off.
//
// # Crashes and damage
//
// A crash can leave the newest segment ending in a record cut short: one
// whose Sync never returned, so no sender was told it was stored. Where
// the file ends inside a record, Open cuts that tail off. Over the zeros
// written ahead, a cut-short write can also leave a record holding zeros
// its write never reached (a sector of them, or its end), or bytes after
// the zeros that end the records; a damaged disk can look the same, so
// Open keeps those bytes aside (below) and logs a warning. Open cuts off
// the zeros. A record that fails its checksum elsewhere (damaged disk) is
// kept: Open moves the bytes from that point on to a file named
// <segment>.damaged-<offset> beside it, logs where they went, and goes on
// with the records before them.
//
// # Processes
//
// One process writes: Open takes an exclusive lock on the folder and fails
// with ErrLocked when another process has it. Options.ReadOnly opens
// without the lock (hookd commands reading while the daemon runs); such a
// Log only reads, stopping quietly at a record still being written.
package eventlog

import (
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hookd/hookd/engine/store/fsync"
)

// Defaults for Options.
const (
	// DefaultSegmentSize is the default Options.SegmentSize.
	DefaultSegmentSize = 64 << 20
	// DefaultSegmentAge is the default Options.SegmentAge.
	DefaultSegmentAge = time.Hour
	// DefaultPreallocate is the default Options.Preallocate.
	DefaultPreallocate = 1 << 20
)

var (
	// ErrLocked says another process writes the log.
	ErrLocked = errors.New("eventlog: another hookd process is using this data folder")
	// ErrReadOnly is returned by Append and Contains on a read-only log.
	ErrReadOnly = errors.New("eventlog: opened read-only")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("eventlog: closed")
)

// Options tune a Log. The zero value is valid.
type Options struct {
	// Sync makes Append and Sync fsync what they write.
	Sync bool
	// BeforeWrite, if set, is called before buffered records are written
	// to a file (by Sync, by Close, or when a full segment is written out
	// before the next one starts), with every record of the write already
	// buffered. The store syncs there what those records depend on
	// (SQLite's WAL, which holds their jobs). An error stops writes as a
	// failed fsync does.
	BeforeWrite func() error
	// ReadOnly opens the log for reading only: no lock, no index.
	ReadOnly bool
	// SegmentSize is the size past which a new segment is started
	// (default DefaultSegmentSize).
	SegmentSize int64
	// SegmentAge is how old a segment's first record may be before a new
	// segment is started (default DefaultSegmentAge).
	SegmentAge time.Duration
	// Preallocate is how many bytes of zeros a synced log keeps written
	// ahead of its records in the segment being written (default
	// DefaultPreallocate; negative: none). A sync then writes the
	// records' pages only: the file's size, and with it the filesystem's
	// journal, changes once per Preallocate bytes instead of at every
	// sync, which cuts a third of the sync's time and CPU on ext4. Records end at
	// the first zero frame header; Close and a full segment cut the
	// zeros off.
	Preallocate int64
	// Logger receives repair messages (default slog.Default()).
	Logger *slog.Logger
}

// Log is an open event log. Write, Append, Contains and Prune must be
// called from one goroutine at a time (the store's writer); Sync may run
// at the same time as them (the store's syncer); Scan and Count are safe
// for concurrent use with all of them.
type Log struct {
	dir  string
	opts Options
	log  *slog.Logger
	lock *os.File

	// ioMu is held while the buffer is written out and synced, and while
	// the active segment is swapped.
	ioMu sync.Mutex

	mu     sync.Mutex // guards what follows
	segs   []*segment
	closed bool
	broken error
	active *os.File
	// pend holds the frames Write buffered for the active segment, and
	// pendIDs their ids (and those of a write in progress) until Sync has
	// written them out.
	pend    []byte
	pendIDs map[string]struct{}
	// Writes are numbered (Ticket): written counts the Writes, flushed
	// the ones a Sync has dealt with; lost lists the ranges a failed
	// write dropped.
	written, flushed Ticket
	lost             [][2]Ticket
	lostErr          error    // why the last ones were lost
	ids              []string // ids of pend, in order
	spare            []byte   // the last buffer written, reused
	spareID          []string
	zeros            []byte // Options.Preallocate zeros; only ioMu's holder uses it

	syncs fsync.Syncer // syncs the segments; ioMu's holder uses it

	// Only the writing goroutine touches these.
	seed     maphash.Seed
	index    map[uint64]ref
	overflow map[string]ref // ids whose hash another id has already
}

// segment is one file of the log.
type segment struct {
	num         uint64
	path        string
	size        int64 // bytes of whole records on file (readers stop there)
	end         int64 // size plus the bytes buffered for it
	first, last int64 // the first and the newest record's times, Unix ms; 0 when empty
	count       int
	hashes      []uint64 // ids' hashes, to drop from the index on Prune
	// alloc is the file's size while it is the active segment: size,
	// or more where zeros are written ahead (Options.Preallocate). Only
	// the holder of ioMu touches it once the segment is active.
	alloc int64
}

// ref locates a record: its segment and offset.
type ref struct {
	seg uint64
	off int64
}

// Open opens (creating if needed) the log in dir.
func Open(dir string, opts Options) (*Log, error) {
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = DefaultSegmentSize
	}
	if opts.SegmentAge <= 0 {
		opts.SegmentAge = DefaultSegmentAge
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	switch {
	case opts.Preallocate < 0 || !opts.Sync:
		opts.Preallocate = 0
	case opts.Preallocate == 0:
		opts.Preallocate = DefaultPreallocate
	}
	l := &Log{dir: dir, opts: opts, log: opts.Logger}
	if opts.ReadOnly {
		segs, err := l.list()
		if err != nil {
			return nil, err
		}
		l.segs = segs
		return l, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("event log %s: create folder: %w: make it writable by the user running hookd", dir, err)
	}
	lock, err := lockDir(filepath.Join(dir, "lock"))
	if err != nil {
		return nil, fmt.Errorf("event log %s: %w", dir, err)
	}
	l.lock = lock
	l.seed = maphash.MakeSeed()
	l.pendIDs = make(map[string]struct{})
	l.index = make(map[uint64]ref)
	l.overflow = make(map[string]ref)
	if err := l.recover(); err != nil {
		_ = lock.Close()
		return nil, err
	}
	return l, nil
}

// segmentName is the file name of segment num.
func segmentName(num uint64) string { return fmt.Sprintf("%020d.log", num) }

// list finds the segments in the folder, oldest first, sized as found.
func (l *Log) list() ([]*segment, error) {
	entries, err := os.ReadDir(l.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("event log %s: %w", l.dir, err)
	}
	var segs []*segment
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".log")
		if !ok || e.IsDir() {
			continue
		}
		num, err := strconv.ParseUint(name, 10, 64)
		if err != nil {
			continue
		}
		segs = append(segs, &segment{num: num, path: filepath.Join(l.dir, e.Name()), size: -1})
	}
	slices.SortFunc(segs, func(a, b *segment) int { return cmpUint(a.num, b.num) })
	return segs, nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// recover reads every segment, repairs damage, and builds the index.
func (l *Log) recover() error {
	segs, err := l.list()
	if err != nil {
		return err
	}
	for i, seg := range segs {
		end, damage := readFrames(seg.path, -1, func(off int64, hdr, payload []byte) error {
			h, err := decodeHeader(payload)
			if err != nil {
				return err
			}
			l.remember(seg, h, off)
			return nil
		})
		if damage == nil {
			if damage, err = l.cutZeroTail(seg, end); err != nil {
				return err
			}
		}
		if damage != nil {
			if err := l.repair(seg, end, damage, i == len(segs)-1); err != nil {
				return err
			}
		}
		seg.size, seg.end = end, end
		l.segs = append(l.segs, seg)
	}
	return nil
}

// cutZeroTail cuts off the zeros a synced log writes ahead of its records
// (Options.Preallocate) that a crash left at the end of seg, whose
// records end at end. It returns damage instead where other bytes follow
// the zeros: the rest of a write cut short by a crash.
func (l *Log) cutZeroTail(seg *segment, end int64) (damage, err error) {
	tail, zeros, err := zerosAfter(seg.path, end)
	switch {
	case err != nil:
		return nil, fmt.Errorf("event log %s: %w", seg.path, err)
	case tail == 0:
		return nil, nil
	case !zeros:
		return &tornError{fmt.Errorf("%w: bytes after the zeros that end the records", errDamaged)}, nil
	}
	if err := os.Truncate(seg.path, end); err != nil {
		return nil, fmt.Errorf("event log %s: cut off the zeros after byte %d: %w: make the file writable by the user running hookd", seg.path, end, err)
	}
	return nil, nil
}

// remember adds a stored record to the index and its segment's figures.
func (l *Log) remember(seg *segment, h header, off int64) {
	hash := maphash.String(l.seed, h.id)
	r := ref{seg: seg.num, off: off}
	if _, taken := l.index[hash]; taken {
		l.overflow[h.id] = r
	} else {
		l.index[hash] = r
	}
	seg.hashes = append(seg.hashes, hash)
	if seg.first == 0 {
		seg.first = h.at
	}
	// Records are not always appended in the order received (requests
	// overtake each other, clocks are set back): last is the newest.
	if seg.count == 0 || h.at > seg.last {
		seg.last = h.at
	}
	seg.count++
}

// forget drops from the index the hashes given, where they point at a
// record match selects. Call it with mu held.
func (l *Log) forget(seg *segment, hashes []uint64, match func(ref) bool) {
	for _, h := range hashes {
		if r, ok := l.index[h]; ok && match(r) {
			delete(l.index, h)
		}
	}
	for id, r := range l.overflow {
		if match(r) {
			delete(l.overflow, id)
		}
	}
}

// repair cuts seg at end, where damage was found. A record cut short at
// the end of the newest segment (the file ends inside it) is a write a
// crash interrupted, never reported stored: it is dropped. Anything else
// is kept aside: a torn write over the zeros written ahead (tornError) in
// the newest segment with a warning, since it is most likely the last
// write, never acknowledged; other damage with an error.
func (l *Log) repair(seg *segment, end int64, damage error, newest bool) error {
	info, err := os.Stat(seg.path)
	if err != nil {
		return fmt.Errorf("event log %s: %w", seg.path, err)
	}
	if end < int64(len(magic)) {
		end = 0 // no valid header: keep nothing but the bytes aside
	}
	var short *shortError
	var torn *tornError
	if newest && errors.As(damage, &short) {
		l.log.Warn("event log: dropped a record cut short at the end (a write interrupted by a crash; it was never acknowledged)",
			"segment", seg.path, "offset", end, "bytes", info.Size()-end)
	} else {
		aside := fmt.Sprintf("%s.damaged-%d", seg.path, end)
		if err := copyTail(seg.path, aside, end); err != nil {
			return fmt.Errorf("event log %s: damaged at byte %d (%v), and keeping the damaged part aside failed: %w: free space on the disk and restart", seg.path, end, damage, err)
		}
		if newest && errors.As(damage, &torn) {
			l.log.Warn("event log: the end of the newest segment holds a write cut short by a crash (most likely never acknowledged); its bytes are kept aside, the records before them are kept",
				"segment", seg.path, "offset", end, "bytes", info.Size()-end, "moved_to", aside, "damage", damage.Error())
		} else {
			l.log.Error("event log: damaged records moved aside; the records before them are kept",
				"segment", seg.path, "offset", end, "bytes", info.Size()-end, "moved_to", aside, "damage", damage.Error())
		}
	}
	if err := os.Truncate(seg.path, end); err != nil {
		return fmt.Errorf("event log %s: cut off the damaged end at byte %d: %w: make the file writable by the user running hookd", seg.path, end, err)
	}
	return nil
}

// copyTail copies the bytes of path from off on to a new file dst, synced.
func copyTail(path, dst string, off int64) error {
	src, err := os.Open(path)
	if err != nil {
		return err
	}
	defer src.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, io.NewSectionReader(src, off, 1<<62)); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Contains reports whether a record with id is stored (or buffered by
// Write).
func (l *Log) Contains(id string) (bool, error) {
	if l.opts.ReadOnly {
		return false, ErrReadOnly
	}
	l.mu.Lock()
	_, pending := l.pendIDs[id]
	r, ok := l.index[maphash.String(l.seed, id)]
	onFile := ok && l.onFile(r)
	l.mu.Unlock()
	if pending {
		return true, nil
	}
	// A hash found for a record still buffered is another id's.
	if onFile {
		stored, err := l.idAt(r)
		if err != nil {
			return false, err
		}
		if stored == id {
			return true, nil
		}
	}
	if len(l.overflow) > 0 {
		_, ok := l.overflow[id]
		return ok, nil
	}
	return false, nil
}

// onFile reports whether the record at r has been written out. Call it
// with mu held.
func (l *Log) onFile(r ref) bool {
	if len(l.segs) == 0 {
		return false
	}
	cur := l.segs[len(l.segs)-1]
	return r.seg != cur.num || r.off < cur.size
}

// idAt reads the id of the record at r.
func (l *Log) idAt(r ref) (string, error) {
	path := filepath.Join(l.dir, segmentName(r.seg))
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("event log %s: %w", path, err)
	}
	defer f.Close()
	var hdr [frameHeader]byte
	if _, err := f.ReadAt(hdr[:], r.off); err != nil {
		return "", fmt.Errorf("event log %s: read record at %d: %w", path, r.off, err)
	}
	n, _, err := checkFrame(hdr[:], maxPayload)
	if err != nil {
		return "", fmt.Errorf("event log %s: record at %d: %w", path, r.off, err)
	}
	payload := make([]byte, n)
	if _, err := f.ReadAt(payload, r.off+frameHeader); err != nil {
		return "", fmt.Errorf("event log %s: read record at %d: %w", path, r.off, err)
	}
	h, err := decodeHeader(payload)
	if err != nil {
		return "", fmt.Errorf("event log %s: record at %d: %w", path, r.off, err)
	}
	return h.id, nil
}

// Append writes frames and syncs them: Write, Sync and Stored.
func (l *Log) Append(frames []Frame) error {
	t, err := l.Write(frames)
	if err != nil {
		return err
	}
	if err := l.Sync(); err != nil {
		return err
	}
	return l.Stored(t)
}

// Ticket numbers a Write, for Stored.
type Ticket uint64

// Write buffers frames for the next Sync, which writes everything
// buffered in one write and syncs it: the records are stored once a later
// Sync returns and Stored says so. Contains finds them at once; Scan once
// they are written out.
func (l *Log) Write(frames []Frame) (Ticket, error) {
	if l.opts.ReadOnly {
		return 0, ErrReadOnly
	}
	if len(frames) == 0 {
		return 0, nil
	}
	if err := l.usable(); err != nil {
		return 0, err
	}
	n := 0
	for _, f := range frames {
		n += f.size()
	}
	seg, err := l.writable(int64(n), frames[0].at)
	if err != nil {
		return 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.written++
	off := seg.end
	for _, f := range frames {
		l.pend = f.appendTo(l.pend)
		l.pendIDs[f.id] = struct{}{}
		l.ids = append(l.ids, f.id)
		l.remember(seg, header{id: f.id, at: f.at}, off)
		off += int64(f.size())
	}
	seg.end = off
	return l.written, nil
}

// Stored reports whether the records of Write t are stored: nil once a
// Sync has written them out (and synced them), else why not.
func (l *Log) Stored(t Ticket) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.lost {
		if t > r[0] && t <= r[1] {
			return l.lostErr
		}
	}
	if t > l.flushed {
		return fmt.Errorf("event log %s: write %d not synced yet", l.dir, t)
	}
	return nil
}

// stopWrites makes every later write fail with err, until the log is
// opened again. Call it with mu held.
func (l *Log) stopWrites(err error) {
	if l.broken == nil {
		l.broken = fmt.Errorf("event log %s: writes stopped (%w): restart hookd once the disk is healthy", l.dir, err)
	}
}

// Last returns the ticket of the latest Write.
func (l *Log) Last() Ticket {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.written
}

// usable says why the log cannot be written to, if it cannot.
func (l *Log) usable() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	return l.broken
}

// Sync writes out what Write buffered, in one write, and (with
// Options.Sync) syncs it. It may run at the same time as Write, which is
// how the store buffers the next batches while this one is synced. After
// a failed write or sync the log refuses every write until it is opened
// again: the index holds records the file may not.
func (l *Log) Sync() error {
	if l.opts.ReadOnly {
		return nil
	}
	if err := l.usable(); err != nil {
		return err
	}
	l.ioMu.Lock()
	defer l.ioMu.Unlock()
	return l.flush()
}

// flush writes out and syncs the buffer. Call it with ioMu held. When
// the write fails, the records buffered are dropped (Stored says so for
// their Writes) and the log goes on; when the sync fails, the log refuses
// every write until it is opened again, since the kernel may have dropped
// pages it reported written.
func (l *Log) flush() error {
	l.mu.Lock()
	if l.broken != nil {
		defer l.mu.Unlock()
		return l.broken
	}
	if len(l.pend) == 0 {
		l.flushed = l.written
		l.mu.Unlock()
		return nil
	}
	buf, ids, upTo := l.pend, l.ids, l.written
	l.pend, l.ids = l.spare[:0], l.spareID[:0]
	seg, f := l.segs[len(l.segs)-1], l.active
	off := seg.size
	l.mu.Unlock()

	var err error
	if l.opts.BeforeWrite != nil {
		if berr := l.opts.BeforeWrite(); berr != nil {
			err = &syncError{fmt.Errorf("event log %s: before writing: %w", seg.path, berr)}
		}
	}
	if err == nil {
		err = l.writeOut(f, seg, buf, off)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var sync *syncError
	switch {
	case errors.As(err, &sync):
		l.stopWrites(sync.err)
		return l.broken
	case err != nil:
		l.drop(seg, append(ids, l.ids...), err)
		return err
	}
	seg.size = off + int64(len(buf))
	for _, id := range ids {
		delete(l.pendIDs, id)
	}
	l.flushed = upTo
	l.spare, l.spareID = buf[:0], ids[:0]
	return nil
}

// drop forgets every record not yet on file, after a failed write: those
// of the failed write and those buffered since. Call it with mu held.
func (l *Log) drop(seg *segment, ids []string, err error) {
	n := len(ids)
	l.forget(seg, seg.hashes[len(seg.hashes)-n:], func(r ref) bool { return r.seg == seg.num && r.off >= seg.size })
	seg.hashes = seg.hashes[:len(seg.hashes)-n]
	seg.count -= n
	if seg.count == 0 {
		seg.first, seg.last = 0, 0
	}
	seg.end = seg.size
	clear(l.pendIDs)
	l.pend, l.ids = l.pend[:0], l.ids[:0]
	l.lost = append(l.lost, [2]Ticket{l.flushed, l.written})
	l.lostErr = err
	l.flushed = l.written
}

// syncError is a failed sync, as opposed to a failed write.
type syncError struct{ err error }

func (e *syncError) Error() string { return e.err.Error() }
func (e *syncError) Unwrap() error { return e.err }

// writeOut writes buf at off in f and syncs it. A failed write is cut off
// the file, so that Open and readers never take its bytes for records.
func (l *Log) writeOut(f *os.File, seg *segment, buf []byte, off int64) error {
	if _, err := f.WriteAt(buf, off); err != nil {
		if f.Truncate(off) == nil {
			seg.alloc = off
		} else {
			// Whatever the write left is still on file: cutZeros
			// must still cut it off.
			seg.alloc = max(seg.alloc, off+int64(len(buf)))
		}
		return fmt.Errorf("event log %s: write: %w: %s", seg.path, err, diskHint)
	}
	end := off + int64(len(buf))
	if end > seg.alloc {
		seg.alloc = end
		l.preallocate(f, seg)
	}
	if l.opts.Sync {
		if err := l.syncs.Sync(f); err != nil {
			return &syncError{fmt.Errorf("event log %s: sync: %w: %s", seg.path, err, diskHint)}
		}
	}
	return nil
}

// preallocate writes Options.Preallocate bytes of zeros after seg's
// records, in f. It is best effort: where the zeros cannot be written
// (a full disk), the records are synced as they are, and a partial run of
// zeros is as good as a whole one.
func (l *Log) preallocate(f *os.File, seg *segment) {
	if l.opts.Preallocate == 0 {
		return
	}
	if l.zeros == nil {
		l.zeros = make([]byte, l.opts.Preallocate)
	}
	if _, err := f.WriteAt(l.zeros, seg.alloc); err == nil {
		seg.alloc += int64(len(l.zeros))
	}
}

// cutZeros cuts the zeros written ahead off seg's file, f, once no more
// records go to it. Call it with ioMu held.
func (l *Log) cutZeros(f *os.File, seg *segment) {
	if seg.alloc <= seg.size {
		return
	}
	if err := f.Truncate(seg.size); err != nil {
		l.log.Warn("event log: cutting the zeros written ahead off a segment failed (they are read as its end)", "segment", seg.path, "err", err)
		return
	}
	seg.alloc = seg.size
}

const diskHint = "check that the disk has space and the data folder is writable"

// writable returns the segment the next n bytes, the first at time at, go
// to, starting a new one when the newest is full or old.
func (l *Log) writable(n, at int64) (*segment, error) {
	l.mu.Lock()
	var cur *segment
	if len(l.segs) > 0 {
		cur = l.segs[len(l.segs)-1]
	}
	full := cur != nil && cur.count > 0 &&
		(cur.end+n > l.opts.SegmentSize || at-cur.first > l.opts.SegmentAge.Milliseconds())
	active := l.active
	l.mu.Unlock()
	if cur != nil && !full {
		if active == nil {
			f, err := os.OpenFile(cur.path, os.O_RDWR, 0o600)
			if err != nil {
				return nil, fmt.Errorf("event log %s: %w: %s", cur.path, err, diskHint)
			}
			if cur.size == 0 {
				if err := l.writeMagic(cur, f); err != nil {
					f.Close()
					return nil, err
				}
			}
			l.mu.Lock()
			cur.alloc = cur.size
			l.active = f
			l.mu.Unlock()
		}
		return cur, nil
	}
	num := uint64(1)
	if cur != nil {
		num = cur.num + 1
	}
	seg := &segment{num: num, path: filepath.Join(l.dir, segmentName(num))}
	f, err := os.OpenFile(seg.path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("event log %s: start segment: %w: %s", seg.path, err, diskHint)
	}
	if err := l.writeMagic(seg, f); err != nil {
		f.Close()
		return nil, err
	}
	if err := syncDir(l.dir); err != nil {
		f.Close()
		return nil, fmt.Errorf("event log %s: sync folder: %w: %s", l.dir, err, diskHint)
	}
	// The full segment's buffer is written out and synced before it is
	// let go: the buffer then belongs to the new one.
	l.ioMu.Lock()
	defer l.ioMu.Unlock()
	if active != nil {
		if err := l.flush(); err != nil {
			f.Close()
			return nil, err
		}
		l.cutZeros(active, cur)
		if err := active.Close(); err != nil {
			l.log.Warn("event log: closing a full segment failed", "segment", cur.path, "err", err)
		}
	}
	l.mu.Lock()
	seg.alloc = seg.size
	l.active = f
	l.segs = append(l.segs, seg)
	l.mu.Unlock()
	return seg, nil
}

// writeMagic starts the empty segment seg, open as f.
func (l *Log) writeMagic(seg *segment, f *os.File) error {
	if _, err := f.WriteAt(magic[:], 0); err != nil {
		return fmt.Errorf("event log %s: start segment: %w: %s", seg.path, err, diskHint)
	}
	l.mu.Lock()
	seg.size, seg.end = int64(len(magic)), int64(len(magic))
	l.mu.Unlock()
	return nil
}

// syncDir makes a new file's name durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Count returns how many records the log holds.
func (l *Log) Count() (int64, error) {
	if !l.opts.ReadOnly {
		l.mu.Lock()
		defer l.mu.Unlock()
		var n int64
		for _, s := range l.segs {
			n += int64(s.count)
		}
		return n, nil
	}
	var n int64
	err := l.Scan(ScanOptions{}, func(Record) error { n++; return nil })
	return n, err
}

// Prune deletes the segments whose newest record was received before
// cutoff, and returns how many records they held. The segment being
// written is kept (a later Append starts a new one once it is old).
func (l *Log) Prune(cutoff time.Time) (int, error) {
	if l.opts.ReadOnly {
		return 0, ErrReadOnly
	}
	cut := cutoff.UnixMilli()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return 0, ErrClosed
	}
	var drop []*segment
	keep := l.segs[:0:0]
	for i, s := range l.segs {
		if i < len(l.segs)-1 && s.last < cut {
			drop = append(drop, s)
			continue
		}
		keep = append(keep, s)
	}
	l.segs = keep
	for _, s := range drop {
		l.forget(s, s.hashes, func(r ref) bool { return r.seg == s.num })
	}
	l.mu.Unlock()
	n := 0
	var errs []error
	for _, s := range drop {
		n += s.count
		if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("event log %s: delete: %w", s.path, err))
		}
	}
	return n, errors.Join(errs...)
}

// Close writes out what is buffered, closes the files and releases the
// lock.
func (l *Log) Close() error {
	l.ioMu.Lock()
	defer l.ioMu.Unlock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.mu.Unlock()
	var errs []error
	if !l.opts.ReadOnly {
		errs = append(errs, l.flush())
	}
	l.mu.Lock()
	l.closed = true
	active, broken := l.active, l.broken
	var seg *segment
	if len(l.segs) > 0 {
		seg = l.segs[len(l.segs)-1]
	}
	l.mu.Unlock()
	if active != nil {
		if broken == nil {
			l.cutZeros(active, seg)
		}
		errs = append(errs, active.Close())
	}
	if l.lock != nil {
		errs = append(errs, l.lock.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("event log %s: close: %w", l.dir, err)
	}
	return nil
}
