package master

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/crawlmaster/crawlmaster/master/frontier"
	"github.com/crawlmaster/crawlmaster/master/store"
)

// Report is what `master status` shows.
type Report struct {
	Stats      store.Stats
	LastMinute int64 // results persisted in the last minute
	Master     *store.MasterStatus
	Masters    []store.MasterBeat // every running master, leader first
	Now        time.Time
	Crawls     []crawlProgress
}

// ReadReport gathers a status report from the database.
func ReadReport(ctx context.Context, st *store.Store) (Report, error) {
	r := Report{Now: time.Now()}
	var err error
	if r.Stats, err = st.Stats(ctx); err != nil {
		return r, err
	}
	if r.LastMinute, err = st.RecentResults(ctx, r.Now.Add(-time.Minute)); err != nil {
		return r, err
	}
	if r.Crawls, err = readProgress(ctx, st); err != nil {
		return r, err
	}
	if r.Masters, err = st.Masters(ctx); err != nil {
		return r, err
	}
	ms, err := st.ReadStatus(ctx)
	switch {
	case errors.Is(err, store.ErrNoStatus):
	case err != nil:
		return r, err
	default:
		r.Master = &ms
	}
	return r, nil
}

// PagesPerSec is the rate over the last minute.
func (r Report) PagesPerSec() float64 { return float64(r.LastMinute) / 60 }

// ETA estimates the time to finish the frontier at the last minute's rate.
func (r Report) ETA() string {
	left := r.Stats.Total() - r.Stats.Final()
	switch {
	case left == 0:
		return "done"
	case r.LastMinute == 0:
		return "unknown"
	}
	return time.Duration(float64(left) / r.PagesPerSec() * float64(time.Second)).Round(time.Second).String()
}

// Write prints the report as tables a person can read.
func (r Report) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "state\turls\t")
	for _, s := range frontier.AllStates {
		fmt.Fprintf(tw, "%s\t%d\t\n", s, r.Stats.Counts[s])
	}
	fmt.Fprintf(tw, "total\t%d\t\n", r.Stats.Total())
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nfinal %d of %d (%.1f%%), %.1f pages/s over the last minute, ETA %s\n",
		r.Stats.Final(), r.Stats.Total(), pct(r.Stats.Final(), r.Stats.Total()), r.PagesPerSec(), r.ETA())
	shown := 0
	for _, c := range r.Crawls {
		if c.counts.Total("") == 0 && !c.crawl.Discovers() {
			continue // an empty default crawl says nothing
		}
		shown++
		fmt.Fprintln(w)
		if err := c.write(w); err != nil {
			return err
		}
	}
	if shown > 1 {
		fmt.Fprintln(w, "\ncrawls share the assistants by URL priority: each claim takes the due URLs of every unpaused crawl, lowest priority first;\n"+
			"\"in flight\" and pages/s above are each crawl's share now")
	}
	if err := r.writeMasters(w); err != nil {
		return err
	}
	if r.Master == nil {
		return nil
	}
	m := r.Master
	fmt.Fprintf(w, "\nassistants, as leader %s saw them %s ago:\n\n", m.MasterID, r.Now.Sub(m.UpdatedAt).Round(time.Second))
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "assistant\tup\tslots\tbusy\tin-flight\tdispatched\tnote")
	for _, a := range m.Assistants {
		note := a.LastError
		if a.Draining {
			note = "draining"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\n", a.ID, yesNo(a.Up), a.Slots, a.Busy, a.InFlight, a.Dispatched, note)
	}
	return tw.Flush()
}

// staleBeat is the heartbeat age past which a master is shown as not
// running: several missed beats (a leader beats every progress interval,
// a standby every standbyBeat).
const staleBeat = time.Minute

// writeMasters lists every master with its role and heartbeat age. A
// master that stopped cleanly removed its row; one whose heartbeat is old
// died or lost the database.
func (r Report) writeMasters(w io.Writer) error {
	if len(r.Masters) == 0 {
		_, err := fmt.Fprintln(w, "\nmasters: none running")
		return err
	}
	fmt.Fprintln(w, "\nmasters:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "id\trole\tstarted\theartbeat\tnote")
	for _, b := range r.Masters {
		age := r.Now.Sub(b.UpdatedAt).Round(time.Second)
		note := ""
		if age > staleBeat {
			note = "NOT RUNNING (no heartbeat)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s ago\t%s\n", b.ID, b.Role, b.StartedAt.Local().Format(time.DateTime), age, note)
	}
	return tw.Flush()
}

func pct(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// WaitDone prints a progress line every interval until the frontier is
// non-empty and every URL in it is final, or ctx is done.
func WaitDone(ctx context.Context, st *store.Store, interval time.Duration, w io.Writer) error {
	for {
		r, err := ReadReport(ctx, st)
		if err != nil {
			return err
		}
		total, final := r.Stats.Total(), r.Stats.Final()
		fmt.Fprintf(w, "%s  final %d/%d  pending %d  leased %d  %.0f pages/s  ETA %s\n",
			r.Now.Format(time.TimeOnly), final, total, r.Stats.Counts[frontier.StatePending],
			r.Stats.Counts[frontier.StateLeased], r.PagesPerSec(), r.ETA())
		if total > 0 && final == total {
			return nil
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// WriteClasses prints final outcomes by state and error class.
func WriteClasses(ctx context.Context, st *store.Store, w io.Writer) error {
	rows, err := st.Outcomes(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w)
	fmt.Fprintln(tw, "state\tclass\turls")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%d\n", r.State, r.Class, r.Count)
	}
	return tw.Flush()
}
