package store

import (
	"errors"
	"fmt"

	"github.com/klauspost/compress/s2"
)

// Stores of schema version 1 kept event bodies in SQLite, compressed with
// S2 (a faster Snappy); moveLegacyEvents reads them back with
// decompressBody. The first byte says how the rest is encoded.
const (
	bodyRaw byte = 0
	bodyS2  byte = 1
)

func decompressBody(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return []byte{}, nil
	}
	switch b[0] {
	case bodyRaw:
		return b[1:], nil
	case bodyS2:
		out, err := s2.Decode(nil, b[1:])
		if err != nil {
			return nil, fmt.Errorf("stored event body is damaged: %w", err)
		}
		return out, nil
	}
	return nil, errors.New("stored event body has an unknown encoding: written by a newer hookd?")
}
