// Package input reads targets as a stream and normalises them into
// fetch.Target values: one target per line, blank lines and '#' comments
// skipped, http and https URLs normalised, bare hosts turned into https URLs,
// everything else reported as an invalid target rather than an error. It
// knows nothing of fetching.
//
// NewReader reads Sources (a file, stdin, or Args for a list in memory) and
// numbers the targets in input order (fetch.Target.Seq); a Reader is an
// engine.Source, so it can be handed straight to engine.Engine.Start. Parse
// normalises a single line.
package input

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	"github.com/dchest/siphash"

	"github.com/fanout/fanout/fetch"
)

// bareSalt separates the dedupe key of a bare target from that of the same
// URL written with its scheme: "example.com" may fall back to http, so it is
// not a duplicate of "https://example.com".
const bareSalt = 0x9e3779b97f4a7c15

// TargetKey returns what the Reader's dedupe tells targets apart by, for a
// line as a Reader yields it (a Target's Input): its normalised URL,
// behind "bare " for a bare host, which is not a duplicate of the URL
// written with its scheme (see bareSalt). Two lines are one target to
// dedupe exactly when their keys are equal; the key is the same whatever
// URL a run ended up fetching (a bare host's http fallback). ok is false
// for a line that is not a valid target, which dedupe never drops.
func TargetKey(line string) (key string, ok bool) {
	t := Parse(line)
	switch {
	case t.Invalid != "":
		return "", false
	case t.Bare:
		return "bare " + t.URL, true
	}
	return t.URL, true
}

// Source is one named stream of target lines (a file, stdin, or the
// command-line arguments). Name appears in read errors.
type Source struct {
	// Name says where the lines come from, a file name or "stdin", in
	// errors: "read NAME: line N: ...".
	Name string
	// R is read to its end (or its first error), one target per line.
	// It must not be nil. The Reader does not close it.
	R io.Reader
}

// Args returns a Source over literal targets given as arguments, one target
// per argument (an argument holding a newline counts as two lines, and one
// starting with '#' is a comment, as in a file).
func Args(targets []string) Source {
	return Source{Name: "arguments", R: strings.NewReader(strings.Join(targets, "\n"))}
}

// Targets returns one target per element of urls, Seq its index, for a
// list in memory whose results a caller maps back to its elements: unlike
// a Reader over Args, which reads the elements as lines of a file (a blank
// one or a '#' comment yields nothing, an element holding a newline is
// two), every element gets a target, and so a result. Input is the
// element as given; it is parsed with surrounding white space trimmed,
// and a blank element is invalid. Nothing is deduplicated.
func Targets(urls []string) []fetch.Target {
	ts := make([]fetch.Target, len(urls))
	for i, u := range urls {
		if line := strings.TrimSpace(u); line == "" {
			ts[i] = fetch.Target{Invalid: reasonBlank}
		} else {
			ts[i] = Parse(line)
		}
		ts[i].Seq, ts[i].Input = uint64(i), u
	}
	return ts
}

// Options tune a Reader.
type Options struct {
	// Dedupe skips a target whose normalised URL (and bareness) was already
	// yielded. Invalid lines are never deduplicated.
	Dedupe bool
	// DedupeKey keys the hash that dedupe keeps of each URL (SipHash). A
	// zero key takes a random one: with a hash anyone can compute, a line
	// could be crafted to hash as a chosen URL, and one line added to a
	// list others contribute to hid that target's result as a duplicate.
	// Reading the same input again to number its targets the same (a
	// resume, a re-submit) takes the first reading's key, DedupeKey.
	DedupeKey [16]byte
}

// Reader yields targets lazily, one line at a time, from its sources in
// order. Memory does not grow with the input, except for the dedupe set
// (about 10 bytes per distinct target). A target's Input and URL share one
// allocation and its HostKey has its own, so a HostKey kept as a map key
// holds nothing else. It is not safe for concurrent use.
type Reader struct {
	srcs    []Source
	cur     int  // index of the source being read
	open    bool // lines reads srcs[cur]
	lines   lineSplitter
	seq     uint64
	dups    uint64
	set     *HashSet // nil without Dedupe
	key     [16]byte // the dedupe hash's key
	k0, k1  uint64   // key, as SipHash takes it
	buf     []byte   // scratch: Input, then URL, then HostKey
	lastKey string   // consecutive targets often share a host: reuse its key
	err     error    // sticky: io.EOF or a read error
	atSrc   int      // where the last target yielded came from: srcs index,
	atLine  int      // and line, 0 before the first target
}

