package dispatch

import (
	"fmt"
	"testing"

	"github.com/crawlmaster/crawlmaster/master/store"
)

func TestOwnerTableSpreadsShardsEvenly(t *testing.T) {
	live := []string{"10.0.0.3:50052", "10.0.0.4:50052", "10.0.0.5:50052"}
	owned := map[string]int{}
	for s, id := range ownerTable(live) {
		if id == "" {
			t.Fatalf("shard %d has no owner", s)
		}
		owned[id]++
	}
	// Rendezvous hashing spreads shards evenly: each of 3 gets about a third.
	for id, n := range owned {
		if n < store.NumShards/3-80 || n > store.NumShards/3+80 {
			t.Errorf("%s owns %d shards, want about %d", id, n, store.NumShards/3)
		}
	}
	if len(owned) != len(live) {
		t.Fatalf("%d of %d assistants own shards", len(owned), len(live))
	}
	for s, id := range ownerTable(nil) {
		if id != "" {
			t.Fatalf("shard %d owned by %q with no live assistants", s, id)
		}
	}
}

// When an assistant leaves, only its shards move; when it returns, exactly
// those move back.
func TestRendezvousMovesOnlyTheLeaversShards(t *testing.T) {
	all := []string{"a:1", "b:1", "c:1", "d:1"}
	before := map[int16]string{}
	for s := int16(0); s < store.NumShards; s++ {
		before[s] = ownerOfShard(s, all)
	}
	without := []string{"a:1", "b:1", "d:1"}
	moved := 0
	for s := int16(0); s < store.NumShards; s++ {
		after := ownerOfShard(s, without)
		if before[s] != "c:1" && after != before[s] {
			t.Fatalf("shard %d moved from %s to %s although its owner stayed", s, before[s], after)
		}
		if before[s] == "c:1" {
			moved++
			if after == "c:1" {
				t.Fatalf("shard %d still owned by the departed c:1", s)
			}
		}
		if back := ownerOfShard(s, all); back != before[s] {
			t.Fatalf("shard %d: %s after c:1 returned, want %s", s, back, before[s])
		}
	}
	if moved == 0 {
		t.Fatal("c:1 owned no shards")
	}
}

func TestOwnerTableIgnoresLiveOrder(t *testing.T) {
	if *ownerTable([]string{"x:1", "y:1"}) != *ownerTable([]string{"y:1", "x:1"}) {
		t.Fatal("shard owners depend on the order of the live list")
	}
}

func TestFormBatches(t *testing.T) {
	var seq int
	newID := func() string { seq++; return fmt.Sprint(seq) }
	task := func(tok int64, dom string) store.Task { return store.Task{Token: tok, Domain: dom, URLID: tok} }
	tasks := []store.Task{
		task(1, "a"), task(2, "b"), task(3, "a"), task(4, "c"), task(5, "a"), task(6, "a"), task(7, "d"), task(8, "e"),
	}
	batches, extra := formBatches(tasks, 3, 3, newID)
	// Domain a has 4 URLs but a batch holds 3: one is returned as extra.
	if len(extra) != 1 || extra[0] != 6 {
		t.Fatalf("extra = %v, want [6]", extra)
	}
	where := map[string]string{}
	n := 0
	for _, b := range batches {
		if len(b.tasks) == 0 || len(b.tasks) > 3 {
			t.Fatalf("batch %s has %d tasks", b.id, len(b.tasks))
		}
		for _, tk := range b.tasks {
			n++
			if prev, ok := where[tk.Domain]; ok && prev != b.id {
				t.Fatalf("domain %s split across batches %s and %s", tk.Domain, prev, b.id)
			}
			where[tk.Domain] = b.id
		}
	}
	if n+len(extra) != len(tasks) {
		t.Fatalf("%d tasks batched + %d extra, want %d", n, len(extra), len(tasks))
	}
}

// A small claim spread over many free slots becomes one-URL batches, but a
// domain's URLs still stay together.
func TestFormBatchesSmallTarget(t *testing.T) {
	n := 0
	newID := func() string { n++; return fmt.Sprint(n) }
	tasks := []store.Task{{Token: 1, Domain: "a"}, {Token: 2, Domain: "b"}, {Token: 3, Domain: "a"}, {Token: 4, Domain: "c"}}
	batches, extra := formBatches(tasks, 1, 16, newID)
	if len(extra) != 0 || len(batches) != 3 {
		t.Fatalf("got %d batches, extra %v; want 3 batches (a,a | b | c)", len(batches), extra)
	}
	if len(batches[0].tasks) != 2 || batches[0].tasks[1].Token != 3 {
		t.Fatalf("first batch %v, want both URLs of domain a", batches[0].tasks)
	}
}
