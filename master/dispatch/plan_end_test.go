package dispatch

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/crawlmaster/crawlmaster/proto/crawlmaster/v1"
)

func TestClassifyEnd(t *testing.T) {
	refused := func(code codes.Code, msg string, r pb.RefusalReason) error {
		st, err := status.New(code, msg).WithDetails(&pb.Refusal{Reason: r})
		if err != nil {
			t.Fatalf("WithDetails: %v", err)
		}
		return st.Err()
	}
	errPlain := errors.New("read tcp: connection reset by peer")
	cases := []struct {
		name       string
		err, cause error
		wantEnd    streamEnd
		wantReason pb.RefusalReason
	}{
		{name: "nil", wantEnd: endCompleted},
		{name: "io.EOF", err: io.EOF, wantEnd: endCompleted},
		{name: "wrapped io.EOF", err: fmt.Errorf("recv: %w", io.EOF), wantEnd: endCompleted},
		{name: "plain error", err: errPlain, wantEnd: endBroken},
		{name: "status error without detail", err: status.Error(codes.Internal, "boom"), wantEnd: endBroken},
		{
			name:    "UNAVAILABLE without detail is not a refusal, whatever its message",
			err:     status.Error(codes.Unavailable, "assistant draining; refusing batch"),
			wantEnd: endBroken,
		},
		{
			name:    "Refusal with an unspecified reason is not a refusal",
			err:     refused(codes.Unavailable, "draining", pb.RefusalReason_REFUSAL_REASON_UNSPECIFIED),
			wantEnd: endBroken,
		},
		{
			name:       "draining refusal",
			err:        refused(codes.Unavailable, "assistant draining", pb.RefusalReason_REFUSAL_REASON_DRAINING),
			wantEnd:    endRefused,
			wantReason: pb.RefusalReason_REFUSAL_REASON_DRAINING,
		},
		{
			name:       "draining refusal whose message says nothing of draining",
			err:        refused(codes.Unavailable, "see you", pb.RefusalReason_REFUSAL_REASON_DRAINING),
			wantEnd:    endRefused,
			wantReason: pb.RefusalReason_REFUSAL_REASON_DRAINING,
		},
		{
			name:       "slot busy refusal",
			err:        refused(codes.FailedPrecondition, "slot 3 busy", pb.RefusalReason_REFUSAL_REASON_SLOT_BUSY),
			wantEnd:    endRefused,
			wantReason: pb.RefusalReason_REFUSAL_REASON_SLOT_BUSY,
		},
		{
			name:       "no such slot refusal",
			err:        refused(codes.NotFound, "no slot 9", pb.RefusalReason_REFUSAL_REASON_NO_SUCH_SLOT),
			wantEnd:    endRefused,
			wantReason: pb.RefusalReason_REFUSAL_REASON_NO_SUCH_SLOT,
		},
		{
			name:       "bad batch refusal",
			err:        refused(codes.InvalidArgument, "empty batch", pb.RefusalReason_REFUSAL_REASON_BAD_BATCH),
			wantEnd:    endRefused,
			wantReason: pb.RefusalReason_REFUSAL_REASON_BAD_BATCH,
		},
		{
			name:       "refusal detail read whatever the code",
			err:        refused(codes.Unknown, "", pb.RefusalReason_REFUSAL_REASON_SLOT_BUSY),
			wantEnd:    endRefused,
			wantReason: pb.RefusalReason_REFUSAL_REASON_SLOT_BUSY,
		},
		{name: "shutdown, no error", cause: errShutdown, wantEnd: endShutdown},
		{name: "shutdown over a cancelled stream", err: status.Error(codes.Canceled, "context canceled"), cause: errShutdown, wantEnd: endShutdown},
		{name: "shutdown over io.EOF", err: io.EOF, cause: errShutdown, wantEnd: endShutdown},
		{name: "shutdown over a plain error", err: errPlain, cause: errShutdown, wantEnd: endShutdown},
		{
			name:    "shutdown over a refusal",
			err:     refused(codes.Unavailable, "x", pb.RefusalReason_REFUSAL_REASON_DRAINING),
			cause:   errShutdown,
			wantEnd: endShutdown,
		},
		{name: "shutdown, wrapped cause", err: errPlain, cause: fmt.Errorf("stop: %w", errShutdown), wantEnd: endShutdown},
		{name: "assistant down, no error", cause: errAssistantDown, wantEnd: endDown},
		{name: "assistant down over a cancelled stream", err: status.Error(codes.Canceled, "context canceled"), cause: errAssistantDown, wantEnd: endDown},
		{name: "assistant down over a plain error", err: errPlain, cause: errAssistantDown, wantEnd: endDown},
		{
			name:    "assistant down over a refusal",
			err:     refused(codes.FailedPrecondition, "x", pb.RefusalReason_REFUSAL_REASON_SLOT_BUSY),
			cause:   errAssistantDown,
			wantEnd: endDown,
		},
		{name: "another cause does not count", err: errPlain, cause: errors.New("something else"), wantEnd: endBroken},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			end, reason := classifyEnd(c.err, c.cause)
			if end != c.wantEnd || reason != c.wantReason {
				t.Errorf("classifyEnd(%v, %v) = (%s, %s), want (%s, %s)", c.err, c.cause,
					planTestEndNames[end], reason, planTestEndNames[c.wantEnd], c.wantReason)
			}
		})
	}
}

