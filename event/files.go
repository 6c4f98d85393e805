package event

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ReadPaths reads events from files and folders: .json files (one object
// or an array), .jsonl files (one event per line), and folders of them,
// walked in name order. Other files in folders are skipped; a file named
// explicitly must be .json or .jsonl.
func ReadPaths(paths []string) ([]*Event, error) {
	var all []*Event
	for _, p := range paths {
		evs, err := readPath(p)
		if err != nil {
			return nil, err
		}
		all = append(all, evs...)
	}
	return all, nil
}

func readPath(path string) ([]*Event, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	if !info.IsDir() {
		return ReadFile(path)
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && isEventFile(p) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	sort.Strings(files)
	var all []*Event
	for _, f := range files {
		evs, err := ReadFile(f)
		if err != nil {
			return nil, err
		}
		all = append(all, evs...)
	}
	return all, nil
}

func isEventFile(p string) bool {
	ext := strings.ToLower(filepath.Ext(p))
	return ext == ".json" || ext == ".jsonl"
}

// ReadFile reads the events of one .json or .jsonl file. Errors name the
// file and, for JSONL, the line.
func ReadFile(path string) ([]*Event, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		evs, err := Parse(data)
		var se *SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%s:%d:%d: %s", path, se.Line, se.Col, se.Msg)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		for i, ev := range evs {
			ev.Source = path
			if len(evs) > 1 {
				ev.Source = fmt.Sprintf("%s[%d]", path, i)
			}
		}
		return evs, nil
	case ".jsonl":
		return parseLines(path, data)
	default:
		return nil, fmt.Errorf("%s: not an event file: use .json (one object or an array) or .jsonl (one event per line)", path)
	}
}

func parseLines(path string, data []byte) ([]*Event, error) {
	var evs []*Event
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		got, err := Parse(append([]byte(nil), line...))
		var se *SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%s:%d:%d: %s", path, n, se.Col, se.Msg)
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		for _, ev := range got {
			ev.Source = fmt.Sprintf("%s:%d", path, n)
		}
		evs = append(evs, got...)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return evs, nil
}
