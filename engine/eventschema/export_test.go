package eventschema

// Field is one field of a recorded event: its path (list elements by
// index) and its value.
type Field struct {
	Path  []string
	Value any
}

// RecordedFields reads the recorded events under dir and returns every
// field they hold, objects and lists included, by event name. The
// external tests use it to read each field through hookd's loader.
func RecordedFields(dir string) (map[string][]Field, error) {
	events, err := readRecorded(dir)
	if err != nil {
		return nil, err
	}
	out := map[string][]Field{}
	for _, r := range events {
		name, _ := r.event["event"].(string)
		var leaves []leaf
		flatten(nil, r.event, &leaves)
		for _, l := range leaves {
			out[name] = append(out[name], Field{l.path, l.value})
		}
	}
	return out, nil
}
