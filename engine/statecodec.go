package engine

import (
	"strconv"

	"github.com/valyala/fastjson"
)

// The state of a rule's key is JSON (see RuleState), written and read by
// hand: every event of a stateful rule reads and writes one, and
// encoding/json through reflection cost ten times more (see
// BenchmarkStateEvaluate).

// decodeState reads a state; bytes that do not decode (written by
// another version of the rule) count as no state.
func decodeState(old []byte) RuleState {
	var s RuleState
	if len(old) == 0 {
		return s
	}
	p := stateParsers.Get()
	defer stateParsers.Put(p)
	v, err := p.ParseBytes(old)
	if err != nil || v.Type() != fastjson.TypeObject {
		return RuleState{}
	}
	s.Times = int64List(v.GetArray("times"))
	s.Fired = int64List(v.GetArray("fired"))
	s.Next = v.GetInt64("next")
	s.Count = v.GetInt("count")
	s.First = v.GetInt64("first")
	s.Last = v.GetInt64("last")
	s.Due = v.GetInt64("due")
	for _, e := range v.GetArray("events") {
		s.Events = append(s.Events, e.MarshalTo(nil))
	}
	return s
}

// stateParsers reuses fastjson parsers for decodeState.
var stateParsers fastjson.ParserPool

func int64List(vs []*fastjson.Value) []int64 {
	if len(vs) == 0 {
		return nil
	}
	out := make([]int64, 0, len(vs))
	for _, v := range vs {
		n, err := v.Int64()
		if err == nil {
			out = append(out, n)
		}
	}
	return out
}

// encodeState writes a state as JSON, leaving out what is empty, as
// encoding/json would with the omitempty tags of RuleState.
func encodeState(s RuleState) []byte {
	b := make([]byte, 0, 32+12*(len(s.Times)+len(s.Fired)))
	b = append(b, '{')
	b = appendInts(b, "times", s.Times)
	b = appendInts(b, "fired", s.Fired)
	b = appendInt(b, "next", s.Next)
	b = appendInt(b, "count", int64(s.Count))
	if len(s.Events) > 0 {
		b = appendKey(b, "events")
		b = append(b, '[')
		for i, e := range s.Events {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, e...)
		}
		b = append(b, ']')
	}
	b = appendInt(b, "first", s.First)
	b = appendInt(b, "last", s.Last)
	b = appendInt(b, "due", s.Due)
	return append(b, '}')
}

func appendKey(b []byte, key string) []byte {
	if len(b) > 1 {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, key...)
	return append(b, '"', ':')
}

func appendInt(b []byte, key string, v int64) []byte {
	if v == 0 {
		return b
	}
	return strconv.AppendInt(appendKey(b, key), v, 10)
}

func appendInts(b []byte, key string, vs []int64) []byte {
	if len(vs) == 0 {
		return b
	}
	b = append(appendKey(b, key), '[')
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, v, 10)
	}
	return append(b, ']')
}
