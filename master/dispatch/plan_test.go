package dispatch

import (
	"fmt"
	"slices"
	"testing"
)

var planTestEndNames = map[streamEnd]string{
	endCompleted: "completed", endBroken: "broken", endShutdown: "shutdown", endDown: "down", endRefused: "refused",
}

// planTestGroups renders release groups sorted, so that two plans compare
// equal whatever the order of their groups.
func planTestGroups(gs []releaseGroup) []string {
	out := []string{}
	for _, g := range gs {
		out = append(out, fmt.Sprintf("%v charge=%v reason=%s", g.tasks, g.charge, g.reason))
	}
	slices.Sort(out)
	return out
}

func TestPlanRelease(t *testing.T) {
	const (
		W = taskWaiting
		S = taskStarted
		D = taskStored
		U = taskUnfetched
		L = taskLost
		F = taskDeferred
	)
	ends := []streamEnd{endCompleted, endBroken, endShutdown, endDown, endRefused}
	reasons := map[streamEnd]string{
		endCompleted: "missing_result", endBroken: "stream_error", endShutdown: "shutdown",
		endDown: "assistant_down", endRefused: "refused",
	}
	g := func(charge bool, reason string, tasks ...int) releaseGroup {
		return releaseGroup{tasks: tasks, charge: charge, reason: reason}
	}
	// A group's reason left "" below is the end's own reason.
	cases := []struct {
		name   string
		states []taskState
		want   map[streamEnd][]releaseGroup
	}{
		{
			name:   "empty batch",
			states: nil,
			want:   map[streamEnd][]releaseGroup{},
		},
		{
			name:   "all stored",
			states: []taskState{D, D, D},
			want:   map[streamEnd][]releaseGroup{},
		},
		{
			name:   "stored, started, waiting: the started one is in flight",
			states: []taskState{D, S, W},
			want: map[streamEnd][]releaseGroup{
				endCompleted: {g(true, "", 1), g(false, "", 2)},
				endBroken:    {g(true, "", 1), g(false, "", 2)},
				endDown:      {g(true, "", 1), g(false, "", 2)},
				endShutdown:  {g(false, "", 1, 2)},
				endRefused:   {g(false, "", 1, 2)},
			},
		},
		{
			name:   "deferred tasks keep their leases: the feeder takes them back",
			states: []taskState{F, D, F},
			want:   map[streamEnd][]releaseGroup{},
		},
		{
			name:   "deferred, started, waiting: the started one is in flight, the deferred one needs nothing",
			states: []taskState{F, S, W},
			want: map[streamEnd][]releaseGroup{
				endCompleted: {g(true, "", 1), g(false, "", 2)},
				endBroken:    {g(true, "", 1), g(false, "", 2)},
				endDown:      {g(true, "", 1), g(false, "", 2)},
				endShutdown:  {g(false, "", 1, 2)},
				endRefused:   {g(false, "", 1, 2)},
			},
		},
		{
			name:   "started first task, the rest waiting",
			states: []taskState{S, W, W},
			want: map[streamEnd][]releaseGroup{
				endCompleted: {g(true, "", 0), g(false, "", 1, 2)},
				endBroken:    {g(true, "", 0), g(false, "", 1, 2)},
				endDown:      {g(true, "", 0), g(false, "", 1, 2)},
				endShutdown:  {g(false, "", 0, 1, 2)},
				endRefused:   {g(false, "", 0, 1, 2)},
			},
		},
		{
			name:   "stored, waiting, waiting: the in-flight one never sent STARTED",
			states: []taskState{D, W, W},
			want: map[streamEnd][]releaseGroup{
				endCompleted: {g(false, "", 1, 2)},
				endBroken:    {g(false, "", 1, 2)},
				endDown:      {g(false, "", 1, 2)},
				endShutdown:  {g(false, "", 1, 2)},
				endRefused:   {g(false, "", 1, 2)},
			},
		},
		{
			name:   "all waiting (refused, or broken before the first STARTED)",
			states: []taskState{W, W},
			want: map[streamEnd][]releaseGroup{
				endCompleted: {g(false, "", 0, 1)},
				endBroken:    {g(false, "", 0, 1)},
				endDown:      {g(false, "", 0, 1)},
				endShutdown:  {g(false, "", 0, 1)},
				endRefused:   {g(false, "", 0, 1)},
			},
		},
		{
			name:   "stored then unfetched: released uncharged as unfetched",
			states: []taskState{D, U, U},
			want: map[streamEnd][]releaseGroup{
				endCompleted: {g(false, "unfetched", 1, 2)},
				endBroken:    {g(false, "unfetched", 1, 2)},
				endDown:      {g(false, "unfetched", 1, 2)},
				endShutdown:  {g(false, "unfetched", 1, 2)},
				endRefused:   {g(false, "unfetched", 1, 2)},
			},
		},
		{
			name:   "unfetched then cut off before the next STARTED",
			states: []taskState{D, U, W},
			want: map[streamEnd][]releaseGroup{
				endCompleted: {g(false, "", 2), g(false, "unfetched", 1)},
				endBroken:    {g(false, "", 2), g(false, "unfetched", 1)},
				endDown:      {g(false, "", 2), g(false, "unfetched", 1)},
				endShutdown:  {g(false, "", 2), g(false, "unfetched", 1)},
				endRefused:   {g(false, "", 2), g(false, "unfetched", 1)},
			},
		},
		{
			name:   "lost (result came, not submitted) is uncharged, and so is the next",
			states: []taskState{D, L, W},
			want: map[streamEnd][]releaseGroup{
				endCompleted: {g(false, "", 1, 2)},
				endBroken:    {g(false, "", 1, 2)},
				endDown:      {g(false, "", 1, 2)},
				endShutdown:  {g(false, "", 1, 2)},
				endRefused:   {g(false, "", 1, 2)},
			},
		},
		{
			name:   "only a lost task",
			states: []taskState{L},
			want: map[streamEnd][]releaseGroup{
				endCompleted: {g(false, "", 0)},
				endBroken:    {g(false, "", 0)},
				endDown:      {g(false, "", 0)},
				endShutdown:  {g(false, "", 0)},
				endRefused:   {g(false, "", 0)},
			},
		},
	}
	for _, c := range cases {
		for _, end := range ends {
			t.Run(c.name+"/"+planTestEndNames[end], func(t *testing.T) {
				var want []releaseGroup
				for _, wg := range c.want[end] {
					if wg.reason == "" {
						wg.reason = reasons[end]
					}
					want = append(want, wg)
				}
				got := planRelease(end, c.states)
				if g, w := planTestGroups(got), planTestGroups(want); !slices.Equal(g, w) {
					t.Errorf("planRelease(%s, %v) = %q, want %q", planTestEndNames[end], c.states, g, w)
				}
				// Every task neither stored nor deferred is released exactly once.
				seen := map[int]int{}
				for _, grp := range got {
					for _, i := range grp.tasks {
						seen[i]++
					}
				}
				for i, s := range c.states {
					wantN := 1
					if s == taskStored || s == taskDeferred {
						wantN = 0
					}
					if seen[i] != wantN {
						t.Errorf("task %d (state %d) released %d times, want %d", i, s, seen[i], wantN)
					}
				}
			})
		}
	}
}
