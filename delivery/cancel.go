package delivery

// Cancel tells the deliverer that jobs were cancelled in the store
// (Store.Cancel): those still waiting in memory are dropped instead of
// run. An attempt already running finishes; the store does not record
// its outcome, the job being no longer pending. A caller between Adding
// and Added may have stored one of the jobs before the cancel and not
// pushed it yet: Cancel waits for those callers, and their Push of a
// cancelled job queues nothing.
func (d *Deliverer) Cancel(ids ...int64) {
	if len(ids) == 0 {
		return
	}
	d.q.cancel(ids)
	d.waitForAdding()
	d.q.endCancel(ids)
}

// cancel marks queued jobs to be dropped, and has push skip the others
// until endCancel. A read of the store under way may have found them
// still pending: it does not queue them, and has a refill read them
// again, in case it found one requeued after the cancel.
func (q *queue) cancel(ids []int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.unpushed == nil {
		q.unpushed = map[int64]int{}
	}
	for _, id := range ids {
		for r := range q.reads {
			r.left[id] = true
			if r.cancelled == nil {
				r.cancelled = map[int64]bool{}
			}
			r.cancelled[id] = true
		}
		q.unpushed[id]++
		if !q.queued[id] {
			continue
		}
		if q.cancelled == nil {
			q.cancelled = map[int64]bool{}
		}
		q.cancelled[id] = true
	}
}

// endCancel ends what cancel began for the jobs that were not queued.
func (q *queue) endCancel(ids []int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, id := range ids {
		if q.unpushed[id]--; q.unpushed[id] <= 0 {
			delete(q.unpushed, id)
		}
	}
}

// dropCancelled reports whether the job was cancelled; if so it leaves
// the queue (see drop).
func (q *queue) dropCancelled(id int64) bool {
	q.mu.Lock()
	if !q.cancelled[id] {
		q.mu.Unlock()
		return false
	}
	q.drop(id)
	q.mu.Unlock()
	return true
}