// NewReader returns a Reader over srcs, read one after the other. It
// panics if a Source's R is nil.
func NewReader(opts Options, srcs ...Source) *Reader {
	for i, s := range srcs {
		if s.R == nil {
			// Here, at the mistake: else Next panics on a nil reader
			// when it reaches that source, often in an engine's reading
			// goroutine, where it became the run's error "the source
			// panicked: nil pointer dereference".
			panic(fmt.Sprintf("input: NewReader: source %d (%q) has a nil R", i, s.Name))
		}
	}
	r := &Reader{srcs: srcs}
	if opts.Dedupe {
		r.set = NewHashSet()
		r.key = opts.DedupeKey
		if r.key == ([16]byte{}) {
			rand.Read(r.key[:])
		}
		r.k0, r.k1 = binary.LittleEndian.Uint64(r.key[:8]), binary.LittleEndian.Uint64(r.key[8:])
	}
	return r
}

// DedupeKey returns the key of the dedupe hash (zero without Dedupe): the
// Options.DedupeKey that numbers the same input the same way again.
func (r *Reader) DedupeKey() [16]byte { return r.key }

// Next returns the next target (valid or invalid), io.EOF at the end, or a
// read error naming the source. After an error, Next keeps returning it.
func (r *Reader) Next() (fetch.Target, error) {
	for r.err == nil {
		if !r.open {
			if r.cur >= len(r.srcs) {
				r.err = io.EOF
				break
			}
			r.lines.reset(r.srcs[r.cur].R)
			r.open = true
		}
		line, long, err := r.lines.next()
		if err == io.EOF {
			r.open = false
			r.cur++
			continue
		}
		if err != nil {
			r.err = fmt.Errorf("read %s: line %d: %w", r.srcs[r.cur].Name, r.lines.lineNo, err)
			break
		}
		t, ok := r.target(line, long)
		if !ok {
			r.dups++
			continue
		}
		t.Seq = r.seq
		r.seq++
		r.atSrc, r.atLine = r.cur, r.lines.lineNo
		return t, nil
	}
	return fetch.Target{}, r.err
}

// target normalises one line; ok is false for a duplicate. Input and URL
// share one allocation, the HostKey has its own so that keeping it (as a map
// key, say) does not keep the line alive.
func (r *Reader) target(line []byte, long bool) (t fetch.Target, ok bool) {
	if long {
		return fetch.Target{Input: string(line), Invalid: reasonTooLong}, true
	}
	buf, p := normalize(append(r.buf[:0], line...), line)
	r.buf = buf
	if p.invalid != "" {
		return fetch.Target{Input: string(line), Invalid: p.invalid}, true
	}
	in := len(line)
	urlEnd := in + p.urlLen
	if r.set != nil {
		h := siphash.Hash(r.k0, r.k1, buf[in:urlEnd])
		if p.bare {
			h ^= bareSalt
		}
		if !r.set.Add(h) {
			return t, false
		}
	}
	s := string(buf[:urlEnd])
	if key := buf[urlEnd:]; string(key) != r.lastKey {
		r.lastKey = string(key)
	}
	return fetch.Target{Input: s[:in], URL: s[in:], Bare: p.bare, HostKey: r.lastKey}, true
}

// Position returns where the last target Next yielded came from: the
// index of its source among those given to NewReader, and its line there
// (1-based, blank and comment lines counted). line is 0 before the first
// target.
func (r *Reader) Position() (src, line int) {
	return r.atSrc, r.atLine
}

// Duplicates returns the number of lines skipped as duplicates so far.
func (r *Reader) Duplicates() uint64 { return r.dups }

// Lines returns the number of targets yielded so far, which is also the Seq
// of the next one.
func (r *Reader) Lines() uint64 { return r.seq }

// Count counts target lines (non-blank, non-comment) in r, for progress
// totals when the input is a regular file. It counts what a Reader without
// Dedupe would yield, over-long lines included.
func Count(r io.Reader) (int64, error) {
	var ls lineSplitter
	ls.reset(r)
	var n int64
	for {
		_, _, err := ls.next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("count targets: line %d: %w", ls.lineNo, err)
		}
		n++
	}
}
