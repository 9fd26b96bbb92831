package dispatch

import "time"

// slot is the master's view of one worker slot of an assistant.
type slot struct {
	batch      string    // our batch running on it; "" when none
	last       string    // our last batch on it, once it ended
	remoteBusy bool      // busy on the assistant, not with a batch running for us
	freedAt    time.Time // when our last batch on it ended
}

// slotTable is the master's view of one assistant's slots: which run our
// batches, and which the assistant still holds for something else. It
// does no I/O and reads no clock; callers pass the times.
type slotTable struct {
	s []slot
}

// slotReport is what one answered poll said about the slots.
type slotReport struct {
	sentAt time.Time      // when the poll was sent
	total  int            // total_slots
	idle   map[int]bool   // idle_slots
	busy   map[int]string // busy: slot -> batch id
}

// reconcile folds a poll's answer into the table and returns how many
// slots run a batch this master never sent (a previous master's). Our own
// running batches are left alone whatever the report says (it may predate
// them, or their stream's end may not be handled yet), and so is a slot
// whose batch ended after the poll was sent: the report is older than
// what we know, whether it says idle or busy. Otherwise a slot is
// available when reported idle and unavailable when not; a slot busy with
// our last batch is that batch winding down after we cancelled it.
func (t *slotTable) reconcile(r slotReport) (foreign int) {
	if r.total != len(t.s) {
		s := make([]slot, r.total)
		copy(s, t.s)
		t.s = s
	}
	for i := range t.s {
		s := &t.s[i]
		switch {
		case s.batch != "":
		case !s.freedAt.Before(r.sentAt):
		case r.idle[i]:
			s.remoteBusy = false
		default:
			s.remoteBusy = true
			if b, ok := r.busy[i]; ok && b != s.last {
				foreign++
			}
		}
	}
	return foreign
}

// start records our batch b running on slot i.
func (t *slotTable) start(i int, b string) { t.s[i].batch = b }

// end records the end of our batch on slot i at now. After a clean end
// the slot is idle; after a failed one its state on the assistant is
// unknown until a poll reports it.
func (t *slotTable) end(i int, now time.Time, clean bool) {
	if i >= len(t.s) {
		return // the assistant came back with fewer slots
	}
	s := &t.s[i]
	s.last, s.batch = s.batch, ""
	s.remoteBusy = !clean
	s.freedAt = now
}

// unknown forgets what the assistant holds (it was marked down): every
// slot not running our batch is unavailable until a poll reports it idle.
func (t *slotTable) unknown() {
	for i := range t.s {
		t.s[i].remoteBusy = true
	}
}

// next returns the first slot at or after i that can take a batch now:
// no batch of ours and not busy on the assistant; -1 when none.
func (t *slotTable) next(i int) int {
	for ; i < len(t.s); i++ {
		if t.s[i].batch == "" && !t.s[i].remoteBusy {
			return i
		}
	}
	return -1
}

// counts returns the slots running our batches, the slots free of them,
// and the slots that could take a batch now.
func (t *slotTable) counts() (busy, free, idle int) {
	for _, s := range t.s {
		switch {
		case s.batch != "":
			busy++
		case s.remoteBusy:
			free++
		default:
			free++
			idle++
		}
	}
	return busy, free, idle
}

// freedAt returns when our last batch on slot i ended (zero: never).
func (t *slotTable) freedAt(i int) time.Time { return t.s[i].freedAt }

// len returns the number of slots.
func (t *slotTable) len() int { return len(t.s) }
