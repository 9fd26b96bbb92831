package dispatch

import (
	"reflect"
	"testing"
	"time"
)

func TestSlotTableStartEnd(t *testing.T) {
	cases := []struct {
		name       string
		prep       func(*slotTable)
		want       []string
		wantLast   []string
		wantFreed  []time.Time
		wantCounts [3]int // busy, free, idle
	}{
		{
			name:       "fresh",
			want:       []string{"avail", "avail"},
			wantLast:   []string{"", ""},
			wantFreed:  []time.Time{{}, {}},
			wantCounts: [3]int{0, 2, 2},
		},
		{
			name:       "started",
			prep:       func(st *slotTable) { st.start(1, "b1") },
			want:       []string{"avail", "run:b1"},
			wantLast:   []string{"", ""},
			wantFreed:  []time.Time{{}, {}},
			wantCounts: [3]int{1, 1, 1},
		},
		{
			name: "clean end leaves the slot idle",
			prep: func(st *slotTable) {
				st.start(1, "b1")
				st.end(1, slotTestAt(7), true)
			},
			want:       []string{"avail", "avail"},
			wantLast:   []string{"", "b1"},
			wantFreed:  []time.Time{{}, slotTestAt(7)},
			wantCounts: [3]int{0, 2, 2},
		},
		{
			name: "failed end leaves the slot unavailable",
			prep: func(st *slotTable) {
				st.start(1, "b1")
				st.end(1, slotTestAt(7), false)
			},
			want:       []string{"avail", "unavail"},
			wantLast:   []string{"", "b1"},
			wantFreed:  []time.Time{{}, slotTestAt(7)},
			wantCounts: [3]int{0, 2, 1},
		},
		{
			name: "clean end after a failed one makes the slot available again",
			prep: func(st *slotTable) {
				st.start(1, "b1")
				st.end(1, slotTestAt(7), false)
				st.start(1, "b2")
				st.end(1, slotTestAt(9), true)
			},
			want:       []string{"avail", "avail"},
			wantLast:   []string{"", "b2"},
			wantFreed:  []time.Time{{}, slotTestAt(9)},
			wantCounts: [3]int{0, 2, 2},
		},
		{
			name: "failed end after a clean one makes the slot unavailable",
			prep: func(st *slotTable) {
				st.start(0, "b1")
				st.end(0, slotTestAt(7), true)
				st.start(0, "b2")
				st.end(0, slotTestAt(9), false)
			},
			want:       []string{"unavail", "avail"},
			wantLast:   []string{"b2", ""},
			wantFreed:  []time.Time{slotTestAt(9), {}},
			wantCounts: [3]int{0, 2, 1},
		},
		{
			name: "end of a slot beyond the table (assistant came back smaller) is ignored",
			prep: func(st *slotTable) {
				st.start(1, "b1")
				st.end(2, slotTestAt(7), false)
				st.end(5, slotTestAt(7), true)
			},
			want:       []string{"avail", "run:b1"},
			wantLast:   []string{"", ""},
			wantFreed:  []time.Time{{}, {}},
			wantCounts: [3]int{1, 1, 1},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := slotTestTable(2)
			if c.prep != nil {
				c.prep(st)
			}
			if got := slotTestStates(st); !reflect.DeepEqual(got, c.want) {
				t.Errorf("slots = %v, want %v", got, c.want)
			}
			for i := range st.len() {
				if got := st.s[i].last; got != c.wantLast[i] {
					t.Errorf("slot %d: last = %q, want %q", i, got, c.wantLast[i])
				}
				if got := st.freedAt(i); !got.Equal(c.wantFreed[i]) {
					t.Errorf("slot %d: freedAt = %v, want %v", i, got, c.wantFreed[i])
				}
			}
			busy, free, idle := st.counts()
			if got := [3]int{busy, free, idle}; got != c.wantCounts {
				t.Errorf("counts (busy, free, idle) = %v, want %v", got, c.wantCounts)
			}
		})
	}
}

