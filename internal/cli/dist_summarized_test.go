package cli

import (
	"maps"
	"testing"
	"time"

	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/output"
)

// TestSummarizedCountsSkippedLikeDecoded: collect -f jsonl counts the
// results it writes through (of which it decodes only the summary's
// fields) as a decoded collect, and the main command, count them: a
// redirect into a skipped host, not followed, is counted under that
// host, not under the host that redirected (found in review: collect
// -f jsonl named the redirecting host, -f text the skipped one).
func TestSummarizedCountsSkippedLikeDecoded(t *testing.T) {
	t.Parallel()
	skip := func(msg string) *fetch.Error { return &fetch.Error{Kind: fetch.KindSkipped, Message: msg} }
	results := []*fetch.Result{
		{Seq: 0, Input: "http://dead/0", URL: "http://dead/0", Error: skip("not fetched: ...")},
		{Seq: 1, Input: "http://web/1", URL: "http://web/1", FinalURL: "http://web/1", Status: 302,
			Redirects: []fetch.Hop{{URL: "http://web/1", Status: 302}}, Location: "http://dead/1",
			Error: skip("redirect to http://dead/1 not followed: its host dead:80 is being skipped")},
		{Seq: 2, Input: "http://web/2", URL: "http://web/2", Status: 404},
	}
	decoded, raw := output.NewSummary(output.DefaultAccept()), output.NewSummary(output.DefaultAccept())
	for _, r := range results {
		r.StartedAt, r.Attempts = time.Now(), 1
		decoded.Add(r)
		// What collect's pass-through path has of r: dist's resultLine
		// summary fields, and the record line.
		line := output.AppendJSONL(nil, r)
		s := &fetch.Result{Seq: r.Seq, Status: r.Status, Bytes: r.Bytes, Timing: fetch.Timing{Total: r.Timing.Total},
			Attempts: r.Attempts, StartedAt: r.StartedAt}
		if r.Error != nil {
			s.Error = &fetch.Error{Kind: r.Error.Kind}
		}
		raw.Add(summarized(s, line, raw))
	}
	want, got := decoded.JSON(time.Second), raw.JSON(time.Second)
	if !maps.Equal(got.SkippedHosts, want.SkippedHosts) || want.SkippedHosts["dead:80"] != 2 {
		t.Errorf("skipped hosts written through %v, decoded %v; want dead:80 2 in both", got.SkippedHosts, want.SkippedHosts)
	}
	if len(got.FailedTargets) != 1 || got.FailedTargets[0].Input != "http://web/2" {
		t.Errorf("failed targets written through %+v, want http://web/2's", got.FailedTargets)
	}
}
