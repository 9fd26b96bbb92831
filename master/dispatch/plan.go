package dispatch

import (
	"errors"
	"io"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/crawlmaster/crawlmaster/internal/wire"
	pb "github.com/crawlmaster/crawlmaster/proto/crawlmaster/v1"
)

// taskState is what the master heard of one task of a running batch.
type taskState uint8

const (
	taskWaiting   taskState = iota // nothing yet
	taskStarted                    // STARTED: its page request was about to be sent
	taskStored                     // its outcome went to the writer
	taskUnfetched                  // given back unfetched (UNFETCHED)
	taskLost                       // its result came but could not be handed to the writer
	taskDeferred                   // given back DEFERRED: its host was not ready; the feeder takes it back
)

// streamEnd is how a batch's Crawl stream ended.
type streamEnd uint8

const (
	endCompleted streamEnd = iota // status OK
	endBroken                     // a transport or server error: the assistant died, the network failed
	endShutdown                   // cancelled by us: the master is stopping
	endDown                       // cancelled by us: the assistant was marked down
	endRefused                    // turned down before anything was fetched (a Refusal)
)

// Errors that say why the master cancelled batches (the cause of the
// batch context), read back by classifyEnd.
var (
	errShutdown      = errors.New("dispatch: master shutting down")
	errAssistantDown = errors.New("dispatch: assistant marked down")
)

// classifyEnd says how a stream ended from the error that ended it (nil
// or io.EOF: completed) and the cause of the batch's context.
func classifyEnd(err, cause error) (streamEnd, pb.RefusalReason) {
	switch {
	case errors.Is(cause, errShutdown):
		return endShutdown, 0
	case errors.Is(cause, errAssistantDown):
		return endDown, 0
	case err == nil || errors.Is(err, io.EOF):
		return endCompleted, 0
	}
	if r, ok := wire.RefusalOf(err); ok {
		return endRefused, r
	}
	return endBroken, 0
}

// refusalRule is what the master does about one refusal reason: the
// mirror of the assistant's table (assistant/server.go).
type refusalRule struct {
	pause bool   // stop dispatching to the assistant until a poll is answered
	name  string // for logs
}

var refusalRules = map[pb.RefusalReason]refusalRule{
	// The next poll reports draining and moves the assistant's shards.
	pb.RefusalReason_REFUSAL_REASON_DRAINING: {pause: true, name: "draining"},
	// The slot stays unavailable until a poll reports it idle.
	pb.RefusalReason_REFUSAL_REASON_SLOT_BUSY: {name: "slot busy"},
	// The assistant came back with fewer slots: wait for its report.
	pb.RefusalReason_REFUSAL_REASON_NO_SUCH_SLOT: {pause: true, name: "no such slot"},
	// A bug in the master; the batch is released and logged.
	pb.RefusalReason_REFUSAL_REASON_BAD_BATCH: {name: "bad batch"},
}

// pauseAfter reports whether dispatch to the assistant should pause until
// a poll is answered after a batch ended this way: after a refusal that
// says so, or a stream that broke as if the assistant were unreachable.
func pauseAfter(end streamEnd, reason pb.RefusalReason, err error) bool {
	switch end {
	case endRefused:
		return refusalRules[reason].pause
	case endBroken:
		return status.Code(err) == codes.Unavailable
	}
	return false
}

// releaseGroup is a set of a batch's tasks (by index) released together.
type releaseGroup struct {
	tasks  []int
	charge bool   // the release costs each an attempt
	reason string // the released_urls_total reason label
}

// planRelease decides what becomes of the tasks of a batch whose stream
// ended: stored and deferred tasks need nothing here (the feeder takes a
// deferred one back into its ready queue); the others return to pending. An
// attempt is charged only for a page that was requested: the task in
// flight when the stream broke (the first one without a result, in batch
// order, since a slot fetches its batch one URL after another) is charged
// if its STARTED message came, so that a page that kills assistants
// cannot loop forever. Every other task returns uncharged: it was never
// requested, or the master itself ended the batch (shutdown), or the
// assistant turned it down.
func planRelease(end streamEnd, states []taskState) []releaseGroup {
	reason := map[streamEnd]string{
		endCompleted: "missing_result", endBroken: "stream_error", endShutdown: "shutdown",
		endDown: "assistant_down", endRefused: "refused",
	}[end]
	inFlight := -1
	if end == endCompleted || end == endBroken || end == endDown {
		for i, s := range states {
			if s == taskWaiting || s == taskStarted {
				if s == taskStarted {
					inFlight = i
				}
				break
			}
		}
	}
	var charged, unanswered, unfetched []int
	for i, s := range states {
		switch {
		case s == taskStored || s == taskDeferred: // a deferred task keeps its lease (feeder.takeBack)
		case s == taskUnfetched:
			unfetched = append(unfetched, i)
		case i == inFlight:
			charged = append(charged, i)
		default:
			unanswered = append(unanswered, i)
		}
	}
	var plan []releaseGroup
	if len(charged) > 0 {
		plan = append(plan, releaseGroup{tasks: charged, charge: true, reason: reason})
	}
	if len(unanswered) > 0 {
		plan = append(plan, releaseGroup{tasks: unanswered, reason: reason})
	}
	if len(unfetched) > 0 {
		plan = append(plan, releaseGroup{tasks: unfetched, reason: "unfetched"})
	}
	return plan
}
