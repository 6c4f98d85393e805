package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"strings"
)

// payload is a recorded event whose top-level id can be rewritten
// cheaply: the bytes before and after the id's value.
type payload struct {
	// before and after surround the id's value (quotes excluded).
	before, after []byte
	// Event and Action are the event's event and action fields.
	Event, Action string
	// Size is the size of the payload with an id of idLen bytes.
	Size int
}

// idLen is the length of the ids eventIDs makes.
const idLen = len("load0a1b2c-0000000001")

// eventIDs names the events of one scenario: prefix ("load" and 6 hex
// digits), a dash and ten digits made from the event's sequence number,
// in order or, with scatter (--ids scattered), spread over the ten-digit
// space as Wassenger's random ids spread over the store's index of event
// ids.
type eventIDs struct {
	prefix  string
	scatter bool
}

// Scattering multiplies the sequence number by scatterMul modulo
// idSpace. scatterMul is odd and not a multiple of 5, so it has an
// inverse (scatterInv): ids stay distinct and name their sequence
// number, and the last four digits (the state scenario's key) take the
// 10,000 values once every 10,000 events, in scattered order.
const (
	idSpace    = 10_000_000_000
	scatterMul = 6_364_136_223
	scatterInv = 3_455_448_287
)

// id is the id of the seq-th event (seq below idSpace).
func (e eventIDs) id(seq int64) string {
	n := seq
	if e.scatter {
		n = mulMod(seq, scatterMul)
	}
	return fmt.Sprintf("%s-%010d", e.prefix, n)
}

// seq is the sequence number of the event whose id ends in the ten
// digits n.
func (e eventIDs) seq(n int64) int64 {
	if e.scatter {
		return mulMod(n, scatterInv)
	}
	return n
}

// mulMod is a*b modulo idSpace, for a and b below it.
func mulMod(a, b int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	_, rem := bits.Div64(hi, lo, idSpace)
	return int64(rem)
}

// padKey is the field the payload's padding goes into.
const padKey = "hookd_load_pad"

// parsePayload prepares a recorded event (one JSON object with an event
// field) for rewriting; pad > 0 adds a string field of pad bytes so that
// the cost of bigger events can be measured.
func parsePayload(raw []byte, pad int) (*payload, error) {
	raw = bytes.TrimSpace(raw)
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, fmt.Errorf("payload is not one JSON object (%v); give a recorded event such as testdata/events/group-update/remove.json", err)
	}
	var p payload
	if err := json.Unmarshal(top["event"], &p.Event); err != nil || p.Event == "" {
		return nil, errors.New(`payload has no string "event" field; give a recorded Wassenger event`)
	}
	if a, ok := top["action"]; ok {
		_ = json.Unmarshal(a, &p.Action)
	}
	if pad > 0 {
		field := fmt.Sprintf("%q:%q,", padKey, strings.Repeat("x", pad))
		raw = append([]byte("{"+field), raw[1:]...)
	}
	var id string
	if v, ok := top["id"]; ok {
		if err := json.Unmarshal(v, &id); err != nil || id == "" {
			return nil, errors.New(`payload's "id" is not a non-empty string; fix the recorded event`)
		}
	}
	if id == "" {
		// No id: add one, so that every request is a new event.
		p.before, p.after = []byte(`{"id":"`), append([]byte(`",`), raw[1:]...)
	} else if err := p.locate(raw, id); err != nil {
		return nil, err
	}
	p.Size = len(p.before) + idLen + len(p.after)
	return &p, nil
}

// locate finds the occurrence of the quoted id that is the top-level
// id's value: the first one whose rewrite changes the decoded id.
func (p *payload) locate(raw []byte, id string) error {
	quoted := []byte(`"` + id + `"`)
	const probe = "hookd-load-probe"
	for off := 0; ; {
		i := bytes.Index(raw[off:], quoted)
		if i < 0 {
			return fmt.Errorf("payload: cannot find the bytes of its id %q to rewrite it", id)
		}
		at := off + i + 1 // start of the value, after the quote
		before, after := raw[:at], raw[at+len(id):]
		var got struct {
			ID string `json:"id"`
		}
		test := append(append(append([]byte{}, before...), probe...), after...)
		if json.Unmarshal(test, &got) == nil && got.ID == probe {
			p.before, p.after = before, after
			return nil
		}
		off = at
	}
}

// with returns the payload's bytes with id as its top-level id. id must
// need no JSON escaping.
func (p *payload) with(id string) []byte {
	b := make([]byte, 0, len(p.before)+len(id)+len(p.after))
	b = append(b, p.before...)
	b = append(b, id...)
	return append(b, p.after...)
}

// readPayload reads and prepares a recorded event file.
func readPayload(path string, pad int) (*payload, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read payload: %w (run from the repository root, or give --payload FILE)", err)
	}
	p, err := parsePayload(raw, pad)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}
