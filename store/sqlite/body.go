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

// encodeBody compresses an event body with S2 for storing, or keeps it as
// received when that is no shorter. A 3.5 KB Wassenger event takes about
// 1.6 KB: the commit writes half the pages, for a few µs of the caller's
// processor (see BENCHMARKS.md, "Figures behind the code").
func encodeBody(raw []byte) (stored []byte, encoding int) {
	if raw == nil {
		return []byte{}, bodyAsReceived
	}
	enc := s2.Encode(make([]byte, s2.MaxEncodedLen(len(raw))), raw)
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