func TestPauseAfter(t *testing.T) {
	unavailable := status.Error(codes.Unavailable, "connection refused")
	cases := []struct {
		name   string
		end    streamEnd
		reason pb.RefusalReason
		err    error
		want   bool
	}{
		{name: "refused: draining", end: endRefused, reason: pb.RefusalReason_REFUSAL_REASON_DRAINING, err: unavailable, want: true},
		{name: "refused: slot busy", end: endRefused, reason: pb.RefusalReason_REFUSAL_REASON_SLOT_BUSY, err: status.Error(codes.FailedPrecondition, "")},
		{name: "refused: no such slot", end: endRefused, reason: pb.RefusalReason_REFUSAL_REASON_NO_SUCH_SLOT, err: status.Error(codes.NotFound, ""), want: true},
		{name: "refused: bad batch", end: endRefused, reason: pb.RefusalReason_REFUSAL_REASON_BAD_BATCH, err: status.Error(codes.InvalidArgument, "")},
		{name: "refused: slot busy, even with code UNAVAILABLE", end: endRefused, reason: pb.RefusalReason_REFUSAL_REASON_SLOT_BUSY, err: unavailable},
		{name: "refused: unknown reason", end: endRefused, reason: pb.RefusalReason(99), err: unavailable},
		{name: "broken: UNAVAILABLE", end: endBroken, err: unavailable, want: true},
		{name: "broken: wrapped UNAVAILABLE", end: endBroken, err: fmt.Errorf("crawl: %w", unavailable), want: true},
		{name: "broken: INTERNAL", end: endBroken, err: status.Error(codes.Internal, "")},
		{name: "broken: DEADLINE_EXCEEDED", end: endBroken, err: status.Error(codes.DeadlineExceeded, "")},
		{name: "broken: plain error", end: endBroken, err: errors.New("connection reset")},
		{name: "completed", end: endCompleted},
		{name: "completed with missing results", end: endCompleted, err: errMissingResults},
		{name: "shutdown, even with UNAVAILABLE", end: endShutdown, err: unavailable},
		{name: "assistant down, even with UNAVAILABLE", end: endDown, err: unavailable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := pauseAfter(c.end, c.reason, c.err); got != c.want {
				t.Errorf("pauseAfter(%s, %s, %v) = %v, want %v", planTestEndNames[c.end], c.reason, c.err, got, c.want)
			}
		})
	}
}

// A refusal reason added to the proto needs a rule here: without one the
// master would neither pause nor name it in its logs.
func TestRefusalRulesCoverEveryReason(t *testing.T) {
	for v, name := range pb.RefusalReason_name {
		r := pb.RefusalReason(v)
		if r == pb.RefusalReason_REFUSAL_REASON_UNSPECIFIED {
			if _, ok := refusalRules[r]; ok {
				t.Errorf("refusalRules has a rule for %s, which is never a refusal", name)
			}
			continue
		}
		rule, ok := refusalRules[r]
		if !ok {
			t.Errorf("refusalRules has no rule for %s", name)
			continue
		}
		if rule.name == "" {
			t.Errorf("refusalRules[%s] has no name for the logs", name)
		}
	}
	if len(refusalRules) != len(pb.RefusalReason_name)-1 {
		t.Errorf("refusalRules has %d rules, want %d (one per reason but UNSPECIFIED)", len(refusalRules), len(pb.RefusalReason_name)-1)
	}
}
