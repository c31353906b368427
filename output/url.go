package output

import (
	"io"

	"github.com/fanout/fanout/fetch"
)

// urlEncoder writes one line per result: the target's URL and nothing
// else, no header, so that the list feeds the next tool as it is (with
// --accepted, the live URLs).
//
// It is the URL as fetched (the url field), not final_url: the next
// tool (nuclei, as httpx's users pipe it) requests what it is given and
// follows redirects itself, and a result should name its own target, not
// where the target sent it: two targets redirecting to one login page
// would give that page twice and lose both targets. A bare host's URL is
// the form that answered (https, or http after a fallback). An invalid
// target has no URL: its input is written instead, so that the output
// still has a line per result.
type urlEncoder struct {
	lb lineBuf
}

func newURLEncoder(w io.Writer) *urlEncoder {
	return &urlEncoder{lb: newLineBuf(w)}
}

// Encode writes r's URL as one line.
func (e *urlEncoder) Encode(r *fetch.Result) error {
	u := r.URL
	if u == "" {
		u = r.Input
	}
	// Escaped as the text format does: a control character in an input
	// would otherwise end the line early or reach the terminal.
	e.lb.buf = append(AppendEscape(e.lb.buf, u), '\n')
	return e.lb.commit()
}

// Flush writes buffered lines.
func (e *urlEncoder) Flush() error { return e.lb.Flush() }
