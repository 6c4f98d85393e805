package delivery

import (
	"container/heap"
	"context"
	"sync"
	"time"

	"github.com/hookd/hookd/actions/router"
	"github.com/hookd/hookd/store"
)

// queue holds the jobs waiting to run, in memory, one lane per
// integration so that a slow or failing one holds back only itself. The
// store is the durable record. The queue holds at most max jobs: beyond
// that they wait in the store only, and refill brings them in as the
// queue drains, so a long outage of a target costs disk, not memory.
type queue struct {
	mu      sync.Mutex
	lanes   map[string]*lane
	workers int
	run     func(ctx context.Context, j *store.Job)
	// stop ends the taking of jobs; runCtx is given to running jobs and
	// ends later, at the drain deadline.
	stop   context.Context
	runCtx context.Context
	wg     sync.WaitGroup
	queued map[int64]bool
	// max bounds len(queued); overflow says a job was left in the store.
	max      int
	overflow bool
	// reads are the reads of pending jobs from the store under way (a
	// refill, the requeued dead letters): each records the jobs that
	// leave the queue from its start until its jobs are queued, since it
	// may have seen them still pending and must not bring them back.
	reads map[*storeRead]struct{}
	// closed is set by wait: no worker starts after it (jobs pushed
	// later stay pending in the store).
	closed bool
	// cancelled are queued jobs the store no longer holds as pending
	// (Deliverer.Cancel): a worker drops them instead of running them.
	cancelled map[int64]bool
	// unpushed are jobs being cancelled (Deliverer.Cancel) that a push
	// does not queue: their caller stored them before the cancel.
	unpushed map[int64]int
}

func newQueue(stop, runCtx context.Context, workers, max int, run func(context.Context, *store.Job)) *queue {
	return &queue{lanes: map[string]*lane{}, workers: workers, run: run, stop: stop, runCtx: runCtx,
		queued: map[int64]bool{}, max: max}
}

// push adds jobs; a job already queued is not added twice, and a job
// that finds the queue full stays in the store for refill.
func (q *queue) push(jobs ...store.Job) {
	for i := range jobs {
		q.pushOne(jobs[i], nil)
	}
}

// storeRead is one read of pending jobs from the store; left holds the
// jobs that left the queue since it started, and cancelled those of
// them that Deliverer.Cancel put there.
type storeRead struct {
	left      map[int64]bool
	cancelled map[int64]bool
}

// startRead is called before reading pending jobs from the store: from
// then on, until endRead, the jobs that leave the queue are remembered.
func (q *queue) startRead() *storeRead {
	r := &storeRead{left: map[int64]bool{}}
	q.mu.Lock()
	if q.reads == nil {
		q.reads = map[*storeRead]struct{}{}
	}
	q.reads[r] = struct{}{}
	q.mu.Unlock()
	return r
}

// endRead adds the jobs that r read, but not those that left the queue
// since r started: the read may predate their last update. A job that
// leaves while endRead adds the others is remembered too (each is
// checked and added under the queue's lock).
func (q *queue) endRead(r *storeRead, jobs []store.Job) {
	for i := range jobs {
		q.pushOne(jobs[i], r)
	}
	q.mu.Lock()
	delete(q.reads, r)
	q.mu.Unlock()
}

// setOverflow records that the store may hold jobs the queue has not.
func (q *queue) setOverflow() {
	q.mu.Lock()
	q.overflow = true
	q.mu.Unlock()
}

// claimRefill reports whether jobs wait in the store only and the queue
// has room for them; when it does, it clears the overflow flag (a push
// that finds the queue full sets it again).
func (q *queue) claimRefill() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.overflow || len(q.queued) > q.max/2 {
		return false
	}
	q.overflow = false
	return true
}

// pushOne adds j, unless it is queued already, or (when from is a read
// of the store) it left the queue since that read started, or (a push)
// it is being cancelled.
func (q *queue) pushOne(j store.Job, from *storeRead) {
	name := router.Lane(j.Type)
	q.mu.Lock()
	if from != nil && from.left[j.ID] || from == nil && q.unpushed[j.ID] > 0 {
		if from != nil && from.cancelled[j.ID] {
			// The read may have found the job requeued after the cancel
			// (its requeue flag then taken): a refill, which reads after
			// the cancel, queues it if it is pending.
			q.overflow = true
		}
		q.mu.Unlock()
		return
	}
	if q.queued[j.ID] {
		// Requeued after a Cancel while its old copy still waits: the
		// copy runs.
		delete(q.cancelled, j.ID)
		q.mu.Unlock()
		return
	}
	if len(q.queued) >= q.max {
		q.overflow = true
		q.mu.Unlock()
		return
	}
	{
		q.queued[j.ID] = true
		l, ok := q.lanes[name]
		if !ok {
			l = &lane{wake: make(chan struct{}, 1)}
			q.lanes[name] = l
			for w := 0; w < q.workers && !q.closed; w++ {
				q.wg.Add(1)
				go func() {
					defer q.wg.Done()
					q.work(l)
				}()
			}
		}
		q.mu.Unlock()
		l.push(&j)
	}
}

