package cli

import (
	"fmt"

	"github.com/hookd/hookd/internal/schema"
)

func runSchema(s Streams, args []string) int {
	fs := newFlags(s, "schema", "")
	pos, err := parse(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if len(pos) != 0 {
		return exitUsage(s, fs, "takes no arguments; redirect the output: hookd schema > rules.schema.json")
	}
	data, err := schema.JSON()
	if err != nil {
		fmt.Fprintf(s.Stderr, "hookd schema: %v\n", err)
		return 1
	}
	if _, err := s.Stdout.Write(data); err != nil {
		fmt.Fprintf(s.Stderr, "hookd schema: %v\n", err)
		return 1
	}
	return 0
}
