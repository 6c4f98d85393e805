package delivery_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/store"
	"github.com/hookd/hookd/store/sqlite"
)

// TestRequeuedAfterCancelWhileRunningRuns cancels a job while its
// attempt runs, lets the attempt finish, and requeues the job: it must
// run again. The queue used to keep the job's cancel mark after the
// attempt left, and dropped the requeued job unrun: it stayed pending in
// the store until a restart.
func TestRequeuedAfterCancelWhileRunningRuns(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	jobs := accept(t, st, "J")
	j := jobs["J"]
	act := &held{counter: counter{calls: map[string]int{}}, started: make(chan string, 1),
		hold: map[string]chan struct{}{"hookd:J": make(chan struct{})}}
	d := newDeliverer(st, act, 1, 10)
	d.Push(j)
	<-act.started
	// Cancelled through the admin API while its attempt runs.
	cancelJobs(t, st, d, j.ID)
	close(act.hold["hookd:J"])
	waitFor(t, 10*time.Second, func() bool { return act.count("hookd:J") == 1 && d.Depth() == 0 },
		func() string { return "the cancelled attempt did not finish" })
	delete(act.hold, "hookd:J")
	// Requeued: it runs again, once.
	if _, err := st.Requeue(ctx, []int64{j.ID}); err != nil {
		t.Fatal(err)
	}
	stop := run(t, d)
	waitFor(t, 15*time.Second, func() bool {
		got, err := st.Job(ctx, j.ID)
		return err == nil && got.State == store.StateDone && act.count("hookd:J") == 2
	}, func() string {
		got, _ := st.Job(ctx, j.ID)
		return fmt.Sprintf("the requeued job ran %d times, is %s in the store; want run once, done", act.count("hookd:J")-1, got.State)
	})
	stop()
}

// TestCancelWhileRefillReadsIsNotRun cancels a job while a refill reads
// it from the store as pending: the refill must not queue it. It used
// to, and the cancelled job ran; requeued then, it ran a second time.
func TestCancelWhileRefillReadsIsNotRun(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	job := accept(t, st, "X1", "X2", "J", "K")
	act := &held{counter: counter{calls: map[string]int{}}}
	read, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	paged := &pagedStore{Store: st, page: func(ctx context.Context, limit int) ([]store.Job, error) {
		jobs, err := st.PendingPage(ctx, limit)
		once.Do(func() {
			close(read)
			<-resume // the job is cancelled meanwhile
		})
		return jobs, err
	}}
	d := newDeliverer(paged, act, 1, 2)
	// X1 and X2 fill the queue; J and K wait in the store for a refill.
	d.Push(job["X1"], job["X2"], job["J"], job["K"])
	stop := run(t, d)
	<-read
	cancelJobs(t, st, d, job["J"].ID)
	close(resume)
	// K comes after J in the read: once K ran and nothing is queued, J
	// was either dropped or ran.
	waitFor(t, 10*time.Second, func() bool { return act.count("hookd:K") == 1 && d.Depth() == 0 },
		func() string { return "K did not run" })
	stop()
	if n := act.count("hookd:J"); n != 0 {
		t.Errorf("J, cancelled while the refill read it, ran %d times; want never", n)
	}
}

// TestCancelWhileRunningThenFailingIsNotRunAgain cancels a job while
// its attempt runs and fails: the job must not be attempted again.
func TestCancelWhileRunningThenFailingIsNotRunAgain(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	jobs := accept(t, st, "J", "K")
	j, k := jobs["J"], jobs["K"]
	act := &held{counter: counter{calls: map[string]int{}}, started: make(chan string, 1),
		hold: map[string]chan struct{}{"hookd:J": make(chan struct{})}, fail: map[string]bool{"hookd:J": true}}
	pol := engine.DefaultDelivery()
	pol.Backoff = engine.Backoff{Min: time.Millisecond, Max: time.Millisecond}
	d := delivery.New(delivery.Config{
		Store:     st,
		Policy:    func() delivery.Policy { return delivery.Policy{Delivery: pol, Action: act} },
		Workers:   1,
		MaxQueued: 10,
		Logger:    discardLogger(),
	})
	d.Push(j)
	<-act.started
	cancelJobs(t, st, d, j.ID)
	close(act.hold["hookd:J"])
	// J stays queued until its attempt is recorded, so once K ran and
	// nothing is queued, J was either dropped or attempted again.
	waitFor(t, 10*time.Second, func() bool { return act.count("hookd:J") >= 1 }, func() string { return "J did not run" })
	d.Push(k)
	waitFor(t, 10*time.Second, func() bool { return act.count("hookd:K") == 1 && d.Depth() == 0 },
		func() string { return "K did not run" })
	if n := act.count("hookd:J"); n != 1 {
		t.Errorf("J, cancelled while it ran, was attempted %d times; want once", n)
	}
}