// forget is called when a job leaves the queue: finished, or handed back
// to the store (its update is queued in the store before forget). A
// cancel mark goes with it: no copy of the job is left to drop, and a
// Requeue brings the job back to run.
func (q *queue) forget(id int64) {
	q.mu.Lock()
	q.leave(id)
	q.mu.Unlock()
}

// leave takes id out of the queue; q.mu is held.
func (q *queue) leave(id int64) {
	q.drop(id)
	for r := range q.reads {
		r.left[id] = true
	}
}

// drop takes a cancelled job out of the queue without telling the
// reads under way, as leave does; q.mu is held. Cancel told those that
// began before it; one that began after it and finds the job pending
// found it requeued since, and must queue it.
func (q *queue) drop(id int64) {
	delete(q.queued, id)
	delete(q.cancelled, id)
}

// again puts back a job whose attempt failed and that runs again at
// j.NextAt (its retry is queued in the store before). The job stays
// queued in between, so that a Cancel meanwhile marks it; a job
// cancelled while its attempt ran leaves the queue instead.
func (q *queue) again(j store.Job) {
	q.mu.Lock()
	if !q.queued[j.ID] {
		q.mu.Unlock()
		q.pushOne(j, nil)
		return
	}
	if q.cancelled[j.ID] {
		q.drop(j.ID)
		q.mu.Unlock()
		return
	}
	l := q.lanes[router.Lane(j.Type)]
	q.mu.Unlock()
	l.push(&j)
}

// depth counts the jobs waiting in every lane.
func (q *queue) depth() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.queued)
}

// wait blocks until every worker has returned (after ctx is done); no
// worker starts once it is called.
func (q *queue) wait() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.wg.Wait()
}

func (q *queue) work(l *lane) {
	for {
		j, ok := l.next(q.stop)
		if !ok {
			return
		}
		if q.dropCancelled(j.ID) {
			continue
		}
		q.run(q.runCtx, j)
	}
}

// lane is a heap of jobs ordered by when they may run next.
type lane struct {
	mu   sync.Mutex
	jobs jobHeap
	wake chan struct{}
}

func (l *lane) push(j *store.Job) {
	l.mu.Lock()
	heap.Push(&l.jobs, j)
	l.mu.Unlock()
	l.signal()
}

func (l *lane) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// next waits for a job that is due, or for ctx to end.
func (l *lane) next(ctx context.Context) (*store.Job, bool) {
	for {
		if ctx.Err() != nil {
			return nil, false
		}
		l.mu.Lock()
		var wait time.Duration = -1
		if len(l.jobs) > 0 {
			top := l.jobs[0]
			if d := time.Until(top.NextAt); d > 0 {
				wait = d
			} else {
				j := heap.Pop(&l.jobs).(*store.Job)
				more := len(l.jobs) > 0
				l.mu.Unlock()
				if more {
					l.signal() // let another worker look at the rest
				}
				return j, true
			}
		}
		l.mu.Unlock()
		var timer *time.Timer
		var due <-chan time.Time
		if wait >= 0 {
			timer = time.NewTimer(wait)
			due = timer.C
		}
		select {
		case <-ctx.Done():
		case <-l.wake:
		case <-due:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

type jobHeap []*store.Job

func (h jobHeap) Len() int { return len(h) }
func (h jobHeap) Less(i, j int) bool {
	if !h[i].NextAt.Equal(h[j].NextAt) {
		return h[i].NextAt.Before(h[j].NextAt)
	}
	return h[i].ID < h[j].ID
}
func (h jobHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *jobHeap) Push(x any)   { *h = append(*h, x.(*store.Job)) }
func (h *jobHeap) Pop() any {
	old := *h
	j := old[len(old)-1]
	*h = old[:len(old)-1]
	return j
}
