package engine

// EncodeStateForTest exposes the state codec's writer.
func EncodeStateForTest(s RuleState) []byte { return encodeState(s) }

// DecodeStateForTest exposes the state codec's reader.
func DecodeStateForTest(b []byte) RuleState { return decodeState(b) }