// TestCancelWhileAddingIsNotRun cancels every pending job while an
// event's jobs are stored but not yet pushed (Adding): the push must
// not queue the cancelled job to run. It did: Cancel marks only queued
// jobs, and the job was queued after it.
func TestCancelWhileAddingIsNotRun(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	act := &held{counter: counter{calls: map[string]int{}}}
	d := newDeliverer(st, act, 1, 10)
	// An event's jobs are stored, as the intake stores them...
	d.Adding()
	jobs := accept(t, st, "J")
	j := jobs["J"]
	// ...when the admin API cancels every pending job.
	cancelled := make(chan struct{})
	go func() {
		defer close(cancelled)
		ids, err := st.Cancel(ctx, nil, "cancelled by the test")
		if err != nil {
			t.Error(err)
			return
		}
		d.Cancel(ids...)
	}()
	waitFor(t, 10*time.Second, func() bool {
		got, err := st.Job(ctx, j.ID)
		return err == nil && got.State == store.StateDead
	}, func() string { return "J was not cancelled in the store" })
	// Give Deliverer.Cancel the time to return if it does not wait for
	// the push (either way J must not run).
	select {
	case <-cancelled:
	case <-time.After(200 * time.Millisecond):
	}
	d.Push(j)
	d.Added()
	<-cancelled
	waitFor(t, 10*time.Second, func() bool { return d.Depth() == 0 }, func() string { return "J is still queued" })
	if n := act.count("hookd:J"); n != 0 {
		t.Errorf("J, cancelled before its push, ran %d times; want never", n)
	}
}

// requeuedStore lets a test act while the deliverer reads the requeued
// dead letters.
type requeuedStore struct {
	*sqlite.Store
	// before, when set, runs as each TakeRequeued begins; took, when
	// set, runs once it read jobs.
	before func()
	took   func(jobs []store.Job)
}

func (s *requeuedStore) TakeRequeued(ctx context.Context) ([]store.Job, error) {
	if s.before != nil {
		s.before()
	}
	jobs, err := s.Store.TakeRequeued(ctx)
	if len(jobs) > 0 && s.took != nil {
		s.took(jobs)
	}
	return jobs, err
}

// TestCancelledCopyDroppedWhileRequeuedReadRuns cancels a queued job,
// requeues it, and has the worker drop the job's cancelled copy while
// the read of the requeued dead letters holds it: the requeued job must
// run. The drop used to count as the job leaving the queue during that
// read, and the read left the job out: it stayed pending in the store,
// its requeue flag taken, until a restart.
func TestCancelledCopyDroppedWhileRequeuedReadRuns(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	jobs := accept(t, st, "B", "J")
	b, j := jobs["B"], jobs["J"]
	act := &held{counter: counter{calls: map[string]int{}}, started: make(chan string, 1),
		hold: map[string]chan struct{}{"hookd:B": make(chan struct{})}}
	var d *delivery.Deliverer
	var once sync.Once
	rs := &requeuedStore{Store: st, took: func([]store.Job) {
		once.Do(func() {
			// B finishes, and the one worker drops J's cancelled copy.
			close(act.hold["hookd:B"])
			deadline := time.Now().Add(10 * time.Second)
			for d.Depth() != 0 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond) // polling a condition with a deadline
			}
		})
	}}
	d = newDeliverer(rs, act, 1, 10)
	// B holds the lane's one worker; J waits behind it.
	d.Push(b, j)
	<-act.started
	cancelJobs(t, st, d, j.ID)
	if _, err := st.Requeue(ctx, []int64{j.ID}); err != nil {
		t.Fatal(err)
	}
	stop := run(t, d)
	waitFor(t, 15*time.Second, func() bool {
		got, err := st.Job(ctx, j.ID)
		return err == nil && got.State == store.StateDone && act.count("hookd:J") == 1
	}, func() string {
		got, _ := st.Job(ctx, j.ID)
		return fmt.Sprintf("the requeued job ran %d times, is %s in the store, %d queued; want run once, done", act.count("hookd:J"), got.State, d.Depth())
	})
	stop()
}

// TestCancelAndRequeueDuringRequeuedReadRuns cancels and requeues a job
// while the read of the requeued dead letters is under way and has not
// yet read: the read finds the job requeued, and the job must run. The
// cancel made the read leave the job out, as one it may have seen
// pending before the cancel, and with its requeue flag taken nothing
// queued it until a restart; now a refill reads it again.
func TestCancelAndRequeueDuringRequeuedReadRuns(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	jobs := accept(t, st, "J")
	j := jobs["J"]
	act := &held{counter: counter{calls: map[string]int{}}}
	var d *delivery.Deliverer
	var once sync.Once
	rs := &requeuedStore{Store: st}
	rs.before = func() {
		once.Do(func() {
			ids, err := st.Cancel(ctx, []int64{j.ID}, "cancelled by the test")
			if err != nil {
				t.Error(err)
				return
			}
			d.Cancel(ids...)
			if _, err := st.Requeue(ctx, []int64{j.ID}); err != nil {
				t.Error(err)
			}
		})
	}
	d = newDeliverer(rs, act, 1, 10)
	// J waits in the store only, as after a restart before Load.
	stop := run(t, d)
	waitFor(t, 15*time.Second, func() bool {
		got, err := st.Job(ctx, j.ID)
		return err == nil && got.State == store.StateDone && act.count("hookd:J") == 1
	}, func() string {
		got, _ := st.Job(ctx, j.ID)
		return fmt.Sprintf("the requeued job ran %d times, is %s in the store, %d queued; want run once, done", act.count("hookd:J"), got.State, d.Depth())
	})
	stop()
}
