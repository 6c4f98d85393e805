package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hookd/hookd/engine/funcs"
	"github.com/hookd/hookd/internal/suggest"
)

// runFuncs prints the helper functions that conditions and templates can
// call, each with its signature, what it does and an example: the table
// of docs/rules.md, offline.
func runFuncs(s Streams, args []string) int {
	fs := newFlags(s, "funcs", "[NAME...]")
	names, err := parse(fs, args)
	if err != nil {
		return flagErr(err)
	}
	docs := funcs.Docs()
	if len(names) > 0 {
		all := docs
		docs = nil
		for _, n := range names {
			i := slices.IndexFunc(all, func(d funcs.Doc) bool { return d.Name == n })
			if i < 0 {
				fmt.Fprintf(s.Stderr, "hookd funcs: there is no helper %q%s; run `hookd funcs` for the list\n", n, suggest.DidYouMean(n, funcs.Names()))
				return 1
			}
			docs = append(docs, all[i])
		}
	}
	for i, d := range docs {
		if i > 0 {
			fmt.Fprintln(s.Stdout)
		}
		fmt.Fprintf(s.Stdout, "%s\n    %s\n    %s  =>  %s\n", d.Signature, strings.ReplaceAll(d.Doc, "`", ""), d.Example, d.Result)
	}
	return 0
}
