package dispatch

import (
	"reflect"
	"testing"
	"time"
)

var slotTestEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// slotTestAt returns the test clock sec seconds after slotTestEpoch.
func slotTestAt(sec int) time.Time { return slotTestEpoch.Add(time.Duration(sec) * time.Second) }

// slotTestReport builds the answer to a poll sent at sent.
func slotTestReport(sent, total int, idle []int, busy map[int]string) slotReport {
	r := slotReport{sentAt: slotTestAt(sent), total: total, idle: map[int]bool{}, busy: map[int]string{}}
	for _, i := range idle {
		r.idle[i] = true
	}
	for i, b := range busy {
		r.busy[i] = b
	}
	return r
}

// slotTestTable returns a table of n slots all reported idle by a poll sent
// at second 0.
func slotTestTable(n int) *slotTable {
	idle := make([]int, n)
	for i := range idle {
		idle[i] = i
	}
	var t slotTable
	t.reconcile(slotTestReport(0, n, idle, nil))
	return &t
}

// slotTestStates describes each slot: "run:<batch>" while our batch runs on
// it, "avail" when it can take a batch now, "unavail" otherwise.
func slotTestStates(t *slotTable) []string {
	out := make([]string, t.len())
	for i := range out {
		switch {
		case t.s[i].batch != "":
			out[i] = "run:" + t.s[i].batch
		case t.next(i) == i:
			out[i] = "avail"
		default:
			out[i] = "unavail"
		}
	}
	return out
}