func TestSlotTableUnknown(t *testing.T) {
	cases := []struct {
		name  string
		prep  func(*slotTable)
		after slotReport // a poll answered after unknown
		want  []string   // right after unknown
		then  []string   // after the poll
	}{
		{
			name:  "free slots become unavailable until reported idle",
			after: slotTestReport(5, 3, []int{0, 2}, nil),
			want:  []string{"unavail", "unavail", "unavail"},
			then:  []string{"avail", "unavail", "avail"},
		},
		{
			name:  "our running batch stays running",
			prep:  func(st *slotTable) { st.start(1, "b1") },
			after: slotTestReport(5, 3, []int{0, 1, 2}, nil),
			want:  []string{"unavail", "run:b1", "unavail"},
			then:  []string{"avail", "run:b1", "avail"},
		},
		{
			name: "slot of a batch that ended cleanly before is unavailable too",
			prep: func(st *slotTable) {
				st.start(1, "b1")
				st.end(1, slotTestAt(2), true)
			},
			after: slotTestReport(5, 3, []int{0}, map[int]string{1: "b1"}),
			want:  []string{"unavail", "unavail", "unavail"},
			then:  []string{"avail", "unavail", "unavail"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := slotTestTable(3)
			if c.prep != nil {
				c.prep(st)
			}
			st.unknown()
			if got := slotTestStates(st); !reflect.DeepEqual(got, c.want) {
				t.Errorf("after unknown: slots = %v, want %v", got, c.want)
			}
			if n := st.reconcile(c.after); n != 0 {
				t.Errorf("foreign = %d, want 0", n)
			}
			if got := slotTestStates(st); !reflect.DeepEqual(got, c.then) {
				t.Errorf("after the poll: slots = %v, want %v", got, c.then)
			}
		})
	}
}

func TestSlotTableNext(t *testing.T) {
	// Slots: 0 runs b0, 1 available, 2 unavailable (failed end),
	// 3 available, 4 runs b4.
	st := slotTestTable(5)
	st.start(0, "b0")
	st.start(2, "b2")
	st.end(2, slotTestAt(2), false)
	st.start(4, "b4")
	cases := []struct {
		name string
		from int
		want int
	}{
		{"from a running slot skips it", 0, 1},
		{"from an available slot returns it", 1, 1},
		{"from an unavailable slot skips it", 2, 3},
		{"last available slot", 3, 3},
		{"only a running slot left", 4, -1},
		{"past the end", 5, -1},
	}
	for _, c := range cases {
		if got := st.next(c.from); got != c.want {
			t.Errorf("%s: next(%d) = %d, want %d", c.name, c.from, got, c.want)
		}
	}
	var empty slotTable
	if got := empty.next(0); got != -1 {
		t.Errorf("empty table: next(0) = %d, want -1", got)
	}
}

func TestSlotTableCounts(t *testing.T) {
	cases := []struct {
		name                       string
		slots                      int
		prep                       func(*slotTable)
		wantBusy, wantFree, wantID int
	}{
		{name: "no slots", slots: 0},
		{name: "all idle", slots: 3, wantFree: 3, wantID: 3},
		{
			name:     "all running",
			slots:    2,
			prep:     func(st *slotTable) { st.start(0, "a"); st.start(1, "b") },
			wantBusy: 2,
		},
		{
			name:  "running, idle, unavailable after a failed end, foreign",
			slots: 4,
			prep: func(st *slotTable) {
				st.start(0, "a")
				st.start(2, "c")
				st.end(2, slotTestAt(2), false)
				st.reconcile(slotTestReport(5, 4, []int{1}, map[int]string{3: "other"}))
			},
			wantBusy: 1, wantFree: 3, wantID: 1,
		},
		{
			name:  "unknown counts free slots as not idle",
			slots: 3,
			prep: func(st *slotTable) {
				st.start(0, "a")
				st.unknown()
			},
			wantBusy: 1, wantFree: 2, wantID: 0,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := slotTestTable(c.slots)
			if c.prep != nil {
				c.prep(st)
			}
			busy, free, idle := st.counts()
			if busy != c.wantBusy || free != c.wantFree || idle != c.wantID {
				t.Errorf("counts = (busy %d, free %d, idle %d), want (%d, %d, %d)",
					busy, free, idle, c.wantBusy, c.wantFree, c.wantID)
			}
		})
	}
}
