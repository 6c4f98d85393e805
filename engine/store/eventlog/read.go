package eventlog

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"
)

// shortError is damage at the end of a file: a record cut short.
type shortError struct{ err error }

func (e *shortError) Error() string { return e.err.Error() }
func (e *shortError) Unwrap() error { return e.err }

// tornError is damage that looks like a write cut short over the zeros
// written ahead of the records: a record holding zeros its write never
// reached, or bytes after the zeros that end the records. In the newest
// segment that is most likely the last write, never acknowledged, but a
// damaged disk can look the same.
type tornError struct{ err error }

func (e *tornError) Error() string { return e.err.Error() }
func (e *tornError) Unwrap() error { return e.err }

// unfinished reports whether damage is what a write still in progress,
// or cut short by a crash, leaves at the end of the newest segment.
func unfinished(damage error) bool {
	var short *shortError
	var torn *tornError
	return errors.As(damage, &short) || errors.As(damage, &torn)
}

// readFrames calls fn for each whole, valid frame of the segment at path,
// up to limit bytes (-1: the whole file), and returns where the last valid
// frame ends. damage is nil when the file ended cleanly; a *shortError
// when it ends in a frame cut short; else what is wrong at end. An error
// fn returns stops the reading and is returned as damage.
func readFrames(path string, limit int64, fn func(off int64, hdr, payload []byte) error) (end int64, damage error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	size := limit
	if size < 0 {
		info, err := f.Stat()
		if err != nil {
			return 0, err
		}
		size = info.Size()
	}
	if size == 0 {
		return 0, nil // a segment just created, or emptied by a repair
	}
	r := bufio.NewReaderSize(io.NewSectionReader(f, 0, size), 256<<10)
	var m [len(magic)]byte
	if _, err := io.ReadFull(r, m[:]); err != nil {
		return 0, &shortError{fmt.Errorf("%w: no segment header", errDamaged)}
	}
	if m != magic {
		return 0, fmt.Errorf("%w: not an event log segment (bad header)", errDamaged)
	}
	off := int64(len(magic))
	var hdr [frameHeader]byte
	var payload []byte
	for off < size {
		if size-off < frameHeader {
			rest := hdr[:size-off]
			if _, err := io.ReadFull(r, rest); err != nil {
				return off, endOfRecords(err)
			}
			if allZero(rest) {
				return off, nil // zeros written ahead, cut short
			}
			return off, &shortError{fmt.Errorf("%w: cut short in a record header", errDamaged)}
		}
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return off, endOfRecords(err)
		}
		if allZero(hdr[:]) {
			return off, nil // the zeros written ahead (Options.Preallocate): the records end here
		}
		n, short, err := checkFrame(hdr[:], size-off-frameHeader)
		if short {
			return off, &shortError{err}
		}
		if err != nil {
			return off, err
		}
		if int64(cap(payload)) < n {
			payload = make([]byte, n)
		}
		payload = payload[:n]
		if _, err := io.ReadFull(r, payload); err != nil {
			return off, err
		}
		if err := checksum(hdr[:], payload); err != nil {
			after, _ := r.Peek(int(min(sectorSize, size-off-frameHeader-n)))
			if torn(off+frameHeader, payload, after) {
				return off, &tornError{fmt.Errorf("%w: checksum mismatch in a record holding zeros (a write cut short)", errDamaged)}
			}
			return off, err
		}
		if err := fn(off, hdr[:], payload); err != nil {
			return off, err
		}
		off += frameHeader + n
	}
	return off, nil
}

// endOfRecords turns an error reading a frame header into damage, or nil
// where the file ended right there: it was sized while zeros were still
// written ahead of the records, and the writer cut them off since (a full
// segment).
func endOfRecords(err error) error {
	if err == io.EOF {
		return nil
	}
	return err
}

