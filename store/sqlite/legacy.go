package sqlite

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The event log of hookd releases before this store (schema versions 1
// and 2) is a folder, events/, of segment files named by a growing
// number (00000000000000000001.log, ...). This file reads it, read-only,
// for the migration. A segment starts with legacyMagic; then come frames:
//
//	u32 payload length | u32 CRC-32C of the payload | payload
//
// and the payload is:
//
//	u8 version (1) | i64 received at (Unix ms) | id | name | action |
//	uvarint count, then each rule name | uvarint count, then each error |
//	body (the rest)
//
// where id, name, action, rule names and errors are a uvarint length and
// the bytes; integers are little-endian. Zeros may follow the frames of
// the newest segment (space written ahead): a frame header of zeros ends
// the records.
const legacyFolder = "events"

var legacyMagic = []byte("hookdlog")

const (
	legacyHeader  = 8
	legacyVersion = 1
	// legacyMaxPayload bounds a frame's length field, as the writer did.
	legacyMaxPayload = 1 << 30
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errDamaged marks bytes of a segment that are not a valid frame.
var errDamaged = errors.New("damaged record")

// legacyEvent is one event of the earlier event log.
type legacyEvent struct {
	key, name, action string
	at                int64 // Unix ms
	rules, errors     []string
	body              []byte
}

// legacySegment is one segment file.
type legacySegment struct {
	num  uint64
	path string
}

// legacySegments lists the segments of the log in dir, oldest first; nil
// when there is no log.
func legacySegments(dir string) ([]legacySegment, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var segs []legacySegment
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".log")
		if !ok || len(name) != 20 || e.IsDir() {
			continue
		}
		num, err := strconv.ParseUint(name, 10, 64)
		if err != nil {
			continue
		}
		segs = append(segs, legacySegment{num: num, path: filepath.Join(dir, e.Name())})
	}
	slices.SortFunc(segs, func(a, b legacySegment) int { return cmp.Compare(a.num, b.num) })
	return segs, nil
}

// readSegment calls fn for each valid frame of a segment's bytes, in
// order. It returns where the valid frames end and, when they end before
// the data does in something other than zeros written ahead, why: a
// frame cut short (cut is true: a write a crash interrupted) or damage.
func readSegment(data []byte, fn func(legacyEvent) error) (end int, cut bool, damage error) {
	if len(data) == 0 {
		return 0, false, nil // a segment just created
	}
	if len(data) < len(legacyMagic) {
		return 0, true, fmt.Errorf("%w: no segment header", errDamaged)
	}
	if !bytes.Equal(data[:len(legacyMagic)], legacyMagic) {
		return 0, false, fmt.Errorf("%w: not an event log segment (bad header)", errDamaged)
	}
	off := len(legacyMagic)
	for off < len(data) {
		rest := data[off:]
		head := rest[:min(legacyHeader, len(rest))]
		if allZero(head) {
			return off, false, nil // the zeros written ahead: the records end here
		}
		if len(head) < legacyHeader {
			return off, true, fmt.Errorf("%w: cut short in a record header", errDamaged)
		}
		n := int64(binary.LittleEndian.Uint32(rest))
		if n == 0 || n > legacyMaxPayload {
			return off, false, fmt.Errorf("%w: length %d", errDamaged, n)
		}
		if n > int64(len(rest)-legacyHeader) {
			return off, true, fmt.Errorf("%w: cut short (%d of %d bytes)", errDamaged, len(rest)-legacyHeader, n)
		}
		payload := rest[legacyHeader : legacyHeader+n]
		if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(rest[4:]) {
			// A write cut short over the zeros written ahead fails its
			// checksum too; the earlier hookd kept such bytes aside.
			return off, false, fmt.Errorf("%w: checksum mismatch", errDamaged)
		}
		ev, err := decodeLegacy(payload)
		if err != nil {
			return off, false, err
		}
		if err := fn(ev); err != nil {
			return off, false, err
		}
		off += legacyHeader + int(n)
	}
	return off, false, nil
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

// legacyDecoder reads one payload.
type legacyDecoder struct {
	b   []byte
	err error
}

func (d *legacyDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("%w: bad length", errDamaged)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *legacyDecoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.err = fmt.Errorf("%w: a field runs past the record's end", errDamaged)
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *legacyDecoder) list() []string {
	n := d.uvarint()
	if d.err != nil || n == 0 {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = fmt.Errorf("%w: a list runs past the record's end", errDamaged)
		return nil
	}
	l := make([]string, 0, n)
	for range n {
		l = append(l, d.string())
	}
	return l
}

// decodeLegacy reads a whole payload; the body is copied.
func decodeLegacy(payload []byte) (legacyEvent, error) {
	if len(payload) < 9 {
		return legacyEvent{}, fmt.Errorf("%w: too short", errDamaged)
	}
	if payload[0] != legacyVersion {
		return legacyEvent{}, fmt.Errorf("%w: unknown record version %d", errDamaged, payload[0])
	}
	ev := legacyEvent{at: int64(binary.LittleEndian.Uint64(payload[1:]))}
	d := legacyDecoder{b: payload[9:]}
	ev.key = d.string()
	ev.name = d.string()
	ev.action = d.string()
	ev.rules = d.list()
	ev.errors = d.list()
	if d.err != nil {
		return legacyEvent{}, d.err
	}
	ev.body = bytes.Clone(d.b)
	if ev.body == nil {
		ev.body = []byte{}
	}
	return ev, nil
}
