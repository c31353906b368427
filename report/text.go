package report

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"unicode/utf8"

	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/output"
)

// clean makes a string from the network fit for display: control
// characters, bidirectional overrides and invalid UTF-8 become visible
// escapes (output.Escape, as on the terminal), and anything longer than
// maxText bytes is cut at a rune boundary with an ellipsis. HTML escaping
// is left to html/template when the page is written.
func clean(s string) string {
	if len(s) > maxText {
		cut := maxText
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return output.Escape(s[:cut]) + "…"
	}
	return output.Escape(s)
}

// ReadJSONL returns the results in r, one JSON object per line as written
// by `fanout -f jsonl`. The sequence yields a decoding error once, naming
// the line, and then stops.
func ReadJSONL(r io.Reader) iter.Seq2[*fetch.Result, error] {
	return func(yield func(*fetch.Result, error) bool) {
		dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<16))
		for line := 1; ; line++ { // counts objects; blank lines are skipped
			// A fresh Result each time: Decode would otherwise merge into
			// the fields of the previous one (a null error keeps the old).
			res := new(fetch.Result)
			err := dec.Decode(res)
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(nil, fmt.Errorf("results: object %d: %w", line, err))
				return
			}
			res.Seq = uint64(line - 1)
			if !yield(res, nil) {
				return
			}
		}
	}
}