// allZero reports whether b holds only zero bytes.
func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// sectorSize is the unit a disk writes whole; a write cut short by a crash
// (or still being copied in while a reader reads) leaves whole sectors
// unwritten: zeros, in a segment whose zeros were written ahead.
const sectorSize = 512

// minTornRun is the shortest run of zeros that marks a record as cut
// short rather than damaged. A record's header holds no such run, and
// its body is JSON, which holds no zero bytes at all.
const minTornRun = 16

// torn reports whether the payload read at file offset off, whose
// checksum failed, was cut short, as a write a crash interrupted over
// the zeros written ahead leaves it, or one a reader meets while it is
// still being copied in. Either some sector's part of the payload is all
// zeros, at least minTornRun of them, or the payload ends in zeros that
// run on into the bytes after it (after: as many as were at hand), at
// least minTornRun in all.
func torn(off int64, payload, after []byte) bool {
	end := off + int64(len(payload))
	ext := payload
	if rest := int((sectorSize - end%sectorSize) % sectorSize); rest > 0 {
		// The payload's last sector counts the bytes after it, to its
		// end: a record may end a few bytes into an unwritten sector.
		ext = append(payload[:len(payload):len(payload)], after[:min(rest, len(after))]...)
	}
	for i := 0; i < len(ext); {
		next := min(len(ext), i+int(sectorSize-(off+int64(i))%sectorSize))
		if next-i >= minTornRun && allZero(ext[i:next]) {
			return true
		}
		i = next
	}
	run := len(payload) - len(bytes.TrimRight(payload, "\x00"))
	if run > 0 {
		run += len(after) - len(bytes.TrimLeft(after, "\x00"))
	}
	return run >= minTornRun
}

// zerosAfter checks the file at path from off on, where its records
// ended. It returns how many bytes follow off and whether they are all
// zeros.
func zerosAfter(path string, off int64) (tail int64, zeros bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return 0, false, err
	}
	tail = info.Size() - off
	r := io.NewSectionReader(f, off, tail)
	buf := make([]byte, min(tail, 64<<10))
	for {
		n, err := r.Read(buf)
		if !allZero(buf[:n]) {
			return tail, false, nil
		}
		if err == io.EOF {
			return tail, true, nil
		}
		if err != nil {
			return 0, false, err
		}
	}
}

// ScanOptions select and order the records Scan visits.
type ScanOptions struct {
	// Since skips records received before it; zero keeps them all.
	Since time.Time
	// NewestFirst visits the newest record first; the default is the
	// order they were stored.
	NewestFirst bool
}

// ErrStop, returned by Scan's fn, ends the scan; Scan then returns nil.
var ErrStop = errors.New("eventlog: stop scanning")

