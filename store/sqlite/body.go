package sqlite

import (
	"errors"
	"fmt"

	"github.com/klauspost/compress/s2"
)

// How an event body is stored (the events table's body_encoding; schema
// version 1 wrote the same values as the body's first byte).
const (
	bodyAsReceived = 0 // the bytes as received
	bodyS2         = 1 // compressed with S2, a faster Snappy
)

// encodeBody compresses an event body with S2 for storing, into *buf
// (grown when too small; the result is valid until the next call with
// buf), or keeps it as received when that is no shorter. A 3.5 KB
// Wassenger event takes about 1.6 KB: a commit writes a third of the
// pages, for a few µs of the caller's processor (see BENCHMARKS.md,
// "Figures behind the code").
func encodeBody(buf *[]byte, raw []byte) (stored []byte, encoding int) {
	if raw == nil {
		return []byte{}, bodyAsReceived
	}
	n := s2.MaxEncodedLen(len(raw))
	if n < 0 {
		return raw, bodyAsReceived // too large for S2's blocks
	}
	if cap(*buf) < n {
		*buf = make([]byte, 0, n)
	}
	enc := s2.Encode((*buf)[:n], raw)
	if len(enc) >= len(raw) {
		return raw, bodyAsReceived
	}
	return enc, bodyS2
}

// decodeBody returns the body as received from what encodeBody stored.
func decodeBody(stored []byte, encoding int64) ([]byte, error) {
	switch encoding {
	case bodyAsReceived:
		return stored, nil
	case bodyS2:
		out, err := s2.Decode(nil, stored)
		if err != nil {
			return nil, fmt.Errorf("stored event body is damaged: %w", err)
		}
		return out, nil
	}
	return nil, errors.New("stored event body has an unknown encoding")
}

// bodyBuf returns a buffer for encodeBody, to be put back into
// s.bodyBufs once the commit that stores it is done.
func (s *Store) bodyBuf() *[]byte {
	if b, ok := s.bodyBufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 4<<10)
	return &b
}
