package fetch

import (
	"bufio"
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
)

func TestBrotliWindowBits(t *testing.T) {
	t.Parallel()
	for _, lgwin := range []int{10, 15, 16, 17, 18, 22, 24} {
		var buf bytes.Buffer
		w := brotli.NewWriterOptions(&buf, brotli.WriterOptions{Quality: 5, LGWin: lgwin})
		w.Write([]byte(strings.Repeat("fanout ", 1000)))
		w.Close()
		got, ok := brotliWindowBits(bufio.NewReader(&buf))
		if !ok || got != lgwin {
			t.Errorf("lgwin %d: window bits = %d, %v", lgwin, got, ok)
		}
	}
}

// A large-window brotli body claims decoder memory while it is read and
// gives it all back; a body whose attempt has ended cannot wait for it.
func TestBrotliLargeWindowUsesTheBudget(t *testing.T) {
	var buf bytes.Buffer
	w := brotli.NewWriterOptions(&buf, brotli.WriterOptions{Quality: 5, LGWin: 24})
	w.Write(bytes.Repeat([]byte("x"), 4<<20))
	w.Close()
	body := buf.Bytes()

	info, err := readBody(context.Background(), bytes.NewReader(body), []string{"br"}, 1<<20, 0, nil, nil)
	if err != nil || !info.truncated || info.n != 1<<20 {
		t.Fatalf("read: n=%d truncated=%v err=%v", info.n, info.truncated, err)
	}
	if !decoderMemory.TryAcquire(decoderBudget) {
		t.Fatal("the decoder budget was not given back")
	}
	defer decoderMemory.Release(decoderBudget)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := readBody(ctx, bytes.NewReader(body), []string{"br"}, 1<<20, 0, nil, nil); err == nil {
		t.Error("with the budget spent and the attempt over, reading should fail")
	}
}
