package output

import (
	"io"
	"strconv"
	"strings"

	"github.com/fatih/color"

	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/internal/humantime"
)

// Widths of the text format's fixed columns, so that URLs line up.
const (
	textStatusWidth = 3 // "200", "ERR"
	textTimeWidth   = 6 // "1000ms", "59.9s", "2m05s"
	textSizeWidth   = 6 // "1000KB", "4.5MB"
)

// paint is the pair of SGR sequences that colour one status class; both are
// empty when colour is off.
type paint struct{ on, off string }

// Colour classes of the text format.
const (
	paintNone = iota
	paint2xx
	paint3xx
	paint4xx
	paintFail // 5xx and errors
	paintCount
)

// textEncoder writes one human line per result:
//
//	200   123ms   4.5KB  https://example.com/ → https://www.example.com/  "Example"
//	404    46ms    12KB  https://example.com/missing  rejected "Not Found"
//	ERR    1.2s       -  https://bad.example/  dns: no such host
//	200    24ms  1.0MB+  https://example.com/big.iso
//
// A failure shows its error kind and message instead of the title, or
// "rejected" when only its status is outside the accept rule. A size
// followed by "+" is a body cut at the limit (Truncated): it was longer.
type textEncoder struct {
	lb     lineBuf
	accept Accept
	paints [paintCount]paint
	num    []byte // scratch for numbers before padding
}

func newTextEncoder(w io.Writer, o EncoderOptions) *textEncoder {
	e := &textEncoder{lb: newLineBuf(w), accept: o.Accept, num: make([]byte, 0, 32)}
	attrs := [paintCount]color.Attribute{paint2xx: color.FgGreen, paint3xx: color.FgCyan,
		paint4xx: color.FgYellow, paintFail: color.FgRed}
	for i, a := range attrs {
		if i == paintNone || !o.Color {
			continue
		}
		c := color.New(a)
		// Force colour per encoder: the global color.NoColor looks at
		// stdout, which may not be where this encoder writes.
		c.EnableColor()
		// Split a painted marker once, so each line costs two appends
		// rather than a Sprint.
		on, off, _ := strings.Cut(c.Sprint("\x00"), "\x00")
		e.paints[i] = paint{on, off}
	}
	return e
}

// Encode writes one line for r.
func (e *textEncoder) Encode(r *fetch.Result) error {
	b := e.lb.buf
	p := e.paints[paintFor(r)]

	b = append(b, p.on...)
	if r.Status == 0 {
		b = append(b, "ERR"...)
	} else {
		e.num = strconv.AppendInt(e.num[:0], int64(r.Status), 10)
		b = appendPadLeft(b, e.num, textStatusWidth)
	}
	b = append(b, p.off...)

	b = append(b, ' ', ' ')
	if r.Status == 0 && r.Timing.Total == 0 {
		e.num = append(e.num[:0], '-')
	} else {
		e.num = humantime.AppendMillis(e.num[:0], r.Timing.Total)
	}
	b = appendPadLeft(b, e.num, textTimeWidth)

	b = append(b, ' ', ' ')
	if r.Status == 0 {
		e.num = append(e.num[:0], '-')
	} else {
		e.num = appendBytes(e.num[:0], r.Bytes)
		if r.Truncated {
			// Cut at --max-body: "1.0MB+", at least that much. It fits
			// the column (appendBytes gives at most 5 bytes, "999KB").
			e.num = append(e.num, '+')
		}
	}
	b = appendPadLeft(b, e.num, textSizeWidth)

	b = append(b, ' ', ' ')
	switch {
	case r.URL != "":
		b = AppendEscape(b, r.URL)
	case r.Input != "":
		b = AppendEscape(b, r.Input) // an invalid target has no URL
	default:
		b = append(b, '-')
	}
	if r.FinalURL != "" && r.FinalURL != r.URL {
		b = append(b, " → "...)
		b = AppendEscape(b, r.FinalURL)
	}
	if r.Location != "" { // a redirect not followed: where it points
		b = append(b, " ⇢ "...)
		b = AppendEscape(b, r.Location)
	}

	switch {
	case r.Error != nil:
		b = append(b, ' ', ' ')
		b = append(b, p.on...)
		b = AppendEscape(b, string(r.Error.Kind))
		b = append(b, p.off...)
		// A message that starts with its kind (Go's "tls: ..." errors, a
		// bare "canceled") does not repeat it after the kind.
		msg := r.Error.Message
		if rest, ok := strings.CutPrefix(msg, string(r.Error.Kind)); ok && (rest == "" || strings.HasPrefix(rest, ": ")) {
			msg = strings.TrimPrefix(rest, ": ")
		}
		if msg != "" {
			b = append(b, ':', ' ')
			b = AppendEscape(b, msg)
		}
	case !e.accept.Status(r.Status):
		// A status outside --accept is a failure without an error kind:
		// say so, or a custom rule would be invisible here.
		b = append(b, ' ', ' ')
		b = append(b, p.on...)
		b = append(b, "rejected"...)
		b = append(b, p.off...)
		if r.Title != "" {
			b = append(b, ' ', '"')
			b = AppendEscape(b, r.Title)
			b = append(b, '"')
		}
	case r.Title != "":
		b = append(b, ' ', ' ', '"')
		b = AppendEscape(b, r.Title)
		b = append(b, '"')
	}
	b = append(b, '\n')
	e.lb.buf = b
	return e.lb.commit()
}

// paintFor picks the colour class of r: errors and 5xx red, 4xx yellow, 3xx
// cyan, 2xx green.
func paintFor(r *fetch.Result) int {
	if r.Error != nil {
		return paintFail
	}
	switch r.Status / 100 {
	case 2:
		return paint2xx
	case 3:
		return paint3xx
	case 4:
		return paint4xx
	case 5:
		return paintFail
	}
	return paintNone
}

// Flush writes buffered lines.
func (e *textEncoder) Flush() error { return e.lb.Flush() }
