package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"runtime"
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
// by `fanout -f jsonl`; blank lines are skipped. Lines are decoded on every
// core (encoding/json is most of the cost of a report from a file) and
// yielded in file order. The sequence yields a decoding error once, naming
// the line, and then stops; stopping early releases its goroutines.
func ReadJSONL(r io.Reader) iter.Seq2[*fetch.Result, error] { return ReadJSONLCut(r, nil) }

// ReadJSONLCut is ReadJSONL, except that a last line cut short (no newline
// at the end of the input, and not whole JSON), which is how the file of
// a run killed midway ends, is passed to cut, with its line number,
// instead of ending the sequence with an error. cut may be nil.
func ReadJSONLCut(r io.Reader, cut func(line int)) iter.Seq2[*fetch.Result, error] {
	return func(yield func(*fetch.Result, error) bool) {
		done := make(chan struct{})
		batches := decodeJSONL(r, done, max(runtime.GOMAXPROCS(0), 1), cut != nil)
		defer func() {
			close(done)
			for b := range batches { // let the reader and workers finish
				<-b
			}
		}()
		for b := range batches {
			res := <-b
			for i := range res.results {
				if !yield(&res.results[i], nil) {
					return
				}
			}
			if res.cutLine > 0 {
				cut(res.cutLine)
			}
			if res.err != nil {
				yield(nil, res.err)
				return
			}
		}
	}
}

// ErrNotJSONL is the error ReadJSONL yields (wrapped, naming the line) when
// the input's first line that is not blank is not a JSON object: the input
// is some other file (fanout's csv or text output, say), not a results
// file with a bad line in it.
var ErrNotJSONL = errors.New("not JSON Lines results: each line is a JSON object, as fanout -f jsonl writes")

// jsonlBatch is a run of consecutive lines, decoded.
type jsonlBatch struct {
	results []fetch.Result
	err     error // the first bad line or read error; results stop before it
	cutLine int   // the input's last line, cut short and left out (ReadJSONLCut)
}

const jsonlBatchLines = 512

// decodeJSONL reads r in batches of lines and decodes them on n workers.
// It returns a channel of per-batch channels in file order: the consumer
// receives each in turn, so results keep their order while batches are
// decoded in parallel. The channel is closed after the last batch, the
// first error, or when done is closed.
func decodeJSONL(r io.Reader, done <-chan struct{}, n int, skipCut bool) <-chan chan jsonlBatch {
	order := make(chan chan jsonlBatch, n*2)
	type job struct {
		lines [][]byte
		first int // line number of lines[0]
		// cut: the last of lines ends the input without a newline, and
		// may be left out when it does not decode (skipCut).
		cut bool
		out chan jsonlBatch
	}
	jobs := make(chan job, n)
	for range n {
		go func() {
			for j := range jobs {
				j.out <- decodeLines(j.lines, j.first, j.cut)
			}
		}()
	}
	// emit queues a batch for decoding (unless its result is already in
	// out) and its place in the order; false when the consumer has gone.
	emit := func(j job, decode bool) bool {
		if decode {
			select {
			case jobs <- j:
			case <-done:
				return false
			}
		}
		select {
		case order <- j.out:
			return true
		case <-done:
			return false
		}
	}
	go func() {
		defer close(order)
		defer close(jobs)
		br := bufio.NewReaderSize(r, 1<<16)
		line := 0
		started := false // a line that is not blank was read
		for {
			j := job{first: line + 1, out: make(chan jsonlBatch, 1)}
			var err error
			for len(j.lines) < jsonlBatchLines && err == nil {
				var b []byte
				b, err = br.ReadBytes('\n')
				// A line a read error cut short is not decoded: the error
				// says what happened, not the JSON it broke.
				if len(b) > 0 && (err == nil || errors.Is(err, io.EOF)) {
					line++
					if t := bytes.TrimSpace(b); !started && len(t) > 0 {
						started = true
						if t[0] != '{' {
							err = fmt.Errorf("results: line %d: %w", line, ErrNotJSONL)
							break
						}
					}
					j.lines = append(j.lines, b)
					j.cut = skipCut && errors.Is(err, io.EOF)
				}
			}
			if len(j.lines) > 0 && !emit(j, true) {
				return
			}
			switch {
			case errors.Is(err, io.EOF):
				return
			case errors.Is(err, ErrNotJSONL):
				e := job{out: make(chan jsonlBatch, 1)}
				e.out <- jsonlBatch{err: err}
				emit(e, false)
				return
			case err != nil:
				e := job{out: make(chan jsonlBatch, 1)}
				e.out <- jsonlBatch{err: fmt.Errorf("results: reading line %d: %w", line+1, err)}
				emit(e, false)
				return
			}
		}
	}()
	return order
}

// decodeLines decodes one batch; first is the line number of lines[0].
// With cut, the last line ends the input without a newline: one that does
// not decode is left out (cutLine) rather than an error.
func decodeLines(lines [][]byte, first int, cut bool) jsonlBatch {
	out := jsonlBatch{results: make([]fetch.Result, 0, len(lines))}
	for i, l := range lines {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		var res fetch.Result
		if err := json.Unmarshal(l, &res); err != nil {
			if cut && i == len(lines)-1 {
				out.cutLine = first + i
				return out
			}
			out.err = fmt.Errorf("results: line %d: %w", first+i, err)
			return out
		}
		res.Seq = uint64(first + i - 1)
		out.results = append(out.results, res)
	}
	return out
}
