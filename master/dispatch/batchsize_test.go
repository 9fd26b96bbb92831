package dispatch

import (
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"
)

func sizedAssistant(batchSize int, batchDuration time.Duration, slots, busy int) *assistant {
	d := &Dispatcher{cfg: Config{BatchSize: batchSize, BatchDuration: batchDuration}}
	a := &assistant{d: d, slots: make([]slotState, slots)}
	for i := range busy {
		a.slots[i].busy = true
	}
	return a
}

// TestBatchTargetFollowsURLTime checks batches shrink when an assistant's
// URLs are slow and grow back to batch_size when they are fast again.
func TestBatchTargetFollowsURLTime(t *testing.T) {
	a := sizedAssistant(16, time.Second, 10, 10) // every slot busy: no spreading
	if got := a.batchTarget(1000); got != 16 {
		t.Fatalf("before any batch: target %d, want batch_size 16", got)
	}
	a.observeURLTime(8*time.Second, 16) // 0.5 s per URL
	if got := a.batchTarget(1000); got != 2 {
		t.Fatalf("at 0.5 s per URL: target %d, want 2 (1 s batches)", got)
	}
	a.observeURLTime(10*time.Second, 2) // one very slow batch (a timeout)
	if got := a.batchTarget(1000); got != 1 {
		t.Fatalf("after a 5 s-per-URL batch: target %d, want 1", got)
	}
	for range 200 {
		a.observeURLTime(160*time.Millisecond, 16) // 10 ms per URL
	}
	if got := a.batchTarget(1000); got != 16 {
		t.Fatalf("after fast batches: target %d, want 16 (capped at batch_size)", got)
	}
}

func TestBatchTargetDisabled(t *testing.T) {
	a := sizedAssistant(16, 0, 10, 10)
	a.observeURLTime(16*time.Second, 16)
	if got := a.batchTarget(1000); got != 16 {
		t.Fatalf("batch_duration 0: target %d, want 16", got)
	}
}

// TestBatchTargetSpreadsScarceWork checks a small claim is spread over the
// free slots, whatever the URL time.
func TestBatchTargetSpreadsScarceWork(t *testing.T) {
	a := sizedAssistant(16, time.Second, 10, 6) // 4 free slots
	if got := a.batchTarget(8); got != 2 {
		t.Fatalf("8 URLs over 4 free slots: target %d, want 2", got)
	}
	a.observeURLTime(16*time.Millisecond, 16)
	if got := a.batchTarget(4); got != 1 {
		t.Fatalf("4 URLs over 4 free slots: target %d, want 1", got)
	}
}

func TestObserveURLTimeIgnoresEmptyBatches(t *testing.T) {
	a := sizedAssistant(16, time.Second, 1, 1)
	a.observeURLTime(time.Second, 0)
	a.observeURLTime(0, 5)
	if a.urlSeconds != 0 {
		t.Fatalf("urlSeconds = %v after empty observations, want 0", a.urlSeconds)
	}
}

// TestClaimSize checks that a claim idle slots wait on is small, and that
// other claims top the ready queue up in one go, up to the cap.
func TestClaimSize(t *testing.T) {
	a := sizedAssistant(16, time.Second, 100, 0) // all idle, nothing ready
	if got := a.claimSize(2400); got != firstClaim {
		t.Fatalf("idle slots, nothing ready: claim %d, want %d", got, firstClaim)
	}
	if got := a.claimSize(100); got != 100 {
		t.Fatalf("idle slots, 100 wanted: claim %d, want 100", got)
	}
	a.readyURLs = 300 // work is ready: the slots do not wait on the claim
	if got := a.claimSize(2400); got != 2400 {
		t.Fatalf("work ready: claim %d, want 2400", got)
	}
	c := sizedAssistant(16, time.Second, 1000, 0) // many idle slots: two URLs each
	if got := c.claimSize(24000); got != 2000 {
		t.Fatalf("1000 idle slots: claim %d, want 2000", got)
	}
	b := sizedAssistant(16, time.Second, 100, 100) // every slot busy
	if got := b.claimSize(9000); got != maxClaim {
		t.Fatalf("slots busy: claim %d, want the cap %d", got, maxClaim)
	}
}

// TestMarkDownForgetsURLTime checks that an assistant given up on starts
// with full batches when it returns, not with its old URL time.
func TestMarkDownForgetsURLTime(t *testing.T) {
	d, err := New(Config{BatchSize: 16, BatchDuration: time.Second, PollInterval: time.Second, PollTimeout: time.Second, DownAfter: 3, Lease: time.Minute},
		[]Target{{ID: "127.0.0.1:1", Addr: "127.0.0.1:1"}}, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	a := d.assistants[0]
	a.slots = make([]slotState, 4)
	for i := range a.slots {
		a.slots[i].busy = true
	}
	a.runCancel = func(error) {}
	a.observeURLTime(8*time.Second, 2) // 4 s per URL: batches of 1
	if got := a.batchTarget(100); got != 1 {
		t.Fatalf("at 4 s per URL: target %d, want 1", got)
	}
	a.markDown(errors.New("test: no answer"))
	if got := a.batchTarget(100); got != 16 {
		t.Fatalf("after markDown: target %d, want batch_size 16", got)
	}
}