func TestSlotTableReconcile(t *testing.T) {
	cases := []struct {
		name        string
		slots       int
		prep        func(*slotTable)
		report      slotReport
		wantForeign int
		want        []string
	}{
		{
			name:   "our running batch left alone when reported idle",
			slots:  2,
			prep:   func(st *slotTable) { st.start(0, "b1") },
			report: slotTestReport(5, 2, []int{0, 1}, nil),
			want:   []string{"run:b1", "avail"},
		},
		{
			name:   "our running batch left alone when reported busy with another batch",
			slots:  2,
			prep:   func(st *slotTable) { st.start(0, "b1") },
			report: slotTestReport(5, 2, []int{1}, map[int]string{0: "other"}),
			want:   []string{"run:b1", "avail"},
		},
		{
			name:   "our running batch left alone when reported neither idle nor busy",
			slots:  2,
			prep:   func(st *slotTable) { st.start(0, "b1") },
			report: slotTestReport(5, 2, nil, nil),
			want:   []string{"run:b1", "unavail"},
		},
		{
			name:   "free slot reported idle is available",
			slots:  2,
			report: slotTestReport(5, 2, []int{0, 1}, nil),
			want:   []string{"avail", "avail"},
		},
		{
			name:   "unavailable slot reported idle becomes available",
			slots:  2,
			prep:   func(st *slotTable) { st.unknown() },
			report: slotTestReport(5, 2, []int{1}, nil),
			want:   []string{"unavail", "avail"},
		},
		{
			name:        "busy with a batch we never sent is foreign and unavailable",
			slots:       2,
			report:      slotTestReport(5, 2, []int{1}, map[int]string{0: "previous-master"}),
			wantForeign: 1,
			want:        []string{"unavail", "avail"},
		},
		{
			name:  "each slot busy with a foreign batch counts",
			slots: 3,
			prep: func(st *slotTable) {
				st.start(0, "b1")
				st.end(0, slotTestAt(2), true)
			},
			report:      slotTestReport(5, 3, nil, map[int]string{0: "x", 1: "y", 2: "z"}),
			wantForeign: 3,
			want:        []string{"unavail", "unavail", "unavail"},
		},
		{
			name:  "busy with our last batch after a failed end is unavailable, not foreign",
			slots: 2,
			prep: func(st *slotTable) {
				st.start(0, "b1")
				st.end(0, slotTestAt(2), false)
			},
			report: slotTestReport(5, 2, []int{1}, map[int]string{0: "b1"}),
			want:   []string{"unavail", "avail"},
		},
		{
			name:  "busy with our last batch after a clean end is unavailable, not foreign",
			slots: 2,
			prep: func(st *slotTable) {
				st.start(0, "b1")
				st.end(0, slotTestAt(2), true)
			},
			report: slotTestReport(5, 2, []int{1}, map[int]string{0: "b1"}),
			want:   []string{"unavail", "avail"},
		},
		{
			name:  "report sent before our batch ended, saying busy with it, is ignored",
			slots: 2,
			prep: func(st *slotTable) {
				st.start(0, "b1")
				st.end(0, slotTestAt(5), true)
			},
			report: slotTestReport(3, 2, []int{1}, map[int]string{0: "b1"}),
			want:   []string{"avail", "avail"},
		},
		{
			name:  "report sent the instant our batch ended is ignored",
			slots: 1,
			prep: func(st *slotTable) {
				st.start(0, "b1")
				st.end(0, slotTestAt(5), true)
			},
			report: slotTestReport(5, 1, nil, map[int]string{0: "b1"}),
			want:   []string{"avail"},
		},
		{
			name:  "report sent before our batch ended, saying busy with a foreign batch, is ignored",
			slots: 1,
			prep: func(st *slotTable) {
				st.start(0, "b1")
				st.end(0, slotTestAt(5), true)
			},
			report: slotTestReport(3, 1, nil, map[int]string{0: "other"}),
			want:   []string{"avail"},
		},
		{
			name:  "report sent before our batch ended, saying neither idle nor busy, is ignored",
			slots: 1,
			prep: func(st *slotTable) {
				st.start(0, "b1")
				st.end(0, slotTestAt(5), true)
			},
			report: slotTestReport(3, 1, nil, nil),
			want:   []string{"avail"},
		},
		{
			// The poll may have been answered before the Crawl call
			// reached the slot: it says nothing of the slot after our
			// batch failed, which may still run on the assistant.
			name:  "report sent before a failed end, saying idle, is ignored",
			slots: 1,
			prep: func(st *slotTable) {
				st.start(0, "b1")
				st.end(0, slotTestAt(5), false)
			},
			report: slotTestReport(3, 1, []int{0}, nil),
			want:   []string{"unavail"},
		},
		{
			name:  "report sent after a failed end, saying idle, frees the slot",
			slots: 1,
			prep: func(st *slotTable) {
				st.start(0, "b1")
				st.end(0, slotTestAt(5), false)
			},
			report: slotTestReport(6, 1, []int{0}, nil),
			want:   []string{"avail"},
		},
		{
			name:   "slot neither idle nor busy (draining assistant) is unavailable",
			slots:  2,
			report: slotTestReport(5, 2, nil, nil),
			want:   []string{"unavail", "unavail"},
		},
		{
			name:  "resize up keeps existing entries",
			slots: 2,
			prep: func(st *slotTable) {
				st.start(0, "b1")
				st.start(1, "b2")
				st.end(1, slotTestAt(2), false)
			},
			report:      slotTestReport(5, 4, []int{2}, map[int]string{1: "b2", 3: "other"}),
			wantForeign: 1,
			want:        []string{"run:b1", "unavail", "avail", "unavail"},
		},
		{
			name:  "resize down keeps existing entries",
			slots: 3,
			prep: func(st *slotTable) {
				st.start(0, "b1")
				st.start(1, "b2")
				st.end(1, slotTestAt(5), true)
			},
			report: slotTestReport(3, 2, nil, map[int]string{0: "b1", 1: "b2"}),
			want:   []string{"run:b1", "avail"},
		},
		{
			name:  "resize down keeps our last batch",
			slots: 3,
			prep: func(st *slotTable) {
				st.start(0, "b1")
				st.end(0, slotTestAt(2), false)
			},
			report: slotTestReport(5, 1, nil, map[int]string{0: "b1"}),
			want:   []string{"unavail"},
		},
		{
			name:   "resize to zero slots",
			slots:  2,
			report: slotTestReport(5, 0, nil, nil),
			want:   []string{},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := slotTestTable(c.slots)
			if c.prep != nil {
				c.prep(st)
			}
			if got := st.reconcile(c.report); got != c.wantForeign {
				t.Errorf("foreign = %d, want %d", got, c.wantForeign)
			}
			if got := slotTestStates(st); !reflect.DeepEqual(got, c.want) {
				t.Errorf("slots = %v, want %v", got, c.want)
			}
		})
	}
}