// Scan calls fn for each stored record that opts selects. It stops at the
// first error fn returns and returns it (nil for ErrStop). Records being
// written while Scan runs may or may not be visited.
func (l *Log) Scan(opts ScanOptions, fn func(Record) error) error {
	segs, err := l.snapshot()
	if err != nil {
		return err
	}
	since := int64(-1 << 63)
	if !opts.Since.IsZero() {
		since = opts.Since.UnixMilli()
	}
	if opts.NewestFirst {
		slices.Reverse(segs)
	}
	for _, s := range segs {
		if s.last != 0 && s.last < since {
			continue
		}
		var err error
		if opts.NewestFirst {
			err = scanBackward(s, since, fn)
		} else {
			err = scanForward(s, since, fn)
		}
		if errors.Is(err, ErrStop) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// segView is what a scan needs of a segment: a copy taken under the lock.
type segView struct {
	path  string
	size  int64 // -1: read to the end, stopping quietly at a partial record
	last  int64
	quiet bool
}

// snapshot lists the segments to read. A read-only log lists the folder
// again, since the writing process may have added or deleted segments.
func (l *Log) snapshot() ([]segView, error) {
	l.mu.Lock()
	closed := l.closed
	var views []segView
	for _, s := range l.segs {
		views = append(views, segView{path: s.path, size: s.size, last: s.last})
	}
	l.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if !l.opts.ReadOnly {
		return views, nil
	}
	segs, err := l.list()
	if err != nil {
		return nil, err
	}
	views = views[:0]
	for i, s := range segs {
		// Only the newest segment can end in a record still being
		// written: the writer starts a segment after its last write to
		// the one before.
		views = append(views, segView{path: s.path, size: -1, quiet: i == len(segs)-1})
	}
	return views, nil
}

// damaged turns damage met while scanning into an error, or nil where a
// scan should stop quietly (a record still being written, a segment
// pruned meanwhile).
func (v segView) damaged(end int64, damage error) error {
	if damage == nil || errors.Is(damage, os.ErrNotExist) || errors.Is(damage, ErrStop) {
		return damage
	}
	if v.quiet && unfinished(damage) {
		return nil
	}
	if !errors.Is(damage, errDamaged) {
		return fmt.Errorf("event log %s: read: %w", v.path, damage)
	}
	return fmt.Errorf("event log %s: byte %d: %w: stop hookd and start it again, which moves the damaged part aside", v.path, end, damage)
}

// reread reports whether a quiet scan should read the segment again
// after damage: a reader can catch a write half copied in (a frame header
// read before the write and the rest after it, in two reads of the
// buffer) and take it for damage; a second read sees it whole.
func (v segView) reread(damage error) bool {
	if !v.quiet || !errors.Is(damage, errDamaged) || unfinished(damage) {
		return false
	}
	if beforeReread != nil {
		beforeReread(v.path)
	}
	return true
}

// beforeReread, when set (by tests), is called before a quiet scan reads
// a segment again.
var beforeReread func(path string)

func scanForward(v segView, since int64, fn func(Record) error) error {
	var ferr error
	from := int64(0) // records before it were visited by an earlier read
	read := func() (int64, error) {
		return readFrames(v.path, v.size, func(off int64, _, payload []byte) error {
			if off < from {
				return nil
			}
			h, err := decodeHeader(payload)
			if err != nil {
				return err
			}
			if h.at < since {
				return nil
			}
			rec, err := decodeRecord(payload)
			if err != nil {
				return err
			}
			if err := fn(rec); err != nil {
				ferr = err
				return ErrStop
			}
			return nil
		})
	}
	end, damage := read()
	if ferr == nil && v.reread(damage) {
		from = end
		end, damage = read()
	}
	if ferr != nil {
		return ferr
	}
	if errors.Is(damage, os.ErrNotExist) {
		return nil
	}
	return v.damaged(end, damage)
}

// scanBackward visits a segment's records newest first: it finds the
// selected records' places, then reads them back in reverse.
func scanBackward(v segView, since int64, fn func(Record) error) error {
	type place struct{ off, n int64 }
	var places []place
	read := func() (int64, error) {
		places = places[:0]
		return readFrames(v.path, v.size, func(off int64, _, payload []byte) error {
			h, err := decodeHeader(payload)
			if err != nil {
				return err
			}
			if h.at >= since {
				places = append(places, place{off + frameHeader, int64(len(payload))})
			}
			return nil
		})
	}
	end, damage := read()
	if v.reread(damage) {
		end, damage = read()
	}
	if errors.Is(damage, os.ErrNotExist) {
		return nil
	}
	if err := v.damaged(end, damage); err != nil {
		return err
	}
	if len(places) == 0 {
		return nil
	}
	f, err := os.Open(v.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("event log %s: %w", v.path, err)
	}
	defer f.Close()
	var buf []byte
	for _, p := range slices.Backward(places) {
		buf = slices.Grow(buf[:0], int(p.n))[:p.n]
		if _, err := f.ReadAt(buf, p.off); err != nil {
			return fmt.Errorf("event log %s: read record at %d: %w", v.path, p.off, err)
		}
		rec, err := decodeRecord(bytes.Clone(buf))
		if err != nil {
			return v.damaged(p.off, err)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	return nil
}
