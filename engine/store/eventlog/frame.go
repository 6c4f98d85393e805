package eventlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"
)

// A segment file starts with magic; then come frames, each:
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
// the bytes. Integers are little-endian. The body is stored as received.
// In the newest segment of a synced log, zeros follow the frames
// (Options.Preallocate): a frame header of zeros ends the records.
var magic = [8]byte{'h', 'o', 'o', 'k', 'd', 'l', 'o', 'g'}

const (
	frameHeader   = 8
	recordVersion = 1
	// maxPayload bounds a frame's length field, so that a damaged length
	// is found out before it is used to allocate.
	maxPayload = 1 << 30
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Record is one event as the log keeps it.
type Record struct {
	// ID is the event's id: the dedup key.
	ID string
	// Name is the event name, e.g. "group:update".
	Name string
	// Action is the group:update action ("" for other events).
	Action string
	// ReceivedAt is when hookd received the event (kept to the
	// millisecond).
	ReceivedAt time.Time
	// Rules names the rules that matched.
	Rules []string
	// Errors holds the problems met while matching.
	Errors []string
	// Body is the event's JSON as received.
	Body []byte
}

// Frame is a record encoded for Append: build it with Encode, in the
// caller's goroutine, so that the log's writer only copies bytes.
type Frame struct {
	id   string
	at   int64
	head []byte // frame header and payload up to the body
	body []byte // the record's body, not copied
}

// size is the frame's length in bytes.
func (f Frame) size() int { return len(f.head) + len(f.body) }

// appendTo appends the frame's bytes to b.
func (f Frame) appendTo(b []byte) []byte { return append(append(b, f.head...), f.body...) }

// ID returns the id of the record the frame holds.
func (f Frame) ID() string { return f.id }

// Encode turns r into a frame. The frame refers to r.Body, which must not
// change until the frame is written.
func Encode(r *Record) Frame {
	n := frameHeader + 1 + 8 + 3*binary.MaxVarintLen64 + len(r.ID) + len(r.Name) + len(r.Action) +
		2*binary.MaxVarintLen64
	for _, s := range r.Rules {
		n += binary.MaxVarintLen64 + len(s)
	}
	for _, s := range r.Errors {
		n += binary.MaxVarintLen64 + len(s)
	}
	b := make([]byte, frameHeader, n)
	at := r.ReceivedAt.UnixMilli()
	b = append(b, recordVersion)
	b = binary.LittleEndian.AppendUint64(b, uint64(at))
	b = appendString(b, r.ID)
	b = appendString(b, r.Name)
	b = appendString(b, r.Action)
	b = appendList(b, r.Rules)
	b = appendList(b, r.Errors)
	binary.LittleEndian.PutUint32(b[0:], uint32(len(b)-frameHeader+len(r.Body)))
	crc := crc32.Update(crc32.Checksum(b[frameHeader:], castagnoli), castagnoli, r.Body)
	binary.LittleEndian.PutUint32(b[4:], crc)
	return Frame{id: r.ID, at: at, head: b, body: r.Body}
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendList(b []byte, l []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(l)))
	for _, s := range l {
		b = appendString(b, s)
	}
	return b
}

// errDamaged marks a frame that does not check out: a write cut short, or
// damaged bytes.
var errDamaged = errors.New("damaged record")

// header is what the index needs of a record: its id and time.
type header struct {
	id string
	at int64
}

// decoder reads one payload.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
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

func (d *decoder) string() string {
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

func (d *decoder) list() []string {
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

// start checks the version and reads the time and id.
func (d *decoder) start() header {
	if len(d.b) < 9 {
		d.err = fmt.Errorf("%w: too short", errDamaged)
		return header{}
	}
	if d.b[0] != recordVersion {
		d.err = fmt.Errorf("%w: unknown record version %d (written by a newer hookd?)", errDamaged, d.b[0])
		return header{}
	}
	at := int64(binary.LittleEndian.Uint64(d.b[1:]))
	d.b = d.b[9:]
	return header{id: d.string(), at: at}
}

// decodeHeader reads the id and time of a payload.
func decodeHeader(payload []byte) (header, error) {
	d := decoder{b: payload}
	h := d.start()
	return h, d.err
}

// decodeRecord reads a whole payload. The body is copied.
func decodeRecord(payload []byte) (Record, error) {
	d := decoder{b: payload}
	h := d.start()
	r := Record{ID: h.id, ReceivedAt: time.UnixMilli(h.at).UTC()}
	r.Name = d.string()
	r.Action = d.string()
	r.Rules = d.list()
	r.Errors = d.list()
	if d.err != nil {
		return Record{}, d.err
	}
	r.Body = append([]byte{}, d.b...)
	return r, nil
}

// checkFrame validates a frame header against the bytes that follow and
// returns the payload length. short reports a frame that runs past avail
// (a write cut short at the end of the file).
func checkFrame(hdr []byte, avail int64) (n int64, short bool, err error) {
	n = int64(binary.LittleEndian.Uint32(hdr))
	if n == 0 || n > maxPayload {
		return 0, false, fmt.Errorf("%w: length %d", errDamaged, n)
	}
	if n > avail {
		return n, true, fmt.Errorf("%w: cut short (%d of %d bytes)", errDamaged, avail, n)
	}
	return n, false, nil
}

// checksum verifies a payload against its header.
func checksum(hdr, payload []byte) error {
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(hdr[4:]) {
		return fmt.Errorf("%w: checksum mismatch", errDamaged)
	}
	return nil
}
